/// @file concat.hpp (cpu)
/// @brief Concatenation on the CPU: each input is one strided block copy into the output (rows of `outer`),
/// and the backward pass (split) copies the slices back out.
#pragma once

#include <cstring>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/params/concat.hpp"

namespace ichseg::cpu {

/// y (outer, total, inner) from the inputs xs[i] (outer, sizes[i], inner).
template <class T>
void concat_fwd(const ConcatGeometry& g, const std::vector<const T*>& xs, T* y) {
    parallel_for(g.outer, [&](int64_t o) {
        for (size_t i = 0; i < xs.size(); ++i) {
            const int64_t len = g.sizes[i] * g.inner;
            std::memcpy(y + (o * g.total + g.offsets[i]) * g.inner, xs[i] + o * len, sizeof(T) * len);
        }
    }, g.numel());
}

/// Slice i of dy (outer, total, inner) into dx (outer, sizes[i], inner).
template <class T>
void concat_bwd(const ConcatGeometry& g, size_t i, const T* dy, T* dx) {
    const int64_t len = g.sizes[i] * g.inner;
    parallel_for(g.outer, [&](int64_t o) {
        std::memcpy(dx + o * len, dy + (o * g.total + g.offsets[i]) * g.inner, sizeof(T) * len);
    }, g.outer * len);
}

}  // namespace ichseg::cpu
