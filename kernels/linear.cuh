/// @file linear.cuh
/// @brief A row-major SIMT GEMM for the small matrices of the MLP heads and NT-Xent (at most a few thousand
/// per side): block tile 64 x 64 x 16, 256 threads, 4 x 4 outputs per thread, operands staged transposed-as-
/// needed in shared memory so every thread reads its 4 A and 4 B values per k step with broadcast-free loads.
/// FP32 FMA; in TF32/BF16 precision the operands are rounded to TF32 when staged (PyTorch's allow_tf32 matmul
/// semantics), which changes the numbers but not the speed of this kernel.
#pragma once

#include "common.cuh"

namespace ichseg::cuda::kern::gemm {

constexpr int TM = 64, TN = 64, TK = 16;

__device__ __forceinline__ float round_tf32(float v, bool tf32) {
    if (!tf32) return v;
    uint32_t u = __float_as_uint(v);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;  // round to nearest, 10-bit mantissa
    return __uint_as_float(u);
}

__global__ void __launch_bounds__(256)
    gemm_kernel(bool ta, bool tb, int M, int N, int K, float alpha, const float* __restrict__ A, int lda,
                const float* __restrict__ B, int ldb, float beta, float* __restrict__ C, int ldc, bool tf32) {
    __shared__ float As[TK][TM + 1];
    __shared__ float Bs[TK][TN + 1];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < K; k0 += TK) {
        for (int e = tid; e < TM * TK; e += 256) {
            // element (m, k) of op(A): consecutive threads walk the contiguous axis of A in memory
            int m, k;
            if (ta) { m = e % TM, k = e / TM; } else { k = e % TK, m = e / TK; }
            const int gm = m0 + m, gk = k0 + k;
            float v = 0.f;
            if (gm < M && gk < K) v = ta ? A[static_cast<long long>(gk) * lda + gm] : A[static_cast<long long>(gm) * lda + gk];
            As[k][m] = round_tf32(v, tf32);
        }
        for (int e = tid; e < TN * TK; e += 256) {
            int n, k;
            if (tb) { k = e % TK, n = e / TK; } else { n = e % TN, k = e / TN; }
            const int gn = n0 + n, gk = k0 + k;
            float v = 0.f;
            if (gn < N && gk < K) v = tb ? B[static_cast<long long>(gn) * ldb + gk] : B[static_cast<long long>(gk) * ldb + gn];
            Bs[k][n] = round_tf32(v, tf32);
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < TK; ++k) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
            if (m >= M || n >= N) continue;
            float* c = C + static_cast<long long>(m) * ldc + n;
            *c = alpha * acc[i][j] + (beta != 0.f ? beta * *c : 0.f);
        }
}

}  // namespace ichseg::cuda::kern::gemm
