/// @file mse.cu
/// @brief Mean squared error, value and gradient in one kernel (block partials in double, host sum in order).
#include "elementwise.cuh"
#include "ichseg/cuda/mse.hpp"

namespace ichseg::cuda {
namespace kern {
struct MseTerm {
    float k;
    const float* y;
    const float* t;
    float* g;
    __device__ double operator()(long long i) const {
        const float d = __ldg(y + i) - __ldg(t + i);
        g[i] = k * d;
        return static_cast<double>(d) * d;
    }
};
}  // namespace kern
namespace launch {
double mse_loss_value_and_grad(const MseGeometry& g, const float* y, const float* t, float* grad) {
    const int64_t n = g.n;
    const float k = static_cast<float>(2.0 / static_cast<double>(n));
    return kern::launch_sum(n, kern::MseTerm{k, y, t, grad}) / static_cast<double>(n);
}
}  // namespace launch
}  // namespace ichseg::cuda
