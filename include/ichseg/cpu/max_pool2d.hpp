/// @file max_pool2d.hpp (cpu)
/// @brief Max pooling without padding, NCHW. Ties go to the first maximum in row-major window order (as in
/// PyTorch). Backward recomputes the argmax from the input instead of storing indices.
#pragma once

#include "ichseg/core/parallel.hpp"

namespace ichseg::cpu {

struct PoolGeometry {
    int64_t N, C, H, W, kh, kw, sh, sw, P, Q;
};

/// max(a, b) that propagates NaN from a or b, written so that it vectorises (compare + blend).
template <class T>
inline T nan_max(T a, T b) {
    return (a > b || a != a) ? a : b;
}

template <class T>
void max_pool2d_fwd(const PoolGeometry& g, const T* x, T* y) {
    if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2) {  // the U-Net's pooling: vectorised rows
        parallel_for(g.N * g.C, [&](int64_t nc) {
            const T* xp = x + nc * g.H * g.W;
            T* yp = y + nc * g.P * g.Q;
            for (int64_t p = 0; p < g.P; ++p) {
                const T* r0 = xp + 2 * p * g.W;
                const T* r1 = r0 + g.W;
                T* out = yp + p * g.Q;
#pragma omp simd
                for (int64_t q = 0; q < g.Q; ++q)
                    out[q] = nan_max(nan_max(nan_max(r0[2 * q], r0[2 * q + 1]), r1[2 * q]), r1[2 * q + 1]);
            }
        }, g.N * g.C * g.H * g.W);
        return;
    }
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
    }, g.N * g.C * g.H * g.W);
}

/// dx (overwritten) receives dy at the argmax of each window.
template <class T>
void max_pool2d_bwd(const PoolGeometry& g, const T* dy, const T* x, T* dx) {
    if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.H == 2 * g.P && g.W == 2 * g.Q) {
        // Windows tile the input exactly: every input gets dy of its window when it is the window's first maximum.
        parallel_for(g.N * g.C, [&](int64_t nc) {
            const T* xp = x + nc * g.H * g.W;
            const T* dyp = dy + nc * g.P * g.Q;
            T* dxp = dx + nc * g.H * g.W;
            for (int64_t p = 0; p < g.P; ++p) {
                const T* r0 = xp + 2 * p * g.W;
                const T* r1 = r0 + g.W;
                T* d0 = dxp + 2 * p * g.W;
                T* d1 = d0 + g.W;
                const T* gp = dyp + p * g.Q;
#pragma omp simd
                for (int64_t q = 0; q < g.Q; ++q) {
                    const T a = r0[2 * q], b = r0[2 * q + 1], c = r1[2 * q], d = r1[2 * q + 1], gv = gp[q];
                    const T m = nan_max(nan_max(nan_max(a, b), c), d);
                    // first position (row-major) holding the maximum; NaN counts as equal to NaN
                    const bool ia = a == m || (a != a && m != m);
                    const bool ib = !ia && (b == m || (b != b && m != m));
                    const bool ic = !ia && !ib && (c == m || (c != c && m != m));
                    const bool id = !ia && !ib && !ic;
                    d0[2 * q] = ia ? gv : T(0);
                    d0[2 * q + 1] = ib ? gv : T(0);
                    d1[2 * q] = ic ? gv : T(0);
                    d1[2 * q + 1] = id ? gv : T(0);
                }
            }
        }, g.N * g.C * g.H * g.W);
        return;
    }
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
    }, g.N * g.C * g.H * g.W);
}

}  // namespace ichseg::cpu
