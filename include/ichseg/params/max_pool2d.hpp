/// @file max_pool2d.hpp (params)
/// @brief The sizes of one 2-D max pooling without padding (NCHW), shared by cpu/max_pool2d.hpp,
/// cuda/max_pool2d.hpp and kernels/max_pool2d.cu. Built and validated by ops/max_pool2d.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// Input N x C x H x W, window kh x kw moved by (sh, sw), output N x C x P x Q with P = (H - kh) / sh + 1.
struct Pool2dGeometry {
    int64_t N, C, H, W, kh, kw, sh, sw, P, Q;

    ICHSEG_HOST_DEVICE int64_t input_numel() const { return N * C * H * W; }
    ICHSEG_HOST_DEVICE int64_t output_numel() const { return N * C * P * Q; }
};

}  // namespace ichseg
