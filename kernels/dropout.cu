/// @file dropout.cu
/// @brief Inverted dropout with the CPU's Philox stream: element i is kept when
/// random_uniform(seed, stream, i) >= p (core/rng.hpp is host/device code), so masks are bit-identical.
#include "elementwise.cuh"
#include "ichseg/core/rng.hpp"
#include "ichseg/cuda/pointwise.hpp"

namespace ichseg::cuda {
namespace kern {
struct DropoutApply {
    const float* x;
    float* y;
    unsigned long long seed, stream;
    float p, scale;
    __device__ void operator()(long long i) const {
        const bool keep = random_uniform(seed, stream, static_cast<uint64_t>(i)) >= p;
        y[i] = keep ? __ldg(x + i) * scale : 0.f;
    }
};
}  // namespace kern
namespace launch {
void dropout_apply(int64_t n, const float* x, float* y, uint64_t seed, uint64_t stream, double p) {
    kern::launch_map(n, kern::DropoutApply{x, y, seed, stream, static_cast<float>(p), static_cast<float>(1.0 / (1.0 - p))});
}
}  // namespace launch
}  // namespace ichseg::cuda
