/// @file adam.cu
/// @brief Adam with coupled L2 weight decay, one element-wise kernel per parameter tensor, the CPU's arithmetic.
#include "elementwise.cuh"
#include "ichseg/cuda/adam.hpp"

namespace ichseg::cuda {
namespace kern {
struct AdamStep {
    float* p;
    const float* g;
    float* m;
    float* v;
    float one_minus_b1, b2, one_minus_b2, wd, step_size, bc2_sqrt, eps;
    __device__ void operator()(long long i) const {
        float gi = g[i];
        if (wd != 0.f) gi += wd * p[i];
        const float mi = m[i] + one_minus_b1 * (gi - m[i]);
        const float vi = v[i] * b2 + one_minus_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
};
}  // namespace kern
namespace launch {
void adam_update(int64_t n, float* p, const float* g, float* m, float* v, float one_minus_b1, float b2,
                 float one_minus_b2, float wd, float step_size, float bc2_sqrt, float eps) {
    kern::launch_map(n, kern::AdamStep{p, g, m, v, one_minus_b1, b2, one_minus_b2, wd, step_size, bc2_sqrt, eps});
}
}  // namespace launch
}  // namespace ichseg::cuda
