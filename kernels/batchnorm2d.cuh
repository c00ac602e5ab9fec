/// @file batchnorm2d.cuh
/// @brief Batch-norm kernels (NCHW, statistics per channel over N, H, W).
///   statistics: channel_partial_kernel (channel_reduce.cuh) of shifted sums sum(x - x0), sum((x - x0)^2), where
///               x0 is the channel's first element (no catastrophic cancellation when |mean| >> std), then one
///               thread per channel merges the partials in double and writes mean, invstd, the running-statistics
///               update and the affine coefficients a = gamma * invstd, b = beta - mean * a.
///   apply:      grid (planes, slices); y = a x + b (+ ReLU), float4 when a plane is a multiple of 4 elements and x, y
///               are 16-byte aligned.
///   backward:   partial sums of dy' and dy' (x - mean) (dy' = dy masked by y > 0 with the fused ReLU), a per-channel
///               finalize in double, then dx = a dy' + cx x + b, exactly the CPU formula.
/// Three passes over x in training forward (2 reads + 1 write) and backward (3 reads + 1 write).
#pragma once

#include "channel_reduce.cuh"

namespace ichseg::cuda::kern::bn {

struct StatOp {
    const float* x;
    int HW;
    __device__ void operator()(long long idx, int c, float* acc) const {
        const float d = __ldg(x + idx) - __ldg(x + static_cast<long long>(c) * HW);
        acc[0] += d;
        acc[1] = fmaf(d, d, acc[1]);
    }
};

struct BwdOp {
    const float* dy;
    const float* x;
    const float* y;  // null without the fused ReLU
    const float* mean;
    __device__ void operator()(long long idx, int c, float* acc) const {
        float d = __ldg(dy + idx);
        if (y && !(__ldg(y + idx) > 0.f)) d = 0.f;
        acc[0] += d;
        acc[1] = fmaf(d, __ldg(x + idx) - __ldg(mean + c), acc[1]);
    }
};

}  // namespace ichseg::cuda::kern::bn
