/// @file pointwise.hpp (params)
/// @brief What the element-wise backends take (cpu/pointwise.hpp, cuda/pointwise.hpp, kernels/{relu,sigmoid,
/// dropout,arithmetic}.cu): the element count, and the dropout mask's parameters.
#pragma once

#include <cstdint>

namespace ichseg {

/// n independent elements (every element-wise op; inputs and outputs contiguous, same shape).
struct PointwiseGeometry {
    int64_t n;
};

/// Inverted dropout: element i is kept when random_uniform(seed, stream, i) >= p (core/rng.hpp) and scaled by
/// 1 / (1 - p). The same (seed, stream) regenerates the same mask on either backend.
struct DropoutMask {
    uint64_t seed, stream;
    double p;
};

}  // namespace ichseg
