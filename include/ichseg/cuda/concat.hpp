/// @file concat.hpp (cuda)
/// @brief CUDA concatenation: each input is one strided block copy into the output (outer x len -> outer x
/// total at an offset); backward copies the slices back out. Kernels: kernels/concat.cu.
#pragma once

#include <vector>

#include "ichseg/cuda/common.hpp"
#include "ichseg/params/concat.hpp"

namespace ichseg::cuda {

namespace launch {
/// to_out: dst[o * total + offset + i] = src[o * len + i]; otherwise the reverse. i < len, o < outer.
void concat_copy(int64_t outer, int64_t len, int64_t total, int64_t offset, const float* src, float* dst, bool to_out);
}  // namespace launch

/// float, and an output within 32-bit indexing.
template <class T>
Support supports(const ConcatGeometry& g) {
    return all_of(supports_dtype<T>(), supports_elements({g.numel()}));
}

/// y of `out_shape` (outer, total, inner) from the inputs (outer, sizes[i], inner).
template <class T>
Tensor<T> concat_fwd(const ConcatGeometry& g, const std::vector<Tensor<T>>& xs, const Shape& out_shape) {
    const char* op = "concat_fwd";
    detail::require_float<T>(op);
    const Device dev = xs.at(0).device();
    Tensor<T> y = Tensor<T>::empty(out_shape, dev);
    for (size_t i = 0; i < xs.size(); ++i) {
        const Tensor<T> x = detail::device_input(op, xs[i], dev);
        if constexpr (std::is_same_v<T, float>)
            launch::concat_copy(g.outer, g.sizes[i] * g.inner, g.total * g.inner, g.offsets[i] * g.inner, x.data(),
                                y.data(), true);
    }
    return y;
}

/// Slice i of dy as a tensor of `shape` (outer, sizes[i], inner).
template <class T>
Tensor<T> concat_bwd(const ConcatGeometry& g, size_t i, const Tensor<T>& dy_in, const Shape& shape) {
    const char* op = "concat_bwd";
    detail::require_float<T>(op);
    const Tensor<T> dy = detail::device_input(op, dy_in, dy_in.device());
    Tensor<T> dx = Tensor<T>::empty(shape, dy.device());
    if constexpr (std::is_same_v<T, float>)
        launch::concat_copy(g.outer, g.sizes[i] * g.inner, g.total * g.inner, g.offsets[i] * g.inner, dy.data(),
                            dx.data(), false);
    return dx;
}

}  // namespace ichseg::cuda
