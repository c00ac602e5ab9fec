/// @file mse.hpp (params)
/// @brief The size both mean-squared-error backends take (cpu/mse.hpp, cuda/mse.hpp, kernels/mse.cu).
/// Validated by loss/mse.hpp.
#pragma once

#include <cstdint>

namespace ichseg {

/// n > 0 elements in prediction and target (any shape, the same for both).
struct MseGeometry {
    int64_t n;
};

}  // namespace ichseg
