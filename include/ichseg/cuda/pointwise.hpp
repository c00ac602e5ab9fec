/// @file pointwise.hpp (cuda)
/// @brief Element-wise CUDA ops (relu, sigmoid, dropout, add, mul, scale, sum): launchers defined in
/// kernels/{relu,sigmoid,dropout,arithmetic}.cu and the tensor / differentiable entry points that
/// ops/{relu,sigmoid,dropout,arithmetic}.hpp dispatch to for CUDA tensors. Same formulas as cpu/pointwise.hpp;
/// dropout draws the same Philox mask as the CPU for the same (seed, stream).
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/accumulate.hpp"
#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
void relu_fwd(int64_t n, const float* x, float* y);
void relu_bwd(int64_t n, const float* dy, const float* y, float* dx);
void sigmoid_fwd(int64_t n, const float* x, float* y);
void sigmoid_bwd(int64_t n, const float* dy, const float* y, float* dx);
/// y = x * keep / (1 - p), keep = random_uniform(seed, stream, i) >= p (core/rng.hpp, bit-identical to the CPU).
void dropout_apply(int64_t n, const float* x, float* y, uint64_t seed, uint64_t stream, double p);
void add(int64_t n, const float* a, const float* b, float* y);
void mul(int64_t n, const float* a, const float* b, float* y);
/// Sum of all elements (block partials in double, added in order on the host).
double sum(int64_t n, const float* x);
}  // namespace launch

namespace detail {
template <class T, class F>
Tensor<T> unary(const char* op, const Tensor<T>& x_in, F f) {
    require_float<T>(op);
    Tensor<T> x = device_input(op, x_in, x_in.device());
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    if constexpr (std::is_same_v<T, float>) f(x.numel(), x.data(), y.data());
    return y;
}
template <class T, class F>
Tensor<T> binary(const char* op, const Tensor<T>& a_in, const Tensor<T>& b_in, F f) {
    require_float<T>(op);
    Tensor<T> a = device_input(op, a_in, a_in.device()), b = device_input(op, b_in, a_in.device());
    Tensor<T> y = Tensor<T>::empty(a.shape(), a.device());
    if constexpr (std::is_same_v<T, float>) f(a.numel(), a.data(), b.data(), y.data());
    return y;
}
}  // namespace detail

template <class T>
Tensor<T> relu_fwd(const Tensor<T>& x) {
    return detail::unary("relu", x, [](int64_t n, const float* a, float* y) { launch::relu_fwd(n, a, y); });
}
template <class T>
Tensor<T> relu_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    return detail::binary("relu_bwd", dy, y,
                          [](int64_t n, const float* g, const float* yy, float* dx) { launch::relu_bwd(n, g, yy, dx); });
}
template <class T>
Tensor<T> sigmoid_fwd(const Tensor<T>& x) {
    return detail::unary("sigmoid", x, [](int64_t n, const float* a, float* y) { launch::sigmoid_fwd(n, a, y); });
}
template <class T>
Var<T> sigmoid(const Var<T>& x) {
    Tensor<T> y = cuda::sigmoid_fwd(x.value());
    return record<T>("sigmoid", y, {&x}, [y](const Tensor<T>& gy) {
        return std::vector<Tensor<T>>{detail::binary(
            "sigmoid_bwd", gy, y, [](int64_t n, const float* g, const float* yy, float* dx) {
                launch::sigmoid_bwd(n, g, yy, dx);
            })};
    });
}

/// Called by ichseg::dropout after it has drawn (seed, stream) from the generator, exactly as the CPU path.
template <class T>
Var<T> dropout(const Var<T>& x, double p, uint64_t seed, uint64_t stream) {
    auto apply = [seed, stream, p](const Tensor<T>& in) {
        return detail::unary("dropout", in, [seed, stream, p](int64_t n, const float* a, float* y) {
            launch::dropout_apply(n, a, y, seed, stream, p);
        });
    };
    Tensor<T> y = apply(x.value());
    return record<T>("dropout", y, {&x}, [apply](const Tensor<T>& gy) { return std::vector<Tensor<T>>{apply(gy)}; });
}

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
    Tensor<T> y = detail::binary("add", a.value(), b.value(),
                                 [](int64_t n, const float* x, const float* z, float* o) { launch::add(n, x, z, o); });
    return record<T>("add", y, {&a, &b}, [](const Tensor<T>& gy) { return std::vector<Tensor<T>>{gy, gy}; });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
    auto m = [](const Tensor<T>& x, const Tensor<T>& z) {
        return detail::binary("mul", x, z,
                              [](int64_t n, const float* p, const float* q, float* o) { launch::mul(n, p, q, o); });
    };
    Tensor<T> av = a.value(), bv = b.value();
    Tensor<T> y = m(av, bv);
    const bool ga = a.requires_grad(), gb = b.requires_grad();
    return record<T>("mul", y, {&a, &b}, [av, bv, ga, gb, m](const Tensor<T>& gy) {
        std::vector<Tensor<T>> g(2);
        if (ga) g[0] = m(gy, bv);
        if (gb) g[1] = m(gy, av);
        return g;
    });
}

template <class T>
Var<T> scale(const Var<T>& a, T s) {
    detail::require_float<T>("scale");
    Tensor<T> y = scaled(detail::device_input("scale", a.value(), a.device()), s);
    return record<T>("scale", y, {&a}, [s](const Tensor<T>& gy) { return std::vector<Tensor<T>>{scaled(gy, s)}; });
}

template <class T>
Var<T> sum(const Var<T>& a) {
    detail::require_float<T>("sum");
    Tensor<T> ac = detail::device_input("sum", a.value(), a.device());
    double s = 0;
    if constexpr (std::is_same_v<T, float>) s = launch::sum(ac.numel(), ac.data());
    const Shape as = ac.shape();
    const Device dev = ac.device();
    return record<T>("sum", Tensor<T>::full({1}, static_cast<T>(s), dev), {&a}, [as, dev](const Tensor<T>& gy) {
        return std::vector<Tensor<T>>{Tensor<T>::full(as, gy.to_vector()[0], dev)};
    });
}

}  // namespace ichseg::cuda
