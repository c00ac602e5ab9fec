/// @file max_pool2d.hpp (cuda)
/// @brief CUDA max pooling (no padding): one thread per output; backward zeroes dx and adds dy at the first
/// maximum of each window (atomicAdd, so overlapping windows are handled; exact for the U-Net's 2x2 / 2).
/// Ties and NaN as on the CPU. Kernels: kernels/max_pool2d.cu.
#pragma once

#include "ichseg/autograd/variable.hpp"
#include "ichseg/cuda/conv2d.hpp"

namespace ichseg::cuda {

struct PoolShape {
    int64_t N, C, H, W, kh, kw, sh, sw, P, Q;
};

namespace launch {
void max_pool2d_fwd(const PoolShape& g, const float* x, float* y);
void max_pool2d_bwd(const PoolShape& g, const float* dy, const float* x, float* dx);
}  // namespace launch

template <class T, class G>
Var<T> max_pool2d(const Var<T>& x, const G& geom) {
    detail::require_float<T>("max_pool2d");
    const PoolShape g{geom.N, geom.C, geom.H, geom.W, geom.kh, geom.kw, geom.sh, geom.sw, geom.P, geom.Q};
    Tensor<T> xc = detail::device_input("max_pool2d", x.value(), x.device());
    detail::check_int32("max_pool2d", xc.numel());
    Tensor<T> y = Tensor<T>::empty({g.N, g.C, g.P, g.Q}, xc.device());
    if constexpr (std::is_same_v<T, float>) launch::max_pool2d_fwd(g, xc.data(), y.data());
    Tensor<T> xs = x.requires_grad() ? xc : Tensor<T>();
    return record<T>("max_pool2d", y, {&x}, [xs, g](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::device_input("max_pool2d_bwd", gy_in, xs.device());
        Tensor<T> dx = Tensor<T>::empty(xs.shape(), xs.device());
        if constexpr (std::is_same_v<T, float>) launch::max_pool2d_bwd(g, gy.data(), xs.data(), dx.data());
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg::cuda
