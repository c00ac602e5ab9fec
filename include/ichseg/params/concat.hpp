/// @file concat.hpp (params)
/// @brief The block layout of a concatenation along one dimension, shared by cpu/concat.hpp and cuda/concat.hpp:
/// input i of shape (outer, size_i, inner) lands at offset offset_i along the concatenated dimension of the
/// output (outer, total, inner). Built and validated by ops/concat.hpp.
#pragma once

#include <cstdint>
#include <vector>

namespace ichseg {

struct ConcatGeometry {
    int64_t outer = 1, inner = 1, total = 0;
    std::vector<int64_t> sizes, offsets;  ///< per input, along the concatenated dimension

    int64_t numel() const { return outer * total * inner; }
};

}  // namespace ichseg
