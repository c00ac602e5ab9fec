/// @file nt_xent.cu
/// @brief NT-Xent (SimCLR) for G independent groups of `rows` embeddings (one group: the global loss; one group per
/// image: the local contrastive loss of kernels/local_contrastive.cu).
///   normalise: one warp per row, |z| in double, u = z / max(|z|, 1e-12).
///   logits:    one block per (anchor i, group): s_ij = u_i . u_j / tau (one warp per j), log-sum-exp over j != i in
///              double, A_ij = (softmax_ij - [j = pos]) * weight / rows, l_i = lse - s_i,pos.
///   gradient:  one block per (row i, group): dU_i = (1/tau) sum_j (A_ij + A_ji) u_j, dz_i = (dU_i - u_i (u_i . dU_i)) / |z_i|.
/// O(rows^2 D) work: about 2 MFLOP for the paper's 2 x 60 x 128, so three small launches.
#include <vector>

#include "elementwise.cuh"
#include "ichseg/cuda/nt_xent.hpp"

namespace ichseg::cuda {
namespace kern {

__global__ void ntx_normalize_kernel(long long nrows, int D, const float* __restrict__ z, float* __restrict__ u,
                                     double* __restrict__ norm) {
    const long long r = (blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (r >= nrows) return;
    const float* zp = z + r * D;
    double s = 0;
    for (int d = lane; d < D; d += 32) s += static_cast<double>(zp[d]) * zp[d];
    s = warp_sum(s);
    const double n = fmax(sqrt(s), 1e-12);
    for (int d = lane; d < D; d += 32) u[r * D + d] = static_cast<float>(zp[d] / n);
    if (lane == 0) norm[r] = n;
}

__global__ void ntx_logits_kernel(int rows, int D, const float* __restrict__ u, float inv_tau, double weight,
                                  float* __restrict__ A, double* __restrict__ loss_row) {
    extern __shared__ float s[];
    __shared__ double lse_sh;
    const int i = blockIdx.x, g = blockIdx.y;
    const float* ug = u + static_cast<long long>(g) * rows * D;
    const float* ui = ug + static_cast<long long>(i) * D;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int j = warp; j < rows; j += nw) {
        const float* uj = ug + static_cast<long long>(j) * D;
        float d = 0.f;
        for (int k = lane; k < D; k += 32) d = fmaf(ui[k], uj[k], d);
        d = warp_sum(d);
        if (lane == 0) s[j] = inv_tau * d;
    }
    __syncthreads();
    const int n = rows / 2, pos = (i + n) % rows;
    if (threadIdx.x == 0) {
        double m = -INFINITY;
        for (int j = 0; j < rows; ++j)
            if (j != i) m = fmax(m, static_cast<double>(s[j]));
        double se = 0;
        for (int j = 0; j < rows; ++j)
            if (j != i) se += exp(s[j] - m);
        lse_sh = m + log(se);
        loss_row[static_cast<long long>(g) * rows + i] = lse_sh - s[pos];
    }
    __syncthreads();
    const double lse = lse_sh;
    float* Ai = A + (static_cast<long long>(g) * rows + i) * rows;
    for (int j = threadIdx.x; j < rows; j += blockDim.x) {
        const double a = (j == i) ? 0.0 : exp(s[j] - lse) - (j == pos ? 1.0 : 0.0);
        Ai[j] = static_cast<float>(a * weight / rows);
    }
}

__global__ void ntx_grad_kernel(int rows, int D, const float* __restrict__ u, const double* __restrict__ norm,
                                const float* __restrict__ A, float inv_tau, float* __restrict__ grad) {
    __shared__ double scratch[32];
    extern __shared__ float du[];
    const int i = blockIdx.x, g = blockIdx.y;
    const float* ug = u + static_cast<long long>(g) * rows * D;
    const float* Ag = A + static_cast<long long>(g) * rows * rows;
    double dot = 0;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.f;
        for (int j = 0; j < rows; ++j) acc = fmaf(Ag[i * rows + j] + Ag[j * rows + i], ug[static_cast<long long>(j) * D + d], acc);
        acc *= inv_tau;
        du[d] = acc;
        dot += static_cast<double>(ug[static_cast<long long>(i) * D + d]) * acc;
    }
    dot = block_sum(dot, scratch);
    const double nrm = norm[static_cast<long long>(g) * rows + i];
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        grad[(static_cast<long long>(g) * rows + i) * D + d] =
            static_cast<float>((du[d] - ug[static_cast<long long>(i) * D + d] * dot) / nrm);
}

}  // namespace kern

namespace launch {
double nt_xent_groups(int64_t G, const NtXentGeometry& g, double tau, double weight, const float* z, float* grad) {
    const int64_t rows = g.rows, D = g.D;
    if (G == 0 || rows == 0) return 0.0;
    cudaStream_t st = detail::stream();
    detail::Workspace<float> u(static_cast<std::size_t>(G * rows * D));
    detail::Workspace<double> norm(static_cast<std::size_t>(G * rows));
    detail::Workspace<float> A(static_cast<std::size_t>(G * rows * rows));
    detail::Workspace<double> loss_row(static_cast<std::size_t>(G * rows));
    kern::ntx_normalize_kernel<<<detail::grid_for(G * rows * 32, 256, INT32_MAX), 256, 0, st>>>(
        G * rows, static_cast<int>(D), z, u.ptr, norm.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    const float inv_tau = static_cast<float>(1.0 / tau);
    const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(G));
    ICHSEG_CHECK(rows * sizeof(float) <= 48 * 1024 && D * sizeof(float) <= 48 * 1024,
                 "nt_xent: ", rows, " rows of ", D, " exceed the kernel's shared-memory staging");
    kern::ntx_logits_kernel<<<grid, 128, rows * sizeof(float), st>>>(static_cast<int>(rows), static_cast<int>(D), u.ptr,
                                                                     inv_tau, weight, A.ptr, loss_row.ptr);
    ICHSEG_CUDA_LAUNCH_CHECK();
    kern::ntx_grad_kernel<<<grid, 128, D * sizeof(float), st>>>(static_cast<int>(rows), static_cast<int>(D), u.ptr,
                                                                norm.ptr, A.ptr, inv_tau, grad);
    ICHSEG_CUDA_LAUNCH_CHECK();
    std::vector<double> h(static_cast<std::size_t>(G * rows));
    ICHSEG_CUDA_CHECK(cudaMemcpyAsync(h.data(), loss_row.ptr, sizeof(double) * h.size(), cudaMemcpyDeviceToHost, st));
    ICHSEG_CUDA_CHECK(cudaStreamSynchronize(st));
    double total = 0;
    for (int64_t q = 0; q < G; ++q) {
        double l = 0;
        for (int64_t i = 0; i < rows; ++i) l += h[static_cast<std::size_t>(q * rows + i)];
        total += l * weight / static_cast<double>(rows);
    }
    return total;
}

double nt_xent_loss_value_and_grad(const NtXentGeometry& g, double tau, const float* z, float* grad) {
    return nt_xent_groups(1, g, tau, 1.0, z, grad);
}
}  // namespace launch
}  // namespace ichseg::cuda
