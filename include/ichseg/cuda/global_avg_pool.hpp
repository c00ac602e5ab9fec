/// @file global_avg_pool.hpp (cuda)
/// @brief CUDA global average pooling: one warp per (n, c) plane (sum in float, lanes combined by shuffles),
/// backward broadcasts dy / (H W). Kernels: kernels/global_avg_pool.cu.
#pragma once

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/global_avg_pool.hpp"

namespace ichseg::cuda {

namespace launch {
void global_avg_pool_fwd(int64_t planes, int64_t HW, const float* x, float* y);
void global_avg_pool_bwd(int64_t planes, int64_t HW, const float* dy, float* dx);
}  // namespace launch

/// float, and planes of fewer than 2^31 values (the kernels index within a plane with int).
template <class T>
Support supports(const GlobalPoolGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.HW}));
}

/// x (N, C, H, W) -> y (N, C).
template <class T>
Tensor<T> global_avg_pool_fwd(const GlobalPoolGeometry& g, const Tensor<T>& x_in) {
    const char* op = "global_avg_pool_fwd";
    detail::require_float<T>(op);
    const Tensor<T> x = detail::device_input(op, x_in, x_in.device());
    Tensor<T> y = Tensor<T>::empty({x.size(0), x.size(1)}, x.device());
    if constexpr (std::is_same_v<T, float>) launch::global_avg_pool_fwd(g.planes, g.HW, x.data(), y.data());
    return y;
}

/// dy (N, C) -> dx of `x_shape` (N, C, H, W).
template <class T>
Tensor<T> global_avg_pool_bwd(const GlobalPoolGeometry& g, const Tensor<T>& dy_in, const Shape& x_shape) {
    const char* op = "global_avg_pool_bwd";
    detail::require_float<T>(op);
    const Tensor<T> dy = detail::device_input(op, dy_in, dy_in.device());
    Tensor<T> dx = Tensor<T>::empty(x_shape, dy.device());
    if constexpr (std::is_same_v<T, float>) launch::global_avg_pool_bwd(g.planes, g.HW, dy.data(), dx.data());
    return dx;
}

}  // namespace ichseg::cuda
