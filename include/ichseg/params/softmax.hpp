/// @file softmax.hpp (params)
/// @brief The sizes of a softmax over the last dimension, shared by cpu/softmax.hpp and cuda/softmax.hpp.
#pragma once

#include <cstdint>

namespace ichseg {

/// `rows` independent rows of K values (K = the last extent, rows = numel / K).
struct SoftmaxGeometry {
    int64_t rows, K;
};

}  // namespace ichseg
