/// @file conv2d_wgrad.cu
/// @brief conv2d wgrad (and conv_transpose2d's weight gradient): split-K implicit GEMM for the three math modes,
/// the fixed-order reduction of the split partials, and the bias gradient (a per-channel sum of dy).
#include "conv2d.cuh"
#include "cudnn_backend.cuh"
#include "ichseg/cuda/conv_transpose2d.hpp"

namespace ichseg::cuda {
namespace kern::conv {

__global__ void reduce_splits_kernel(const float* __restrict__ part, int splits, long long n, float* __restrict__ out) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        float s = 0.f;
        for (int z = 0; z < splits; ++z) s += part[z * n + i];
        out[i] = s;
    }
}

template <>
void run_implicit_gemm<Role::Wgrad>(const Conv2dGeometry& g, const float* a_src, const float* b_src, const float*,
                                    float* out, Precision prec) {
    Args a = make_args(g, Role::Wgrad);
    a.a_src = a_src, a.b_src = b_src, a.bias = nullptr;
    // Split the reduction (N*P*Q, millions at full resolution) across blocks.
    const int splits = wgrad_splits(a, detail::sm_count());
    const long long n_out = static_cast<long long>(a.M) * a.Ngemm;
    detail::Workspace<float> part(splits > 1 ? static_cast<std::size_t>(splits * n_out) : 1);
    a.out = splits > 1 ? part.ptr : out;
    a.split_stride = n_out;
    switch (math_for(prec)) {
        case Math::Simt: launch_implicit_gemm<Role::Wgrad, Math::Simt>(a, splits); break;
        case Math::TF32: launch_implicit_gemm<Role::Wgrad, Math::TF32>(a, splits); break;
        case Math::BF16: launch_implicit_gemm<Role::Wgrad, Math::BF16>(a, splits); break;
    }
    if (splits > 1) {
        reduce_splits_kernel<<<detail::grid_for(n_out, 256, 8 * detail::sm_count()), 256, 0, detail::stream()>>>(
            part.ptr, splits, n_out, out);
        ICHSEG_CUDA_LAUNCH_CHECK();
    }
}
}  // namespace kern::conv

namespace launch {
void conv2d_wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db, Precision prec,
                  ConvBackend backend) {
    const int64_t wn = g.K * g.C * g.R * g.S;
    if (g.N * g.P * g.Q == 0) {
        if (wn) ICHSEG_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(float) * wn, detail::stream()));
        if (db && g.K) ICHSEG_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * g.K, detail::stream()));
        return;
    }
    if (backend == ConvBackend::Cudnn) return cudnn::conv2d_wgrad(g, dy, x, dw, db, prec);
    if (wn) kern::conv::run_implicit_gemm<kern::Role::Wgrad>(g, dy, x, nullptr, dw, prec);
    if (db) channel_sum(g.N, g.K, g.P * g.Q, dy, db);
}
}  // namespace launch
}  // namespace ichseg::cuda
