/// @file bce_with_logits.hpp (params)
/// @brief The sizes both BCE-with-logits backends take (cpu/bce_with_logits.hpp, cuda/bce_with_logits.hpp,
/// kernels/bce_with_logits.cu). Validated by loss/bce_with_logits.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// logits and targets (B, C); pos_weight, when given, has C values (one per label).
struct BceWithLogitsGeometry {
    int64_t B, C;

    ICHSEG_HOST_DEVICE int64_t numel() const { return B * C; }
};

}  // namespace ichseg
