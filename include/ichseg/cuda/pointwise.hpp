/// @file pointwise.hpp (cuda)
/// @brief Element-wise CUDA launchers (the maps relu, sigmoid, add, mul; dropout, scale, sum; and the in-place add the
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

/// m(a) or m(a, b) as a new tensor on a's device (b read only when has_second_input(m)).
template <class T>
Tensor<T> pointwise_map(PointwiseMap m, const Tensor<T>& a_in, const Tensor<T>& b_in) {
    const char* op = name(m);
    const Device dev = a_in.device();
    const Tensor<T> a = detail::device_input(op, a_in, dev);
    const T* b = has_second_input(m) ? detail::device_input(op, b_in, dev).data() : nullptr;
    Tensor<T> y = Tensor<T>::empty(a.shape(), dev);
    if constexpr (std::is_same_v<T, float>) {
        const int64_t n = a.numel();
        switch (m) {
            case PointwiseMap::relu_fwd:
                launch::relu_fwd(n, a.data(), y.data());
                break;
            case PointwiseMap::relu_bwd:
                launch::relu_bwd(n, a.data(), b, y.data());
                break;
            case PointwiseMap::sigmoid_fwd:
                launch::sigmoid_fwd(n, a.data(), y.data());
                break;
            case PointwiseMap::sigmoid_bwd:
                launch::sigmoid_bwd(n, a.data(), b, y.data());
                break;
            case PointwiseMap::add:
                launch::add(n, a.data(), b, y.data());
                break;
            case PointwiseMap::mul:
                launch::mul(n, a.data(), b, y.data());
                break;
        }
    }
    return y;
}

namespace detail {
template <class T, class F>
Tensor<T> unary(const char* op, const Tensor<T>& x_in, F f) {
    const Tensor<T> x = device_input(op, x_in, x_in.device());
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    if constexpr (std::is_same_v<T, float>) f(x.numel(), x.data(), y.data());
    return y;
}
}  // namespace detail

/// x * keep / (1 - p) with the mask of `m`; the same call maps dy to dx.
template <class T>
Tensor<T> dropout_apply(const Tensor<T>& x, const DropoutMask& m) {
    return detail::unary("dropout", x, [m](int64_t n, const float* a, float* y) {
        launch::dropout_apply(n, a, y, m.seed, m.stream, m.p);
    });
}
template <class T>
Tensor<T> scale(const Tensor<T>& a, T s) {
    return detail::unary("scale", a, [s](int64_t n, const float* x, float* o) { launch::scale(n, x, s, o); });
}
/// The sum of all elements, in double.
template <class T>
double sum(const Tensor<T>& a_in) {
    const Tensor<T> a = detail::device_input("sum", a_in, a_in.device());
    if constexpr (std::is_same_v<T, float>) return launch::sum(a.numel(), a.data());
    return 0.0;
}

}  // namespace ichseg::cuda
