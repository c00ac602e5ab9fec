/// @file bce_with_logits.cu
/// @brief Mean BCE with logits and per-label pos_weight, value and gradient in one kernel (per-element math in
/// double, as on the CPU; block partials of the loss added on the host in order).
#include "elementwise.cuh"
#include "ichseg/cuda/bce_with_logits.hpp"

namespace ichseg::cuda {
namespace kern {
struct BceTerm {
    int C;
    double n;
    const float* x;
    const float* t;
    const float* pw;
    float* g;
    __device__ double operator()(long long i) const {
        const double xv = x[i], tv = t[i], w = pw ? static_cast<double>(pw[i % C]) : 1.0;
        const double lw = 1 + (w - 1) * tv;
        const double sig = 1 / (1 + exp(-xv));
        g[i] = static_cast<float>((sig * lw - w * tv) / n);
        return (1 - tv) * xv + lw * (log1p(exp(-fabs(xv))) + fmax(-xv, 0.0));
    }
};
}  // namespace kern
namespace launch {
double bce_with_logits_loss_value_and_grad(const BceWithLogitsGeometry& g, const float* x, const float* t,
                                           const float* pos_weight, float* grad) {
    const double n = static_cast<double>(g.numel());
    return kern::launch_sum(g.numel(), kern::BceTerm{static_cast<int>(g.C), n, x, t, pos_weight, grad}) / n;
}
}  // namespace launch
}  // namespace ichseg::cuda
