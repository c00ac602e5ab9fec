/// @file relu.cu
/// @brief ReLU forward / backward (the U-Net fuses its ReLUs into batch norm; this is the stand-alone op).
#include "elementwise.cuh"
#include "ichseg/cuda/pointwise.hpp"

namespace ichseg::cuda {
namespace kern {
struct ReluFwd {
    const float* x;
    float* y;
    __device__ void operator()(long long i) const { const float v = __ldg(x + i); y[i] = v > 0.f ? v : 0.f; }
};
struct ReluBwd {
    const float* dy;
    const float* y;
    float* dx;
    __device__ void operator()(long long i) const { dx[i] = __ldg(y + i) > 0.f ? __ldg(dy + i) : 0.f; }
};
}  // namespace kern
namespace launch {
void relu_fwd(int64_t n, const float* x, float* y) { kern::launch_map(n, kern::ReluFwd{x, y}); }
void relu_bwd(int64_t n, const float* dy, const float* y, float* dx) { kern::launch_map(n, kern::ReluBwd{dy, y, dx}); }
}  // namespace launch
}  // namespace ichseg::cuda
