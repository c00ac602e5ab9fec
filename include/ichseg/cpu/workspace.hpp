/// @file workspace.hpp
/// @brief Per-thread scratch buffers that persist across calls, so hot loops never allocate (im2col tiles,
/// packed operands, transformed filters). Each thread keeps its own growing buffer per slot.
#pragma once

#include <cstddef>
#include <vector>

namespace ichseg::cpu {

/// A buffer of at least n elements owned by the calling thread; `slot` separates buffers that are live at once.
template <class T>
T* thread_workspace(std::size_t n, int slot = 0) {
    thread_local std::vector<T> buffers[4];
    std::vector<T>& b = buffers[slot];
    if (b.size() < n) b.resize(n);
    return b.data();
}

/// Scratch owned by the calling thread for a whole operation (transformed filters, shared transform buffers),
/// kept between calls so that large operands are not allocated and page-faulted in on every call. Call it
/// outside parallel regions only; `slot` separates buffers that are live at once. The contents are not reset, and
/// the memory stays with the thread (for the paper U-Net's Winograd layers about 33 MB on the training thread).
template <class T>
std::vector<T>& caller_buffer(int slot) {
    thread_local std::vector<T> buffers[4];
    return buffers[slot];
}

}  // namespace ichseg::cpu
