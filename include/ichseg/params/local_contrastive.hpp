/// @file local_contrastive.hpp (params)
/// @brief The sizes both local-contrastive backends take (cpu/local_contrastive.hpp,
/// cuda/local_contrastive.hpp, kernels/local_contrastive.cu); the temperature is passed beside it. Validated by
/// loss/local_contrastive.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// Feature maps (B, C, H, W) of two views, tiled into K x K cells ((H/K) x (W/K) grid, row-major index), R cells
/// per image. A region vector is the flattened (C, K, K) block: D = C K K; each image contributes 2R rows.
struct LocalContrastiveGeometry {
    int64_t B, C, H, W, K, R;

    ICHSEG_HOST_DEVICE int64_t grid_w() const { return W / K; }
    ICHSEG_HOST_DEVICE int64_t grid_h() const { return H / K; }
    ICHSEG_HOST_DEVICE int64_t D() const { return C * K * K; }
    ICHSEG_HOST_DEVICE int64_t rows() const { return 2 * R; }
    ICHSEG_HOST_DEVICE int64_t map_numel() const { return B * C * H * W; }
};

}  // namespace ichseg
