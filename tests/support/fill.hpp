/// @file fill.hpp (tests)
/// @brief Deterministic test inputs: uniform and normal fills from the Philox stream, and small-integer fills
/// (values in [-4, 4]) for which every summation order is exact in float, so fast paths can be compared
/// bit-for-bit with naive loops.
#pragma once

#include "ichseg/core/rng.hpp"
#include "ichseg/core/tensor.hpp"

namespace ichseg::test {

template <class T>
Tensor<T> uniform(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
    Tensor<T> t = Tensor<T>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = static_cast<T>(lo + (hi - lo) * random_uniform(seed, 7, static_cast<uint64_t>(i)));
    return t;
}

template <class T>
Tensor<T> normal(const Shape& s, uint64_t seed, double stddev = 1.0) {
    Tensor<T> t = Tensor<T>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(stddev * random_normal(seed, 11, i));
    return t;
}

/// Integers in [-range, range].
template <class T>
Tensor<T> integers(const Shape& s, uint64_t seed, int range = 4) {
    Tensor<T> t = Tensor<T>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = static_cast<T>(static_cast<int>(random_u32(seed, 13, i) % (2 * range + 1)) - range);
    return t;
}

/// 0/1 mask with P(1) = p.
template <class T>
Tensor<T> binary(const Shape& s, uint64_t seed, double p = 0.5) {
    Tensor<T> t = Tensor<T>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = random_uniform(seed, 17, i) < p ? T(1) : T(0);
    return t;
}

}  // namespace ichseg::test
