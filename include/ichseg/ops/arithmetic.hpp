/// @file arithmetic.hpp
/// @brief Element-wise add and multiply of same-shape tensors, multiplication by a constant, and the sum and
/// mean of all elements. d(a+b) = (dy, dy); d(a*b) = (dy*b, dy*a); d(s*a) = s*dy; d sum = dy broadcast;
/// d mean = dy / n broadcast.
///   add_fwd(a, b), mul_fwd(a, b), scale_fwd(a, s) -> same shape;  sum_fwd(a) -> shape [1];
///   sum_bwd(dy, shape) -> dy broadcast  (tensor-level, either device);  add/mul/scale/sum/mean(Var): tape nodes.
/// add_fwd and mul_fwd share ops/pointwise.hpp's dispatch. Kernels: cpu/pointwise.hpp, cuda/pointwise.hpp
/// (kernels/arithmetic.cu).
#pragma once

#include "ichseg/cpu/pointwise.hpp"
#include "ichseg/ops/common.hpp"
#include "ichseg/ops/pointwise.hpp"
#if ICHSEG_WITH_CUDA
#include "ichseg/cuda/pointwise.hpp"
#endif

namespace ichseg {

template <class T>
Tensor<T> add_fwd(const Tensor<T>& a, const Tensor<T>& b) {
    return detail::pointwise_map(PointwiseMap::add, a, b);
}

template <class T>
Tensor<T> mul_fwd(const Tensor<T>& a, const Tensor<T>& b) {
    return detail::pointwise_map(PointwiseMap::mul, a, b);
}

template <class T>
Tensor<T> scale_fwd(const Tensor<T>& a, T s) {
    detail::static_check_float<T>();
    const char* op = "scale";
    ICHSEG_CHECK(a.defined(), op, ": input is undefined");
    const PointwiseGeometry g{a.numel()};
    const Device dev = detail::op_device(op, {&a});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g))) return cuda::scale(a, s);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> ac = detail::cpu_input(op, a);
    Tensor<T> y = Tensor<T>::empty(ac.shape());
    cpu::scale(g.n, ac.data(), s, y.data());
    return y;
}

/// Sum of all elements, as a one-element tensor of shape [1] on a's device (accumulated in double).
template <class T>
Tensor<T> sum_fwd(const Tensor<T>& a) {
    detail::static_check_float<T>();
    const char* op = "sum";
    ICHSEG_CHECK(a.defined(), op, ": input is undefined");
    const PointwiseGeometry g{a.numel()};
    const Device dev = detail::op_device(op, {&a});
#if ICHSEG_WITH_CUDA
    if (dev.is_cuda() && detail::require_support<T>(op, dev, cuda::supports<T>(g)))
        return Tensor<T>::full({1}, static_cast<T>(cuda::sum(a)), dev);
#endif
    detail::require_support<T>(op, dev, cpu::supports<T>(g));
    const Tensor<T> ac = detail::cpu_input(op, a);
    return Tensor<T>::full({1}, static_cast<T>(cpu::sum(g.n, ac.data())));
}

/// dL/da of sum: the one-element dy broadcast to `shape`, on dy's device.
template <class T>
Tensor<T> sum_bwd(const Tensor<T>& dy, const Shape& shape) {
    ICHSEG_CHECK(dy.defined() && dy.numel() == 1, "sum_bwd: dy must have one element, got ", describe(dy));
    return Tensor<T>::full(shape, dy.to_vector()[0], dy.device());
}

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
    Tensor<T> y = add_fwd(a.value(), b.value());
    return record<T>("add", y, {&a, &b}, [](const Tensor<T>& gy) { return std::vector<Tensor<T>>{gy, gy}; });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
    Tensor<T> y = mul_fwd(a.value(), b.value());
    // Each input's gradient needs the other input: keep only what a needed gradient reads.
    const Tensor<T> as = b.requires_grad() ? a.value() : Tensor<T>(), bs = a.requires_grad() ? b.value() : Tensor<T>();
    return record<T>("mul", y, {&a, &b}, [as, bs](const Tensor<T>& gy) {
        std::vector<Tensor<T>> g(2);
        if (bs.defined()) g[0] = mul_fwd(gy, bs);
        if (as.defined()) g[1] = mul_fwd(gy, as);
        return g;
    });
}

template <class T>
Var<T> scale(const Var<T>& a, T s) {
    Tensor<T> y = scale_fwd(a.value(), s);
    return record<T>("scale", y, {&a}, [s](const Tensor<T>& gy) { return std::vector<Tensor<T>>{scale_fwd(gy, s)}; });
}

/// Sum of all elements, as a one-element tensor of shape [1] (accumulated in double).
template <class T>
Var<T> sum(const Var<T>& a) {
    const Shape as = a.shape();
    return record<T>("sum", sum_fwd(a.value()), {&a},
                     [as](const Tensor<T>& gy) { return std::vector<Tensor<T>>{sum_bwd(gy, as)}; });
}

template <class T>
Var<T> mean(const Var<T>& a) {
    ICHSEG_CHECK(a.numel() > 0, "mean: empty tensor ", to_string(a.shape()));
    return scale(sum(a), static_cast<T>(1.0 / static_cast<double>(a.numel())));
}

}  // namespace ichseg

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg {
ICHSEG_EXTERN_TEMPLATE template Tensor<float> add_fwd<float>(const Tensor<float>&, const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> mul_fwd<float>(const Tensor<float>&, const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> scale_fwd<float>(const Tensor<float>&, float);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> sum_fwd<float>(const Tensor<float>&);
ICHSEG_EXTERN_TEMPLATE template Tensor<float> sum_bwd<float>(const Tensor<float>&, const Shape&);
ICHSEG_EXTERN_TEMPLATE template Var<float> add<float>(const Var<float>&, const Var<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> mul<float>(const Var<float>&, const Var<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> scale<float>(const Var<float>&, float);
ICHSEG_EXTERN_TEMPLATE template Var<float> sum<float>(const Var<float>&);
ICHSEG_EXTERN_TEMPLATE template Var<float> mean<float>(const Var<float>&);
}  // namespace ichseg
#endif
