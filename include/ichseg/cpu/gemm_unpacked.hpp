/// @file gemm_unpacked.hpp (cpu)
/// @brief C = A B (row-major, float) without packing either operand: register blocks of R rows of C by 32
/// columns, accumulated over the whole inner dimension, B's rows read in place and A's elements broadcast.
/// Meant for products whose B is written just before and used once, with a short inner dimension (the Winograd
/// transform domain: A the transformed filter, K x C; B the transformed input, C x tiles), where Eigen's GEMM
/// spends a third of its time packing. On AVX-512 a block is R = 12 rows x two 16-float vectors: 24 of the 32
/// vector registers accumulate, per inner step 2 vector loads and 12 broadcast loads feed 24 fused multiply-adds;
/// the last columns are masked, the last M % 12 rows run a narrower block. Column strips outside, row blocks
/// inside, so a K x 32 strip of B stays in L1 while every row block of A passes over it. The block's loops carry
/// explicit unroll pragmas: left to GCC's heuristics, the accumulators were kept in memory in some instantiations
/// (half the speed). 1.0-1.75x Eigen's GEMM on the Winograd shapes of the U-Nets (docs/performance.md).
/// Without AVX-512 it is cpu::gemm (Eigen). Single-threaded per call, like cpu::gemm; the summation order along
/// the inner dimension is sequential, so results differ from Eigen's by rounding only.
#pragma once

#include <cstdint>
#include <utility>

#include "ichseg/cpu/gemm.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace ichseg::cpu {

namespace unpacked_detail {
#if defined(__AVX512F__)
/// Rows [0, R) of C, columns [0, 32) under masks m0, m1: C = A B, summed over the inner dimension K.
template <int R>
inline void block(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                  __mmask16 m0, __mmask16 m1) {
    __m512 acc0[R], acc1[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * ldb);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, B + k * ldb + 16);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const __m512 a = _mm512_set1_ps(A[r * lda + k]);
            acc0[r] = _mm512_fmadd_ps(a, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(a, b1, acc1[r]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
        _mm512_mask_storeu_ps(C + r * ldc, m0, acc0[r]);
        _mm512_mask_storeu_ps(C + r * ldc + 16, m1, acc1[r]);
    }
}

/// Masks of the two 16-float halves of a 32-column strip with `left` columns left.
inline std::pair<__mmask16, __mmask16> strip_masks(int64_t left) {
    const __mmask16 m0 = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
    const __mmask16 m1 = left >= 32 ? __mmask16(0xffff) : left > 16 ? __mmask16((1u << (left - 16)) - 1) : 0;
    return {m0, m1};
}

/// Every row block of one 32-column strip: C[:, 0:32) = A B[:, 0:32).
inline void strip(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                  int64_t ldc, __mmask16 m0, __mmask16 m1) {
    int64_t i = 0;
    for (; i + 12 <= M; i += 12) block<12>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, m0, m1);
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    switch (M - i) {
        case 0: break;
        case 1: block<1>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 2: block<2>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 3: block<3>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 4: block<4>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 5: block<5>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 6: block<6>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 7: block<7>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 8: block<8>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 9: block<9>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        case 10: block<10>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
        default: block<11>(K, a, lda, B, ldb, c, ldc, m0, m1); break;
    }
}

#endif
}  // namespace unpacked_detail

/// C (M x N, leading dimension ldc) = A (M x K, lda) B (K x N, ldb), all row-major; C is overwritten.
inline void gemm_unpacked(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                          float* C, int64_t ldc) {
#if defined(__AVX512F__)
    using namespace unpacked_detail;
    for (int64_t j = 0; j < N; j += 32) {
        const auto [m0, m1] = strip_masks(N - j);
        strip(M, K, A, lda, B + j, ldb, C + j, ldc, m0, m1);
    }
#else
    gemm<float>(false, false, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc);
#endif
}

}  // namespace ichseg::cpu
