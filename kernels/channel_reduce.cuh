/// @file channel_reduce.cuh
/// @brief Per-channel reductions over (N, H, W) of NCHW tensors, the shape of batch-norm statistics and bias
/// gradients. Two kernels, both deterministic: block (c, s) sums slice s of every plane of channel c (float in
/// registers, float tree in the block, written as double), then one thread per channel adds the S partials in
/// double in order. S is chosen so that about four blocks per SM are busy even when C is small (16 channels
/// at 256 x 256 in the first U-Net level).
#pragma once

#include "common.cuh"

namespace ichseg::cuda::kern {

struct ChannelSplit {
    int S;        // slices per channel
    int chunk;    // elements of a plane per slice (multiple of 4)
};

inline ChannelSplit channel_split(int64_t C, int64_t HW) {
    const int64_t want = 4LL * detail::sm_count();
    int64_t S = (want + C - 1) / C;
    S = std::max<int64_t>(1, std::min<int64_t>(S, (HW + 1023) / 1024));
    int64_t chunk = (HW + S - 1) / S;
    chunk = (chunk + 3) / 4 * 4;
    S = (HW + chunk - 1) / chunk;
    return {static_cast<int>(std::max<int64_t>(S, 1)), static_cast<int>(std::max<int64_t>(chunk, 4))};
}

/// f(plane_offset + i, c) returns NV floats to accumulate for element i of plane (n, c).
/// out[(c * S + s) * NV + v] = sum over the slice of value v.
template <int NV, class F>
__global__ void channel_partial_kernel(int N, int C, int HW, int chunk, F f, double* __restrict__ out) {
    __shared__ float scratch[32];
    const int c = blockIdx.x, s = blockIdx.y;
    const int lo = s * chunk, hi = min(HW, lo + chunk);
    float acc[NV];
#pragma unroll
    for (int v = 0; v < NV; ++v) acc[v] = 0.f;
    for (int n = 0; n < N; ++n) {
        const long long base = (static_cast<long long>(n) * C + c) * HW;
        for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) f(base + i, c, acc);
    }
#pragma unroll
    for (int v = 0; v < NV; ++v) {
        const float t = block_sum(acc[v], scratch);
        if (threadIdx.x == 0) out[(static_cast<long long>(c) * gridDim.y + s) * NV + v] = t;
    }
}

}  // namespace ichseg::cuda::kern
