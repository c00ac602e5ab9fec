/// @file softmax.cu
/// @brief Softmax over the last dimension, one warp per row: max, sum of exp, normalise; backward
/// dx = y (dy - sum(dy y)).
#include "elementwise.cuh"
#include "ichseg/cuda/softmax.hpp"

namespace ichseg::cuda {
namespace kern {
__global__ void softmax_fwd_kernel(long long rows, int K, const float* __restrict__ x, float* __restrict__ y) {
    const long long r = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float* xp = x + r * K;
    float* yp = y + r * K;
    float m = -INFINITY;
    for (int k = lane; k < K; k += 32) m = fmaxf(m, __ldg(xp + k));
    m = warp_max(m);
    float s = 0.f;
    for (int k = lane; k < K; k += 32) {
        const float e = expf(__ldg(xp + k) - m);
        yp[k] = e;
        s += e;
    }
    s = warp_sum(s);
    const float inv = 1.f / s;
    for (int k = lane; k < K; k += 32) yp[k] *= inv;
}
__global__ void softmax_bwd_kernel(long long rows, int K, const float* __restrict__ dy, const float* __restrict__ y,
                                   float* __restrict__ dx) {
    const long long r = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float* g = dy + r * K;
    const float* yp = y + r * K;
    float dot = 0.f;
    for (int k = lane; k < K; k += 32) dot += __ldg(g + k) * __ldg(yp + k);
    dot = warp_sum(dot);
    for (int k = lane; k < K; k += 32) dx[r * K + k] = __ldg(yp + k) * (__ldg(g + k) - dot);
}
}  // namespace kern
namespace launch {
void softmax_fwd(int64_t rows, int64_t K, const float* x, float* y) {
    if (rows == 0 || K == 0) return;
    kern::softmax_fwd_kernel<<<detail::grid_for(rows * 32, 256, INT32_MAX), 256, 0, detail::stream()>>>(
        rows, static_cast<int>(K), x, y);
    ICHSEG_CUDA_LAUNCH_CHECK();
}
void softmax_bwd(int64_t rows, int64_t K, const float* dy, const float* y, float* dx) {
    if (rows == 0 || K == 0) return;
    kern::softmax_bwd_kernel<<<detail::grid_for(rows * 32, 256, INT32_MAX), 256, 0, detail::stream()>>>(
        rows, static_cast<int>(K), dy, y, dx);
    ICHSEG_CUDA_LAUNCH_CHECK();
}
}  // namespace launch
}  // namespace ichseg::cuda
