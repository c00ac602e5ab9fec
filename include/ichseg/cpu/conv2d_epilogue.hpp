/// @file conv2d_epilogue.hpp (cpu)
/// @brief The loops that apply a convolution's per-channel epilogue (params/conv2d.hpp, ConvEpilogue:
/// y = act(scale[k] * c + shift[k])) to a run of one output channel's values as a CPU kernel writes them: in place
/// on a row the kernel has just written (still in L1), or while copying a row from the kernel's buffer into y.
/// The arithmetic is that of the inference batch norm's loop (cpu/batchnorm2d.hpp), c * scale + shift then
/// max(0, .), so that a fused convolution and batch norm round exactly as the two passes do, up to whether the
/// compiler contracts the multiply-add into one FMA at each site.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ichseg/params/conv2d.hpp"

namespace ichseg::cpu {

/// dst[i] = act(src[i] * scale[k] + shift[k]) for i < n; a plain copy when the epilogue is inactive.
template <class T>
inline void conv_epilogue_copy(const ConvEpilogue<T>& ep, int64_t k, const T* src, T* dst, int64_t n) {
    if (!ep.active()) {
        std::copy(src, src + n, dst);
        return;
    }
    const T a = ep.scale[k], b = ep.shift[k];
    if (ep.relu) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dst[i] = std::max(T(0), src[i] * a + b);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * a + b;
    }
}

/// row[i] = act(row[i] * scale[k] + shift[k]) for i < n (nothing when the epilogue is inactive).
template <class T>
inline void conv_epilogue_inplace(const ConvEpilogue<T>& ep, int64_t k, T* row, int64_t n) {
    if (ep.active()) conv_epilogue_copy(ep, k, row, row, n);  // element i reads and writes only index i
}

}  // namespace ichseg::cpu
