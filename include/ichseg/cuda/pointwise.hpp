/// @file pointwise.hpp (cuda)
/// @brief Element-wise CUDA launchers (relu, sigmoid, dropout, add, mul, scale, sum, and the in-place add the
/// autograd tape's gradient sums use through the device hooks): declarations of the kernels in
/// kernels/{relu,sigmoid,dropout,arithmetic}.cu and the tensor-level launchers that
/// ops/{relu,sigmoid,dropout,arithmetic}.hpp dispatch to. Same formulas as cpu/pointwise.hpp; dropout draws the
/// same Philox mask as the CPU for the same (seed, stream).
#pragma once

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/pointwise.hpp"

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
/// y[i] = a[i] * s
void scale(int64_t n, const float* a, float s, float* y);
/// d[i] += s[i]
void add_inplace(int64_t n, float* d, const float* s);
/// Sum of all elements (block partials in double, added in order on the host).
double sum(int64_t n, const float* x);
}  // namespace launch

/// Element-wise kernels run a 64-bit grid-stride loop: any size, float only.
template <class T>
Support supports(const PointwiseGeometry&) {
    return supports_dtype<T>();
}

namespace detail {
template <class T, class F>
Tensor<T> unary(const char* op, const Tensor<T>& x_in, F f) {
    require_float<T>(op);
    const Tensor<T> x = device_input(op, x_in, x_in.device());
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    if constexpr (std::is_same_v<T, float>) f(x.numel(), x.data(), y.data());
    return y;
}
template <class T, class F>
Tensor<T> binary(const char* op, const Tensor<T>& a_in, const Tensor<T>& b_in, F f) {
    require_float<T>(op);
    const Tensor<T> a = device_input(op, a_in, a_in.device()), b = device_input(op, b_in, a_in.device());
    Tensor<T> y = Tensor<T>::empty(a.shape(), a.device());
    if constexpr (std::is_same_v<T, float>) f(a.numel(), a.data(), b.data(), y.data());
    return y;
}
}  // namespace detail

template <class T>
Tensor<T> relu_fwd(const Tensor<T>& x) {
    return detail::unary("relu_fwd", x, [](int64_t n, const float* a, float* y) { launch::relu_fwd(n, a, y); });
}
template <class T>
Tensor<T> relu_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    return detail::binary("relu_bwd", dy, y, [](int64_t n, const float* g, const float* yy, float* dx) {
        launch::relu_bwd(n, g, yy, dx);
    });
}
template <class T>
Tensor<T> sigmoid_fwd(const Tensor<T>& x) {
    return detail::unary("sigmoid_fwd", x, [](int64_t n, const float* a, float* y) { launch::sigmoid_fwd(n, a, y); });
}
template <class T>
Tensor<T> sigmoid_bwd(const Tensor<T>& dy, const Tensor<T>& y) {
    return detail::binary("sigmoid_bwd", dy, y, [](int64_t n, const float* g, const float* yy, float* dx) {
        launch::sigmoid_bwd(n, g, yy, dx);
    });
}
/// x * keep / (1 - p) with the mask of `m`; the same call maps dy to dx.
template <class T>
Tensor<T> dropout_apply(const Tensor<T>& x, const DropoutMask& m) {
    return detail::unary("dropout", x, [m](int64_t n, const float* a, float* y) {
        launch::dropout_apply(n, a, y, m.seed, m.stream, m.p);
    });
}
template <class T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
    return detail::binary("add", a, b,
                          [](int64_t n, const float* x, const float* z, float* o) { launch::add(n, x, z, o); });
}
template <class T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
    return detail::binary("mul", a, b,
                          [](int64_t n, const float* x, const float* z, float* o) { launch::mul(n, x, z, o); });
}
template <class T>
Tensor<T> scale(const Tensor<T>& a, T s) {
    return detail::unary("scale", a, [s](int64_t n, const float* x, float* o) { launch::scale(n, x, s, o); });
}
/// The sum of all elements, in double.
template <class T>
double sum(const Tensor<T>& a_in) {
    detail::require_float<T>("sum");
    const Tensor<T> a = detail::device_input("sum", a_in, a_in.device());
    if constexpr (std::is_same_v<T, float>) return launch::sum(a.numel(), a.data());
    return 0.0;
}

}  // namespace ichseg::cuda
