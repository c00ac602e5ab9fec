/// @file max_pool2d.hpp (cpu)
/// @brief Max pooling without padding, NCHW. Ties go to the first maximum in row-major window order (as in
/// PyTorch). Backward recomputes the argmax from the input instead of storing indices.
#pragma once

#include <type_traits>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/max_pool2d.hpp"

namespace ichseg::cpu {

/// max(a, b) that propagates NaN from a or b, written so that it vectorises (compare + blend).
template <class T>
inline T nan_max(T a, T b) {
    return (a > b || a != a) ? a : b;
}

template <class T>
void max_pool2d_fwd(const Pool2dGeometry& g, const T* x, T* y) {
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

namespace detail {

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

/// The 2x2 backward for output columns [0, 8 * (Q / 8)) of one row pair, eight windows at a time; returns the
/// number of columns done (the caller finishes the rest with the scalar loop, which has the same rule).
/// Even/odd input columns are separated by shuffles, so the branchy scalar argmax becomes compares and blends.
inline int64_t max_pool2x2_bwd_row8(const float* r0, const float* r1, const float* gp, float* d0, float* d1,
                                    int64_t Q) {
    const v8i even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = {1, 3, 5, 7, 9, 11, 13, 15};
    const v8i lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
    const v8f zero = {};
    int64_t q = 0;
    for (; q + 8 <= Q; q += 8) {
        v8f x0, x1, x2, x3, gv;
        __builtin_memcpy(&x0, r0 + 2 * q, 32);
        __builtin_memcpy(&x1, r0 + 2 * q + 8, 32);
        __builtin_memcpy(&x2, r1 + 2 * q, 32);
        __builtin_memcpy(&x3, r1 + 2 * q + 8, 32);
        __builtin_memcpy(&gv, gp + q, 32);
        const v8f a = __builtin_shuffle(x0, x1, even), b = __builtin_shuffle(x0, x1, odd);
        const v8f c = __builtin_shuffle(x2, x3, even), d = __builtin_shuffle(x2, x3, odd);
        // nan_max on eight lanes, written out: no function takes or returns a vector (its ABI would depend on
        // the consumer's -m flags).
        const v8f ab = ((a > b) | (a != a)) ? a : b;
        const v8f abc = ((ab > c) | (ab != ab)) ? ab : c;
        const v8f m = ((abc > d) | (abc != abc)) ? abc : d;
        const v8i m_nan = m != m;
        const v8i ia = (a == m) | ((a != a) & m_nan);
        const v8i ib = ~ia & ((b == m) | ((b != b) & m_nan));
        const v8i ic = ~ia & ~ib & ((c == m) | ((c != c) & m_nan));
        const v8i id = ~ia & ~ib & ~ic;
        const v8f ga = ia ? gv : zero, gb = ib ? gv : zero, gc = ic ? gv : zero, gd = id ? gv : zero;
        const v8f o0 = __builtin_shuffle(ga, gb, lo), o1 = __builtin_shuffle(ga, gb, hi);
        const v8f o2 = __builtin_shuffle(gc, gd, lo), o3 = __builtin_shuffle(gc, gd, hi);
        __builtin_memcpy(d0 + 2 * q, &o0, 32);
        __builtin_memcpy(d0 + 2 * q + 8, &o1, 32);
        __builtin_memcpy(d1 + 2 * q, &o2, 32);
        __builtin_memcpy(d1 + 2 * q + 8, &o3, 32);
    }
    return q;
}

}  // namespace detail

/// dx (overwritten) receives dy at the argmax of each window.
template <class T>
void max_pool2d_bwd(const Pool2dGeometry& g, const T* dy, const T* x, T* dx) {
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
                int64_t q = 0;
                if constexpr (std::is_same_v<T, float>) q = detail::max_pool2x2_bwd_row8(r0, r1, gp, d0, d1, g.Q);
                for (; q < g.Q; ++q) {
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

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu {
ICHSEG_EXTERN_TEMPLATE template void max_pool2d_fwd<float>(const Pool2dGeometry&, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void max_pool2d_bwd<float>(const Pool2dGeometry&, const float*, const float*, float*);
}  // namespace ichseg::cpu
#endif
