/// @file adam.hpp (cpu)
/// @brief One Adam update of a CPU parameter (params/adam.hpp has the formula), in blocks of 4096 elements per
/// parallel task.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ichseg/core/eigen.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/params/adam.hpp"

namespace ichseg::cpu {

/// p, m, v updated in place from the gradient g; n elements, all contiguous.
template <class T>
void adam_update(int64_t n, T* p, const T* g, T* m, T* v, const AdamStep<T>& s) {
    constexpr int64_t kBlock = 4096;  // elements per parallel task
    // Eigen arrays, not a scalar loop: GCC does not vectorise std::sqrt unless the user compiles with
    // -fno-math-errno, and the scalar sqrt and divisions made this loop 6x slower. Same operations, same
    // order; Eigen's packet sqrt and division are correctly rounded like the scalar ones.
    using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
    parallel_for((n + kBlock - 1) / kBlock, [&](int64_t blk) {
        const int64_t lo = blk * kBlock, len = std::min<int64_t>(n - lo, kBlock);
        Eigen::Map<Array> P(p + lo, len), M(m + lo, len), V(v + lo, len);
        T g_buf[kBlock];
        Eigen::Map<Array> G(g_buf, len);
        if (s.wd != T(0))
            G = Eigen::Map<const Array>(g + lo, len) + s.wd * P;
        else
            G = Eigen::Map<const Array>(g + lo, len);
        M += s.one_minus_b1 * (G - M);
        V = V * s.b2 + s.one_minus_b2 * G * G;
        P -= s.step_size * (M / (V.sqrt() / s.bc2_sqrt + s.eps));
    });
}

}  // namespace ichseg::cpu
