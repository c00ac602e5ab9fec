/// @file softmax.hpp (cpu)
/// @brief Softmax over the last dimension on the CPU: one row per task (max, exp-sum, normalise).
#pragma once

#include <algorithm>
#include <cmath>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/softmax.hpp"

namespace ichseg::cpu {

template <class T>
void softmax_fwd(const SoftmaxGeometry& g, const T* x, T* y) {
    const int64_t K = g.K;
    parallel_for(g.rows, [&](int64_t r) {
        const T* xp = x + r * K;
        T* yp = y + r * K;
        T m = xp[0];
        for (int64_t k = 1; k < K; ++k) m = std::max(m, xp[k]);
        T s = 0;
        for (int64_t k = 0; k < K; ++k) s += (yp[k] = std::exp(xp[k] - m));
        for (int64_t k = 0; k < K; ++k) yp[k] /= s;
    });
}

/// dx = y * (dy - sum_k dy_k y_k), per row.
template <class T>
void softmax_bwd(const SoftmaxGeometry& g, const T* dy, const T* y, T* dx) {
    const int64_t K = g.K;
    parallel_for(g.rows, [&](int64_t r) {
        const T* yp = y + r * K;
        const T* gp = dy + r * K;
        T dot = 0;
        for (int64_t k = 0; k < K; ++k) dot += gp[k] * yp[k];
        for (int64_t k = 0; k < K; ++k) dx[r * K + k] = yp[k] * (gp[k] - dot);
    });
}

}  // namespace ichseg::cpu
