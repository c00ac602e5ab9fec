/// @file global_avg_pool.hpp (cpu)
/// @brief Global average pooling on the CPU: one (n, c) plane per task, summed in double.
#pragma once

#include <algorithm>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/global_avg_pool.hpp"

namespace ichseg::cpu {

/// y[plane] = mean of the HW values of x's plane.
template <class T>
void global_avg_pool_fwd(const GlobalPoolGeometry& g, const T* x, T* y) {
    parallel_for(g.planes, [&](int64_t nc) {
        const T* p = x + nc * g.HW;
        double s = 0;
        for (int64_t i = 0; i < g.HW; ++i) s += p[i];
        y[nc] = static_cast<T>(s / g.HW);
    }, g.planes * g.HW);
}

/// dx[plane, :] = dy[plane] / HW.
template <class T>
void global_avg_pool_bwd(const GlobalPoolGeometry& g, const T* dy, T* dx) {
    parallel_for(g.planes, [&](int64_t nc) {
        const T v = dy[nc] / static_cast<T>(g.HW);
        std::fill(dx + nc * g.HW, dx + (nc + 1) * g.HW, v);
    }, g.planes * g.HW);
}

}  // namespace ichseg::cpu
