/// @file cross_entropy.cu
/// @brief Mean softmax cross-entropy: one warp per row (max, log-sum-exp in double, gradient), row losses
/// added on the host in order.
#include <vector>

#include "elementwise.cuh"
#include "ichseg/cuda/cross_entropy.hpp"

namespace ichseg::cuda {
namespace kern {
__global__ void cross_entropy_kernel(int B, int K, const float* __restrict__ x, const int64_t* __restrict__ labels,
                                     float* __restrict__ g, double* __restrict__ loss_row) {
    const int b = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (b >= B) return;
    const float* xp = x + static_cast<long long>(b) * K;
    double m = -INFINITY;
    for (int k = lane; k < K; k += 32) m = fmax(m, static_cast<double>(xp[k]));
    m = warp_max(m);
    double se = 0;
    for (int k = lane; k < K; k += 32) se += exp(xp[k] - m);
    se = warp_sum(se);
    const double lse = m + log(se);
    const int64_t y = labels[b];
    for (int k = lane; k < K; k += 32)
        g[static_cast<long long>(b) * K + k] = static_cast<float>((exp(xp[k] - lse) - (k == y ? 1.0 : 0.0)) / B);
    if (lane == 0) loss_row[b] = lse - xp[y];
}
}  // namespace kern
namespace launch {
double cross_entropy_loss_value_and_grad(const CrossEntropyGeometry& g, const float* x, const int64_t* labels,
                                         float* grad) {
    const int64_t B = g.B, K = g.K;
    if (B == 0) return 0.0;
    cudaStream_t st = detail::stream();
    detail::Workspace<double> rows(static_cast<std::size_t>(B));
    kern::cross_entropy_kernel<<<detail::grid_for(B * 32, 256, INT32_MAX), 256, 0, st>>>(
        static_cast<int>(B), static_cast<int>(K), x, labels, grad, rows.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    std::vector<double> h(static_cast<std::size_t>(B));
    ICHSEG_CUDA_CHECK(cudaMemcpyAsync(h.data(), rows.ptr, sizeof(double) * B, cudaMemcpyDeviceToHost, st));
    ICHSEG_CUDA_CHECK(cudaStreamSynchronize(st));
    double s = 0;
    for (double v : h) s += v;
    return s / static_cast<double>(B);
}
}  // namespace launch
}  // namespace ichseg::cuda
