/// @file global_avg_pool.hpp (cuda)
/// @brief CUDA global average pooling: one warp per (n, c) plane (sum in float, lanes combined by shuffles),
/// backward broadcasts dy / (H W). Kernels: kernels/global_avg_pool.cu.
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

namespace launch {
void global_avg_pool_fwd(int64_t planes, int64_t HW, const float* x, float* y);
void global_avg_pool_bwd(int64_t planes, int64_t HW, const float* dy, float* dx);
}  // namespace launch

template <class T>
Var<T> global_avg_pool(const Var<T>& x) {
    detail::require_float<T>("global_avg_pool");
    Tensor<T> xc = detail::device_input("global_avg_pool", x.value(), x.device());
    const int64_t N = xc.size(0), C = xc.size(1), HW = xc.size(2) * xc.size(3);
    ICHSEG_CHECK(HW > 0, "global_avg_pool: empty spatial extent in ", to_string(xc.shape()));
    Tensor<T> y = Tensor<T>::empty({N, C}, xc.device());
    if constexpr (std::is_same_v<T, float>) launch::global_avg_pool_fwd(N * C, HW, xc.data(), y.data());
    const Shape xs = xc.shape();
    const Device dev = xc.device();
    return record<T>("global_avg_pool", y, {&x}, [xs, HW, dev](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::device_input("global_avg_pool_bwd", gy_in, dev);
        Tensor<T> dx = Tensor<T>::empty(xs, dev);
        if constexpr (std::is_same_v<T, float>) launch::global_avg_pool_bwd(xs[0] * xs[1], HW, gy.data(), dx.data());
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg::cuda
