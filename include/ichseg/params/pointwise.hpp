/// @file pointwise.hpp (params)
/// @brief What the element-wise backends take (cpu/pointwise.hpp, cuda/pointwise.hpp, kernels/{relu,sigmoid,
/// dropout,arithmetic}.cu): the element count, and the dropout mask's parameters.
#pragma once

#include <cstdint>

namespace ichseg {

/// The element-wise maps of one or two same-shape inputs that share one dispatch (ops/pointwise.hpp) and one
/// launcher per backend (cpu::pointwise_map, cuda::pointwise_map). The name is the entry point's, for errors.
enum class PointwiseMap { relu_fwd, relu_bwd, sigmoid_fwd, sigmoid_bwd, add, mul };

inline const char* name(PointwiseMap m) {
    static const char* const names[] = {"relu_fwd", "relu_bwd", "sigmoid_fwd", "sigmoid_bwd", "add", "mul"};
    return names[static_cast<int>(m)];
}
/// Whether the map reads a second input: the backward maps read (dy, y), add and mul read (a, b).
inline bool has_second_input(PointwiseMap m) { return m != PointwiseMap::relu_fwd && m != PointwiseMap::sigmoid_fwd; }
/// The names of the inputs in the entry point's signature, for errors.
inline const char* first_input_name(PointwiseMap m) {
    return m == PointwiseMap::add || m == PointwiseMap::mul ? "a" : has_second_input(m) ? "dy" : "x";
}
inline const char* second_input_name(PointwiseMap m) {
    return m == PointwiseMap::add || m == PointwiseMap::mul ? "b" : "y";
}

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
