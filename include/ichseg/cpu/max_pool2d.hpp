/// @file max_pool2d.hpp (cpu)
/// @brief Max pooling without padding, NCHW. Ties go to the first maximum in row-major window order (as in
/// PyTorch). Backward recomputes the argmax from the input instead of storing indices.
#pragma once

#include "ichseg/core/parallel.hpp"

namespace ichseg::cpu {

struct PoolGeometry {
    int64_t N, C, H, W, kh, kw, sh, sw, P, Q;
};

template <class T>
void max_pool2d_fwd(const PoolGeometry& g, const T* x, T* y) {
    parallel_for(g.N * g.C, [&](int64_t nc) {
        const T* xp = x + nc * g.H * g.W;
        T* yp = y + nc * g.P * g.Q;
        for (int64_t p = 0; p < g.P; ++p)
            for (int64_t q = 0; q < g.Q; ++q) {
                const T* w0 = xp + p * g.sh * g.W + q * g.sw;
                T m = w0[0];
                for (int64_t r = 0; r < g.kh; ++r)
                    for (int64_t s = 0; s < g.kw; ++s) {
                        const T v = w0[r * g.W + s];
                        if (v > m || v != v) m = v;
                    }
                yp[p * g.Q + q] = m;
            }
    });
}

/// dx (overwritten) receives dy at the argmax of each window.
template <class T>
void max_pool2d_bwd(const PoolGeometry& g, const T* dy, const T* x, T* dx) {
    parallel_for(g.N * g.C, [&](int64_t nc) {
        const T* xp = x + nc * g.H * g.W;
        const T* dyp = dy + nc * g.P * g.Q;
        T* dxp = dx + nc * g.H * g.W;
        std::fill(dxp, dxp + g.H * g.W, T(0));
        for (int64_t p = 0; p < g.P; ++p)
            for (int64_t q = 0; q < g.Q; ++q) {
                const int64_t base = p * g.sh * g.W + q * g.sw;
                int64_t arg = base;
                T m = xp[base];
                for (int64_t r = 0; r < g.kh; ++r)
                    for (int64_t s = 0; s < g.kw; ++s) {
                        const int64_t i = base + r * g.W + s;
                        if (xp[i] > m || xp[i] != xp[i]) {
                            m = xp[i];
                            arg = i;
                            if (m != m) break;
                        }
                    }
                dxp[arg] += dyp[p * g.Q + q];
            }
    });
}

}  // namespace ichseg::cpu
