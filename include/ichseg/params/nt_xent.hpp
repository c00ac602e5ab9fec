/// @file nt_xent.hpp (params)
/// @brief The sizes both NT-Xent backends take (cpu/nt_xent.hpp, cuda/nt_xent.hpp, kernels/nt_xent.cu); the
/// temperature is passed beside it. Validated by loss/nt_xent.hpp.
#pragma once

#include <cstdint>

#include "ichseg/config.hpp"

namespace ichseg {

/// `rows` = 2N embeddings of length D; rows i and i + N are the two views of one image.
struct NtXentGeometry {
    int64_t rows, D;

    ICHSEG_HOST_DEVICE int64_t numel() const { return rows * D; }
};

}  // namespace ichseg
