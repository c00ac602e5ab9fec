/// @file dice.cu
/// @brief Fused soft / mixed Dice: value and gradient in two kernels.
///   1. grid (B, S): block (b, s) sums p t, p^2, t^2 and t over slice s of sample b (float in registers and in
///      the block tree, written as double).
///   2. grid (B, S): every block re-derives its sample's totals from the S partials in double (S <= 64: cheaper
///      than a third launch), then g = a_b p + c_b t; block (b, 0) records the sample's loss.
/// The B sample losses are added on the host in order, as on the CPU.
#include <vector>

#include "elementwise.cuh"
#include "ichseg/cuda/dice.hpp"

namespace ichseg::cuda {
namespace kern {

__global__ void dice_partial_kernel(int M, int chunk, const float* __restrict__ p, const float* __restrict__ t,
                                    double* __restrict__ part) {
    __shared__ float scratch[32];
    const int b = blockIdx.x, s = blockIdx.y;
    const long long base = static_cast<long long>(b) * M;
    const int lo = s * chunk, hi = min(M, lo + chunk);
    float I = 0.f, P2 = 0.f, T2 = 0.f, Ts = 0.f;
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        const float pv = __ldg(p + base + i), tv = __ldg(t + base + i);
        I = fmaf(pv, tv, I), P2 = fmaf(pv, pv, P2), T2 = fmaf(tv, tv, T2), Ts += tv;
    }
    const float v[4] = {I, P2, T2, Ts};
    for (int k = 0; k < 4; ++k) {
        const float r = block_sum(v[k], scratch);
        if (threadIdx.x == 0) part[(static_cast<long long>(b) * gridDim.y + s) * 4 + k] = r;
    }
}

__global__ void dice_grad_kernel(int B, int M, int chunk, const float* __restrict__ p, const float* __restrict__ t,
                                 const double* __restrict__ part, double eps, double alpha, float* __restrict__ g,
                                 double* __restrict__ loss_b) {
    __shared__ float coef[2];
    const int b = blockIdx.x, s = blockIdx.y, S = gridDim.y;
    if (threadIdx.x == 0) {
        double I = 0, P2 = 0, T2 = 0, Ts = 0;
        for (int k = 0; k < S; ++k) {
            const double* q = part + (static_cast<long long>(b) * S + k) * 4;
            I += q[0], P2 += q[1], T2 += q[2], Ts += q[3];
        }
        const double Sd = P2 + T2 + eps, num = 2 * I + eps;
        const double w = (Ts == 0 ? alpha : 1.0) / static_cast<double>(B);
        coef[0] = static_cast<float>(w * 2 * num / (Sd * Sd));
        coef[1] = static_cast<float>(-w * 2 / Sd);
        if (s == 0) loss_b[b] = w * (1.0 - num / Sd);
    }
    __syncthreads();
    const float a = coef[0], c = coef[1];
    const long long base = static_cast<long long>(b) * M;
    const int lo = s * chunk, hi = min(M, lo + chunk);
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) g[base + i] = fmaf(a, __ldg(p + base + i), c * __ldg(t + base + i));
}

}  // namespace kern

namespace launch {
double dice_loss_value_and_grad(const DiceGeometry& g, const DiceParams& p, const float* pred, const float* target,
                                float* grad) {
    const int64_t B = g.B, M = g.M;
    const double eps = p.eps, alpha = p.alpha;
    if (B == 0) return 0.0;
    cudaStream_t st = detail::stream();
    int64_t S = std::max<int64_t>(1, std::min<int64_t>((4LL * detail::sm_count() + B - 1) / B, (M + 1023) / 1024));
    S = std::min<int64_t>(S, 64);
    const int64_t chunk = std::max<int64_t>(1, (M + S - 1) / S);
    S = std::max<int64_t>(1, (M + chunk - 1) / chunk);
    detail::Workspace<double> part(static_cast<std::size_t>(B * S * 4));
    detail::Workspace<double> loss_b(static_cast<std::size_t>(B));
    const dim3 grid(static_cast<unsigned>(B), static_cast<unsigned>(S));
    kern::dice_partial_kernel<<<grid, 256, 0, st>>>(static_cast<int>(M), static_cast<int>(chunk), pred, target, part.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    kern::dice_grad_kernel<<<grid, 256, 0, st>>>(static_cast<int>(B), static_cast<int>(M), static_cast<int>(chunk), pred,
                                                 target, part.ptr, eps, alpha, grad, loss_b.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    std::vector<double> h(static_cast<std::size_t>(B));
    ICHSEG_CUDA_CHECK(cudaMemcpyAsync(h.data(), loss_b.ptr, sizeof(double) * B, cudaMemcpyDeviceToHost, st));
    ICHSEG_CUDA_CHECK(cudaStreamSynchronize(st));
    double total = 0;
    for (double l : h) total += l;
    return total;
}
}  // namespace launch
}  // namespace ichseg::cuda
