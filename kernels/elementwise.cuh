/// @file elementwise.cuh
/// @brief One grid-stride kernel for element-wise ops: f(i) for i in [0, n), 256 threads per block, at most
/// 32 blocks per SM (each thread then handles several elements; the loop keeps loads in flight).
#pragma once

#include "common.cuh"

namespace ichseg::cuda::kern {

template <class F>
__global__ void map_kernel(long long n, F f) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x)
        f(i);
}

template <class F>
void launch_map(int64_t n, F f) {
    if (n <= 0) return;
    map_kernel<<<detail::grid_for(n, 256, 32LL * detail::sm_count()), 256, 0, detail::stream()>>>(n, f);
    ICHSEG_CUDA_LAUNCH_CHECK();
}

/// Per-block partial sums (double) of f(i) over a grid-stride loop; returns the total added on the host in
/// block order (deterministic).
template <class F>
__global__ void partial_sum_kernel(long long n, F f, double* __restrict__ part) {
    __shared__ double scratch[32];
    double s = 0;
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x)
        s += f(i);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

double host_sum_of_partials(const double* dev_part, int blocks);

template <class F>
double launch_sum(int64_t n, F f) {
    if (n <= 0) return 0.0;
    const unsigned blocks = detail::grid_for(n, 256, 4LL * detail::sm_count());
    detail::Workspace<double> part(blocks);
    partial_sum_kernel<<<blocks, 256, 0, detail::stream()>>>(n, f, part.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    return host_sum_of_partials(part.ptr, static_cast<int>(blocks));
}

}  // namespace ichseg::cuda::kern
