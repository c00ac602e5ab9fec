/// @file cross_entropy.hpp (params)
/// @brief The sizes both softmax cross-entropy backends take (cpu/cross_entropy.hpp, cuda/cross_entropy.hpp,
/// kernels/cross_entropy.cu). Validated by loss/cross_entropy.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// B rows of K class logits; B labels in [0, K).
struct CrossEntropyGeometry {
    int64_t B, K;

    ICHSEG_HOST_DEVICE int64_t numel() const { return B * K; }
};

}  // namespace ichseg
