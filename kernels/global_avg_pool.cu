/// @file global_avg_pool.cu
/// @brief Global average pooling: one warp per (n, c) plane for the forward sum; broadcast for the backward.
#include "elementwise.cuh"
#include "ichseg/cuda/global_avg_pool.hpp"

namespace ichseg::cuda {
namespace kern {
__global__ void gap_fwd_kernel(long long planes, int HW, const float* __restrict__ x, float* __restrict__ y) {
    const long long plane = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (plane >= planes) return;
    const float* p = x + plane * HW;
    float s = 0.f;
    for (int i = lane; i < HW; i += 32) s += __ldg(p + i);
    s = warp_sum(s);
    if (lane == 0) y[plane] = s / static_cast<float>(HW);
}
struct GapBwd {
    int HW;
    const float* dy;
    float* dx;
    __device__ void operator()(long long i) const { dx[i] = __ldg(dy + i / HW) / static_cast<float>(HW); }
};
}  // namespace kern
namespace launch {
void global_avg_pool_fwd(int64_t planes, int64_t HW, const float* x, float* y) {
    if (planes == 0) return;
    kern::gap_fwd_kernel<<<detail::grid_for(planes * 32, 256, INT32_MAX), 256, 0, detail::stream()>>>(
        planes, static_cast<int>(HW), x, y);
    ICHSEG_CUDA_LAUNCH_CHECK();
}
void global_avg_pool_bwd(int64_t planes, int64_t HW, const float* dy, float* dx) {
    kern::launch_map(planes * HW, kern::GapBwd{static_cast<int>(HW), dy, dx});
}
}  // namespace launch
}  // namespace ichseg::cuda
