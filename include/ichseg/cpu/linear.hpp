/// @file linear.hpp (cpu)
/// @brief The fully connected layer on the CPU: its three GEMMs (cpu/gemm.hpp) and the bias loops.
#pragma once

#include <algorithm>

#include "ichseg/cpu/gemm.hpp"
#include "ichseg/params/linear.hpp"

namespace ichseg::cpu {

/// y (N, out) = x (N, in) W^T + b; b may be null.
template <class T>
void linear_fwd(const LinearGeometry& g, const T* x, const T* w, const T* b, T* y) {
    gemm<T>(false, true, g.N, g.out, g.in, T(1), x, g.in, w, g.in, T(0), y, g.out);
    if (b)
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t o = 0; o < g.out; ++o) y[n * g.out + o] += b[o];
}

/// dx (N, in) = dy (N, out) W.
template <class T>
void linear_dgrad(const LinearGeometry& g, const T* dy, const T* w, T* dx) {
    gemm<T>(false, false, g.N, g.in, g.out, T(1), dy, g.out, w, g.in, T(0), dx, g.in);
}

/// dW (out, in) = dy^T x; db (out) = sum over N of dy (db may be null).
template <class T>
void linear_wgrad(const LinearGeometry& g, const T* dy, const T* x, T* dw, T* db) {
    gemm<T>(true, false, g.out, g.in, g.N, T(1), dy, g.out, x, g.in, T(0), dw, g.in);
    if (db) {
        std::fill(db, db + g.out, T(0));
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t o = 0; o < g.out; ++o) db[o] += dy[n * g.out + o];
    }
}

}  // namespace ichseg::cpu

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu {
ICHSEG_EXTERN_TEMPLATE template void linear_fwd<float>(const LinearGeometry&, const float*, const float*, const float*,
                                                       float*);
ICHSEG_EXTERN_TEMPLATE template void linear_dgrad<float>(const LinearGeometry&, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void linear_wgrad<float>(const LinearGeometry&, const float*, const float*, float*,
                                                         float*);
}  // namespace ichseg::cpu
#endif
