/// @file global_avg_pool.hpp
/// @brief Global average pooling: x (N,C,H,W) -> y (N,C) = mean over H, W; dx = dy / (H W) broadcast.
#pragma once

#include "ichseg/ops/common.hpp"

namespace ichseg {

template <class T>
Var<T> global_avg_pool(const Var<T>& x) {
    detail::static_check_float<T>();
    detail::check_rank("global_avg_pool", "input", x.value(), 4);
#if ICHSEG_WITH_CUDA
    if (x.device().is_cuda()) return cuda::global_avg_pool(x);
#endif
    Tensor<T> xc = detail::cpu_input("global_avg_pool", x.value());
    const int64_t N = xc.size(0), C = xc.size(1), HW = xc.size(2) * xc.size(3);
    ICHSEG_CHECK(HW > 0, "global_avg_pool: empty spatial extent in ", to_string(xc.shape()));
    Tensor<T> y = Tensor<T>::empty({N, C});
    parallel_for(N * C, [&](int64_t nc) {
        const T* p = xc.data() + nc * HW;
        double s = 0;
        for (int64_t i = 0; i < HW; ++i) s += p[i];
        y.data()[nc] = static_cast<T>(s / HW);
    }, xc.numel());
    const Shape xs = xc.shape();
    return record<T>("global_avg_pool", y, {&x}, [xs, HW](const Tensor<T>& gy_in) {
        Tensor<T> gy = detail::cpu_input("global_avg_pool_bwd", gy_in);
        Tensor<T> dx = Tensor<T>::empty(xs);
        parallel_for(xs[0] * xs[1], [&](int64_t nc) {
            const T v = gy.data()[nc] / static_cast<T>(HW);
            std::fill(dx.data() + nc * HW, dx.data() + (nc + 1) * HW, v);
        }, xs[0] * xs[1] * HW);
        return std::vector<Tensor<T>>{dx};
    });
}

}  // namespace ichseg
