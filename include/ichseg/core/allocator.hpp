/// @file allocator.hpp
/// @brief Raw buffers on a device. The CPU path is built in (64-byte aligned); CUDA buffers come from the
/// stream-ordered pool that the CUDA backend installs in the device hooks (core/device_hooks.hpp), so this header
/// never includes CUDA headers.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "ichseg/core/device.hpp"
#include "ichseg/core/device_hooks.hpp"
#include "ichseg/core/error.hpp"

namespace ichseg {

/// Bytes held by CPU tensor buffers now and at the peak since the last reset (for benchmarks and tests).
/// Cached free blocks are not counted.
struct MemoryStats {
    std::atomic<int64_t> current{0};
    std::atomic<int64_t> peak{0};
};
inline MemoryStats& cpu_memory_stats() {
    static MemoryStats s;
    return s;
}
inline void reset_peak_memory() { cpu_memory_stats().peak = cpu_memory_stats().current.load(); }

namespace detail {
/// Freed CPU blocks kept by exact size for reuse. A training step allocates the same sizes every step, so
/// reusing them avoids the page faults (and kernel zeroing) of fresh large allocations. The cache holds at
/// most `limit` bytes; beyond that blocks are returned to the system.
class CpuBlockCache {
public:
    static CpuBlockCache& instance() {
        static CpuBlockCache* c = new CpuBlockCache;  // never destroyed: tensors may be freed during exit
        return *c;
    }
    void* take(std::size_t bytes) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = free_.find(bytes);
        if (it == free_.end() || it->second.empty()) return nullptr;
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        return p;
    }
    void give(void* p, std::size_t bytes) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (cached_ + bytes <= limit_) {
                free_[bytes].push_back(p);
                cached_ += bytes;
                return;
            }
        }
        std::free(p);
    }
    /// Return every cached block to the system.
    void clear() {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& kv : free_)
            for (void* p : kv.second) std::free(p);
        free_.clear();
        cached_ = 0;
    }
    void set_limit(std::size_t bytes) {
        limit_ = bytes;
        if (cached_ > limit_) clear();
    }
    std::size_t cached_bytes() const { return cached_; }

private:
    std::mutex mu_;
    std::map<std::size_t, std::vector<void*>> free_;
    std::size_t cached_ = 0;
    std::size_t limit_ = std::size_t(2) << 30;
};
}  // namespace detail

/// Return the CPU tensor cache to the system (e.g. between phases with different tensor sizes).
inline void empty_cpu_cache() { detail::CpuBlockCache::instance().clear(); }
/// Upper bound on cached free CPU memory (default 2 GiB; 0 disables caching).
inline void set_cpu_cache_limit(std::size_t bytes) { detail::CpuBlockCache::instance().set_limit(bytes); }

inline void* device_allocate(std::size_t bytes, Device dev) {
    if (bytes == 0) bytes = 64;
    if (dev.is_cpu()) {
        const std::size_t rounded = (bytes + 63) / 64 * 64;
        void* p = detail::CpuBlockCache::instance().take(rounded);
        if (!p) p = std::aligned_alloc(64, rounded);
        if (!p) fail("out of host memory allocating ", bytes, " bytes");
        MemoryStats& st = cpu_memory_stats();
        const int64_t now = st.current += static_cast<int64_t>(rounded);
        int64_t pk = st.peak.load();
        while (now > pk && !st.peak.compare_exchange_weak(pk, now)) {
        }
        return p;
    }
    if (!cuda_hooks_ready()) no_cuda_backend("allocating a CUDA tensor");
    return cuda_hooks().allocate(bytes, dev.index);
}

inline void device_deallocate(void* p, std::size_t bytes, Device dev) noexcept {
    if (!p) return;
    if (dev.is_cpu()) {
        const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64;
        cpu_memory_stats().current -= static_cast<int64_t>(rounded);
        detail::CpuBlockCache::instance().give(p, rounded);
    } else if (cuda_hooks().deallocate) {
        cuda_hooks().deallocate(p, dev.index);
    }
}

inline void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) {
    if (bytes == 0) return;
    if (dst_dev.is_cpu() && src_dev.is_cpu()) {
        std::memcpy(dst, src, bytes);
        return;
    }
    if (!cuda_hooks_ready()) no_cuda_backend("copying to or from a CUDA tensor");
    cuda_hooks().copy(dst, dst_dev, src, src_dev, bytes);
}

inline void device_zero(void* p, std::size_t bytes, Device dev) {
    if (dev.is_cpu()) {
        std::memset(p, 0, bytes);
        return;
    }
    if (!cuda_hooks_ready()) no_cuda_backend("zeroing a CUDA tensor");
    cuda_hooks().memset_zero(p, bytes, dev.index);
}

}  // namespace ichseg
