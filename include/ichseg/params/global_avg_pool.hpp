/// @file global_avg_pool.hpp (params)
/// @brief The sizes of a global average pooling (N, C, H, W) -> (N, C), shared by cpu/global_avg_pool.hpp and
/// cuda/global_avg_pool.hpp.
#pragma once

#include <cstdint>

namespace ichseg {

/// `planes` = N C planes of HW = H W values each.
struct GlobalPoolGeometry {
    int64_t planes, HW;
};

}  // namespace ichseg
