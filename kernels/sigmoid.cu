/// @file sigmoid.cu
/// @brief Logistic sigmoid y = 1 / (1 + exp(-x)) and dx = dy y (1 - y).
#include "elementwise.cuh"
#include "ichseg/cuda/pointwise.hpp"

namespace ichseg::cuda {
namespace kern {
struct SigmoidFwd {
    const float* x;
    float* y;
    __device__ void operator()(long long i) const { y[i] = 1.f / (1.f + expf(-__ldg(x + i))); }
};
struct SigmoidBwd {
    const float* dy;
    const float* y;
    float* dx;
    __device__ void operator()(long long i) const {
        const float v = __ldg(y + i);
        dx[i] = __ldg(dy + i) * v * (1.f - v);
    }
};
}  // namespace kern
namespace launch {
void sigmoid_fwd(int64_t n, const float* x, float* y) { kern::launch_map(n, kern::SigmoidFwd{x, y}); }
void sigmoid_bwd(int64_t n, const float* dy, const float* y, float* dx) {
    kern::launch_map(n, kern::SigmoidBwd{dy, y, dx});
}
}  // namespace launch
}  // namespace ichseg::cuda
