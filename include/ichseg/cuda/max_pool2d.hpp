/// @file max_pool2d.hpp (cuda)
/// @brief CUDA max pooling (no padding): one thread per output; backward zeroes dx and adds dy at the first
/// maximum of each window (atomicAdd, so overlapping windows are handled; exact for the U-Net's 2x2 / 2).
/// Ties and NaN as on the CPU. Kernels: kernels/max_pool2d.cu.
#pragma once

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/max_pool2d.hpp"

namespace ichseg::cuda {

namespace launch {
void max_pool2d_fwd(const Pool2dGeometry& g, const float* x, float* y);
void max_pool2d_bwd(const Pool2dGeometry& g, const float* dy, const float* x, float* dx);
}  // namespace launch

/// float, and the input within 32-bit indexing (the kernels compute window offsets in int).
template <class T>
Support supports(const Pool2dGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.input_numel()}));
}

template <class T>
Tensor<T> max_pool2d_fwd(const Pool2dGeometry& g, const Tensor<T>& x_in) {
    const char* op = "max_pool2d_fwd";
    detail::require_float<T>(op);
    const Tensor<T> x = detail::device_input(op, x_in, x_in.device());
    Tensor<T> y = Tensor<T>::empty({g.N, g.C, g.P, g.Q}, x.device());
    if constexpr (std::is_same_v<T, float>) launch::max_pool2d_fwd(g, x.data(), y.data());
    return y;
}

template <class T>
Tensor<T> max_pool2d_bwd(const Pool2dGeometry& g, const Tensor<T>& dy_in, const Tensor<T>& x_in) {
    const char* op = "max_pool2d_bwd";
    detail::require_float<T>(op);
    const Device dev = dy_in.device();
    const Tensor<T> dy = detail::device_input(op, dy_in, dev), x = detail::device_input(op, x_in, dev);
    Tensor<T> dx = Tensor<T>::empty(x.shape(), dev);
    if constexpr (std::is_same_v<T, float>) launch::max_pool2d_bwd(g, dy.data(), x.data(), dx.data());
    return dx;
}

}  // namespace ichseg::cuda
