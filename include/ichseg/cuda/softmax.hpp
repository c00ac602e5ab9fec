/// @file softmax.hpp (cuda)
/// @brief CUDA softmax over the last dimension: one warp per row (max, exp-sum, normalise), backward
/// dx = y (dy - sum dy y). Kernels: kernels/softmax.cu.
#pragma once

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/softmax.hpp"

namespace ichseg::cuda {

namespace launch {
void softmax_fwd(int64_t rows, int64_t K, const float* x, float* y);
void softmax_bwd(int64_t rows, int64_t K, const float* dy, const float* y, float* dx);
}  // namespace launch

/// float, and rows of fewer than 2^31 values (the kernels index within a row with int).
template <class T>
Support supports(const SoftmaxGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.K}));
}

template <class T>
Tensor<T> softmax_fwd(const SoftmaxGeometry& g, const Tensor<T>& x_in) {
    const char* op = "softmax_fwd";
    detail::require_float<T>(op);
    const Tensor<T> x = detail::device_input(op, x_in, x_in.device());
    Tensor<T> y = Tensor<T>::empty(x.shape(), x.device());
    if constexpr (std::is_same_v<T, float>) launch::softmax_fwd(g.rows, g.K, x.data(), y.data());
    return y;
}

template <class T>
Tensor<T> softmax_bwd(const SoftmaxGeometry& g, const Tensor<T>& dy_in, const Tensor<T>& y_in) {
    const char* op = "softmax_bwd";
    detail::require_float<T>(op);
    const Device dev = y_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), y = detail::device_input(op, y_in, dev);
    Tensor<T> dx = Tensor<T>::empty(y.shape(), dev);
    if constexpr (std::is_same_v<T, float>) launch::softmax_bwd(g.rows, g.K, dy.data(), y.data(), dx.data());
    return dx;
}

}  // namespace ichseg::cuda
