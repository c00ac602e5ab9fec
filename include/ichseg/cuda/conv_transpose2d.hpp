/// @file conv_transpose2d.hpp (cuda)
/// @brief The two pieces of a CUDA transposed convolution that are not a convolution role (those are
/// cuda/conv2d.hpp's, reached through ops/conv_transpose2d.hpp's convolution view): the per-channel bias of the
/// forward pass and the bias gradient. Kernels: kernels/conv_transpose2d.cu.
#pragma once

#include "ichseg/cuda/common.hpp"

namespace ichseg::cuda {

namespace launch {
/// y[n,k,:,:] += b[k] (the transposed convolution's bias).
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const float* b, float* y);
/// db[k] = sum over n, p, q of dy[n,k,p,q].
void channel_sum(int64_t N, int64_t C, int64_t HW, const float* dy, float* db);
}  // namespace launch

/// y += b per channel, in place (y freshly produced by the dgrad role, so not aliased).
template <class T>
void add_channel_bias_(Tensor<T>& y, const Tensor<T>& b_in) {
    const char* op = "conv_transpose2d_fprop";
    detail::require_float<T>(op);
    const Tensor<T> b = detail::device_input(op, b_in, y.device());
    if constexpr (std::is_same_v<T, float>)
        launch::add_channel_bias(y.size(0), y.size(1), y.size(2) * y.size(3), b.data(), y.data());
}

/// The sum of dy (N, C, H, W) over N, H, W -> (C): the bias gradient.
template <class T>
Tensor<T> channel_sum(const Tensor<T>& dy_in) {
    const char* op = "conv_transpose2d_wgrad";
    detail::require_float<T>(op);
    const Tensor<T> dy = detail::device_input(op, dy_in, dy_in.device());
    Tensor<T> db = Tensor<T>::empty({dy.size(1)}, dy.device());
    if constexpr (std::is_same_v<T, float>)
        launch::channel_sum(dy.size(0), dy.size(1), dy.size(2) * dy.size(3), dy.data(), db.data());
    return db;
}

}  // namespace ichseg::cuda
