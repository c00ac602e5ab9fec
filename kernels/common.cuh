/// @file common.cuh
/// @brief What every kernel file shares: the error check, the ichseg stream, stream-ordered workspace from the
/// pool, launch-size helpers and warp / block reductions. Included only by kernels/*.cu (nvcc).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "ichseg/core/error.hpp"
#include "ichseg/cuda/runtime.hpp"

namespace ichseg::cuda::detail {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line);
/// The non-blocking stream every ichseg op of the current device is queued on.
cudaStream_t stream();
/// Stream-ordered scratch memory from the same pool as tensors (cudaMallocAsync / cudaFreeAsync on stream()).
void* workspace_allocate(std::size_t bytes);
void workspace_free(void* p);
/// Multiprocessor count and compute capability (major * 10 + minor) of the current device (cached).
int sm_count();
int compute_capability();

/// RAII scratch buffer: freed (stream-ordered) when it goes out of scope; kernels queued before that still see it.
template <class T>
struct Workspace {
    T* ptr = nullptr;
    explicit Workspace(std::size_t n) : ptr(static_cast<T*>(workspace_allocate(n * sizeof(T)))) {}
    ~Workspace() { workspace_free(ptr); }
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;
};

inline unsigned grid_for(int64_t n, int threads, int64_t cap = 1 << 20) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > cap) b = cap;
    return static_cast<unsigned>(b);
}

}  // namespace ichseg::cuda::detail

#define ICHSEG_CUDA_CHECK(expr)                                                                  \
    do {                                                                                         \
        const cudaError_t ichseg_e_ = (expr);                                                    \
        if (ichseg_e_ != cudaSuccess)                                                            \
            ::ichseg::cuda::detail::throw_cuda_error(ichseg_e_, #expr, __FILE__, __LINE__);      \
    } while (0)

/// After every launch: configuration errors surface here, execution errors at the next synchronisation.
#define ICHSEG_CUDA_LAUNCH_CHECK() ICHSEG_CUDA_CHECK(cudaGetLastError())

namespace ichseg::cuda::kern {

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <class T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
/// `scratch` must hold 32 values; the function synchronises the block twice.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    T r = lane < nwarps ? scratch[lane] : T(0);
    return warp_sum(r);
}

}  // namespace ichseg::cuda::kern
