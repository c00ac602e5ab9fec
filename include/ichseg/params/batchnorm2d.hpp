/// @file batchnorm2d.hpp (params)
/// @brief What both batch-norm backends take (cpu/batchnorm2d.hpp, cuda/batchnorm2d.hpp, kernels/batchnorm2d.cu):
/// the sizes and the scalar parameters. Validated by ops/batchnorm2d.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// x (N, C, H, W) read as N x C planes of HW values.
struct BatchNorm2dGeometry {
    int64_t N, C, HW;

    ICHSEG_HOST_DEVICE int64_t numel() const { return N * C * HW; }
};

/// torch.nn.BatchNorm2d's eps and momentum, and whether a ReLU follows (fused: the pre-ReLU value is never stored).
struct BatchNorm2dParams {
    double eps = 1e-5;
    double momentum = 0.1;
    bool relu = false;  ///< apply ReLU to the output (fused epilogue)
};

}  // namespace ichseg
