/// @file pointwise.hpp (cpu)
/// @brief Element-wise CPU loops shared by the activation, arithmetic and dropout ops. Each element is
/// independent, so the loops are split across threads in large contiguous blocks.
#pragma once

#include <cmath>
#include <cstdint>

#include "ichseg/core/parallel.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/params/pointwise.hpp"

namespace ichseg::cpu {

/// f(i) over [0, n) in blocks of at least 32k elements per thread (tiny tensors stay on one thread).
template <class F>
void pointwise(int64_t n, F&& f) {
    constexpr int64_t grain = 1 << 15;
    const int64_t blocks = (n + grain - 1) / grain;
    parallel_chunks(blocks, [&](int, int64_t b, int64_t e) {
        const int64_t lo = b * grain, hi = std::min(n, e * grain);
        for (int64_t i = lo; i < hi; ++i) f(i);
    });
}

template <class T>
void relu_fwd(int64_t n, const T* x, T* y) {
    pointwise(n, [&](int64_t i) { y[i] = x[i] > T(0) ? x[i] : T(0); });
}
/// dx = dy where y > 0 (y is the ReLU output).
template <class T>
void relu_bwd(int64_t n, const T* dy, const T* y, T* dx) {
    pointwise(n, [&](int64_t i) { dx[i] = y[i] > T(0) ? dy[i] : T(0); });
}

template <class T>
void sigmoid_fwd(int64_t n, const T* x, T* y) {
    pointwise(n, [&](int64_t i) { y[i] = T(1) / (T(1) + std::exp(-x[i])); });
}
template <class T>
void sigmoid_bwd(int64_t n, const T* dy, const T* y, T* dx) {
    pointwise(n, [&](int64_t i) { dx[i] = dy[i] * y[i] * (T(1) - y[i]); });
}

/// The dropout keep decision of element i: uniform(seed, stream, i) >= p.
inline bool dropout_keep(uint64_t seed, uint64_t stream, int64_t i, double p) {
    return random_uniform(seed, stream, static_cast<uint64_t>(i)) >= static_cast<float>(p);
}
/// y = x * keep / (1 - p); the same call maps dy to dx (the mask is regenerated, never stored).
template <class T>
void dropout_apply(int64_t n, const T* x, T* y, uint64_t seed, uint64_t stream, double p) {
    const T scale = static_cast<T>(1.0 / (1.0 - p));
    pointwise(n, [&](int64_t i) { y[i] = dropout_keep(seed, stream, i, p) ? x[i] * scale : T(0); });
}

template <class T>
void add(int64_t n, const T* a, const T* b, T* y) {
    pointwise(n, [&](int64_t i) { y[i] = a[i] + b[i]; });
}
template <class T>
void mul(int64_t n, const T* a, const T* b, T* y) {
    pointwise(n, [&](int64_t i) { y[i] = a[i] * b[i]; });
}
template <class T>
void scale(int64_t n, const T* a, T s, T* y) {
    pointwise(n, [&](int64_t i) { y[i] = a[i] * s; });
}
/// The sum of all elements, accumulated in double in index order (one thread: the result never depends on the
/// thread count).
template <class T>
double sum(int64_t n, const T* a) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += a[i];
    return s;
}

}  // namespace ichseg::cpu
