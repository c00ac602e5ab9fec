/// @file dice.hpp (params)
/// @brief What both soft / mixed Dice backends take (cpu/dice.hpp, cuda/dice.hpp, kernels/dice.cu): the sizes
/// and the two scalars. Validated by loss/dice.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// B samples of M values each (every non-batch dimension of the prediction flattened).
struct DiceGeometry {
    int64_t B, M;

    ICHSEG_HOST_DEVICE int64_t numel() const { return B * M; }
};

struct DiceParams {
    double eps = 1.0;    ///< smoothing added to numerator and denominator
    double alpha = 1.0;  ///< weight of samples whose target is empty (mixed Dice: 0.2)
};

}  // namespace ichseg
