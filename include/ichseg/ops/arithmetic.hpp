/// @file arithmetic.hpp
/// @brief Element-wise add and multiply of same-shape tensors, multiplication by a constant, and the sum and
/// mean of all elements. d(a+b) = (dy, dy); d(a*b) = (dy*b, dy*a); d(s*a) = s*dy; d mean = dy / n.
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
    detail::static_check_float<T>();
    detail::check_same_shape("add", "a", a.value(), "b", b.value());
#if ICHSEG_WITH_CUDA
    if (a.device().is_cuda()) return cuda::add(a, b);
#endif
    Tensor<T> ac = detail::cpu_input("add", a.value()), bc = detail::cpu_input("add", b.value());
    Tensor<T> y = Tensor<T>::empty(ac.shape());
    cpu::pointwise(y.numel(), [&](int64_t i) { y.data()[i] = ac.data()[i] + bc.data()[i]; });
    return record<T>("add", y, {&a, &b}, [](const Tensor<T>& gy) { return std::vector<Tensor<T>>{gy, gy}; });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
    detail::static_check_float<T>();
    detail::check_same_shape("mul", "a", a.value(), "b", b.value());
#if ICHSEG_WITH_CUDA
    if (a.device().is_cuda()) return cuda::mul(a, b);
#endif
    Tensor<T> ac = detail::cpu_input("mul", a.value()), bc = detail::cpu_input("mul", b.value());
    Tensor<T> y = Tensor<T>::empty(ac.shape());
    cpu::pointwise(y.numel(), [&](int64_t i) { y.data()[i] = ac.data()[i] * bc.data()[i]; });
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    return record<T>("mul", y, {&a, &b}, [ac, bc, ga, gb](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("mul_bwd", gy_in);
        std::vector<Tensor<T>> g(2);
        if (ga) {
            g[0] = Tensor<T>::empty(gy.shape());
            cpu::pointwise(gy.numel(), [&](int64_t i) { g[0].data()[i] = gy.data()[i] * bc.data()[i]; });
        }
        if (gb) {
            g[1] = Tensor<T>::empty(gy.shape());
            cpu::pointwise(gy.numel(), [&](int64_t i) { g[1].data()[i] = gy.data()[i] * ac.data()[i]; });
        }
        return g;
    });
}

template <class T>
Var<T> scale(const Var<T>& a, T s) {
    detail::static_check_float<T>();
#if ICHSEG_WITH_CUDA
    if (a.device().is_cuda()) return cuda::scale(a, s);
#endif
    Tensor<T> ac = detail::cpu_input("scale", a.value());
    Tensor<T> y = Tensor<T>::empty(ac.shape());
    cpu::pointwise(y.numel(), [&](int64_t i) { y.data()[i] = ac.data()[i] * s; });
    return record<T>("scale", y, {&a}, [s](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("scale_bwd", gy_in);
        Tensor<T> g = Tensor<T>::empty(gy.shape());
        cpu::pointwise(gy.numel(), [&](int64_t i) { g.data()[i] = gy.data()[i] * s; });
        return std::vector<Tensor<T>>{g};
    });
}

/// Sum of all elements, as a one-element tensor of shape [1] (accumulated in double).
template <class T>
Var<T> sum(const Var<T>& a) {
    detail::static_check_float<T>();
#if ICHSEG_WITH_CUDA
    if (a.device().is_cuda()) return cuda::sum(a);
#endif
    Tensor<T> ac = detail::cpu_input("sum", a.value());
    double s = 0;
    for (int64_t i = 0; i < ac.numel(); ++i) s += ac.data()[i];
    const Shape as = ac.shape();
    return record<T>("sum", Tensor<T>::full({1}, static_cast<T>(s)), {&a}, [as](const Tensor<T>& gy) {
        return std::vector<Tensor<T>>{Tensor<T>::full(as, gy.to_vector()[0])};
    });
}

template <class T>
Var<T> mean(const Var<T>& a) {
    ICHSEG_CHECK(a.numel() > 0, "mean: empty tensor ", to_string(a.shape()));
    return scale(sum(a), static_cast<T>(1.0 / static_cast<double>(a.numel())));
}

}  // namespace ichseg
