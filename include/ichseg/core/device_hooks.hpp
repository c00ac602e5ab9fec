/// @file device_hooks.hpp
/// @brief The one door from the layers below ops/ to the CUDA backend: a table of function pointers that the
/// backend (kernels/runtime.cu, in ichseg::cuda) fills in. core/ and autograd/ never include cuda/: tensor
/// memory (allocate, free, copy, zero), the tape's gradient accumulation and the device queries of
/// core/device_choice.hpp all go through this table. In a program without the backend the pointers stay null
/// and every CUDA request gets the "built without the ichseg CUDA backend" error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ichseg/config.hpp"
#include "ichseg/core/device.hpp"
#include "ichseg/core/error.hpp"

namespace ichseg {

/// Hooks that a device backend fills in. All null until the CUDA backend registers itself.
struct DeviceBackendHooks {
    void* (*allocate)(std::size_t bytes, int device) = nullptr;
    void (*deallocate)(void* p, int device) = nullptr;
    /// Copy `bytes` from src to dst; either side may be on the CPU or the CUDA device.
    void (*copy)(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) = nullptr;
    void (*memset_zero)(void* p, std::size_t bytes, int device) = nullptr;
    /// dst[i] += src[i], i < n, float buffers on `device` (the autograd tape's gradient sums).
    void (*add_inplace_f32)(float* dst, const float* src, int64_t n, int device) = nullptr;
    /// Number of usable CUDA devices; 0 when there is none or the driver cannot be used, with the reason in *why.
    int (*device_count)(std::string* why) = nullptr;
    /// "NVIDIA H100 80GB HBM3 (sm_90, ...), precision tf32": the device and the precision its ops use by default.
    std::string (*describe_device)(int device) = nullptr;
};

inline DeviceBackendHooks& cuda_hooks() {
    static DeviceBackendHooks hooks;
    return hooks;
}

#if ICHSEG_WITH_CUDA
namespace cuda {
void register_backend();  // kernels/runtime.cu (ichseg::cuda): fills in cuda_hooks()
}  // namespace cuda
#endif

/// True when CUDA hooks are installed; in a build linked with ichseg::cuda the first call installs them.
inline bool cuda_hooks_ready() {
#if ICHSEG_WITH_CUDA
    if (!cuda_hooks().allocate) cuda::register_backend();
#endif
    return cuda_hooks().allocate != nullptr;
}

[[noreturn]] inline void no_cuda_backend(const char* what) {
    fail(what,
         ": this program was built without the ichseg CUDA backend (reconfigure with -DICHSEG_CUDA=ON and "
         "link ichseg::cuda)");
}

}  // namespace ichseg
