/// @file linear.hpp (params)
/// @brief The sizes of one fully connected layer y = x W^T + b, shared by cpu/linear.hpp, cuda/linear.hpp and
/// kernels/linear.cu. Validated by ops/linear.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// x (N, in), W (out, in), b (out), y (N, out).
struct LinearGeometry {
    int64_t N, in, out;
};

}  // namespace ichseg
