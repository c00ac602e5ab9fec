/// @file gemm_bf16.hpp (cpu)
/// @brief Row-major matrix products with BF16 operands and FP32 accumulation, single-threaded per call like
/// cpu::gemm (callers split the work across threads): C = op(A) op(B) (+ C), A and B given in FP32 and rounded to
/// BF16 (nearest even) while they are packed.
///
/// A is packed once (`PackedA`, reusable across calls: a filter applied to many pixel blocks); B is packed per call
/// in panels of columns. Layouts (cpu/bf16.hpp): A as [M (padded to 16)][K (padded to 32)], B as
/// [column tile of 16][K / 2][16][2] (the VNNI layout). The products run on AMX tiles (2 x 2 tiles of 16 x 16, one
/// TDPBF16PS per 32 steps of K) or with VDPBF16PS (8 rows x 32 columns of accumulators); bf16_kernel() decides.
/// Compiled only where ICHSEG_CPU_BF16 is set.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ichseg/cpu/bf16.hpp"
#include "ichseg/cpu/workspace.hpp"

namespace ichseg::cpu {

#if ICHSEG_CPU_BF16

/// op(A) (M x K) rounded to BF16, rows padded to a multiple of 16 and K to a multiple of 32 (zeros).
struct PackedA {
    int64_t M = 0, K = 0, Mpad = 0, Kp = 0;
    std::vector<uint16_t> data;

    /// op(A) = A (M x K, leading dimension lda), or A^T when `trans` (A is K x M).
    void pack(bool trans, int64_t m, int64_t k, const float* A, int64_t lda) {
        M = m;
        K = k;
        Mpad = (M + 15) / 16 * 16;
        Kp = (K + 31) / 32 * 32;
        data.assign(static_cast<size_t>(Mpad * Kp), 0);
        if (!trans) {
            for (int64_t i = 0; i < M; ++i)
                for (int64_t k0 = 0; k0 < K; k0 += 16) {
                    const __mmask16 msk = k0 + 16 <= K ? __mmask16(0xffff) : __mmask16((1u << (K - k0)) - 1);
                    _mm256_mask_storeu_epi16(data.data() + i * Kp + k0, msk,
                                             reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(msk, A + i * lda + k0))));
                }
            return;
        }
        // A^T: 16 x 16 blocks through a register transpose (rows of A are columns of op(A)).
        for (int64_t i0 = 0; i0 < M; i0 += 16)
            for (int64_t k0 = 0; k0 < K; k0 += 16) {
                const int64_t mi = std::min<int64_t>(16, M - i0), kn = std::min<int64_t>(16, K - k0);
                const __mmask16 msk = mi == 16 ? __mmask16(0xffff) : __mmask16((1u << mi) - 1);
                __m512i r[16];
                for (int kk = 0; kk < 16; ++kk)
                    r[kk] = kk < kn ? _mm512_castps_si512(_mm512_maskz_loadu_ps(msk, A + (k0 + kk) * lda + i0))
                                    : _mm512_setzero_si512();
                bf16v::transpose16x16(r);  // r[i]: row i0 + i of op(A), columns k0..k0+15
                for (int64_t i = 0; i < mi; ++i)
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(data.data() + (i0 + i) * Kp + k0),
                                        reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_castsi512_ps(r[i]))));
            }
    }
};

namespace gemm_bf16_detail {

/// Packs columns [n0, n0 + nc) of op(B) (K x N) into Bp[tile][Kp / 2][16][2]; columns past N and rows past K are 0.
inline void pack_b(bool trans, int64_t K, int64_t Kp, int64_t N, const float* B, int64_t ldb, int64_t n0, int64_t nc,
                   uint16_t* Bp) {
    const int64_t tiles = (nc + 15) / 16;
    for (int64_t t = 0; t < tiles; ++t) {
        uint16_t* dst = Bp + t * Kp * 16;
        const int64_t c0 = n0 + t * 16, cn = std::clamp<int64_t>(N - c0, 0, 16);
        const __mmask16 msk = cn == 16 ? __mmask16(0xffff) : __mmask16((1u << cn) - 1);
        if (!trans) {
            // Rows 2p and 2p + 1 of B interleave into pair row p.
            for (int64_t p = 0; p < Kp / 2; ++p) {
                const int64_t k = 2 * p;
                const __m512 a = k < K ? _mm512_maskz_loadu_ps(msk, B + k * ldb + c0) : _mm512_setzero_ps();
                const __m512 b = k + 1 < K ? _mm512_maskz_loadu_ps(msk, B + (k + 1) * ldb + c0) : _mm512_setzero_ps();
                _mm512_storeu_si512(dst + p * 32, bf16v::interleave2(a, b));
            }
            continue;
        }
        // op(B) = B^T, B is N x K: column c of op(B) is row c of B, whose pairs (2p, 2p + 1) are adjacent. Convert
        // 32 values of 16 rows, then transpose the 16 x 16 pair words.
        for (int64_t k0 = 0; k0 < Kp; k0 += 32) {
            __m512i r[16];
            const int64_t kn = std::clamp<int64_t>(K - k0, 0, 32);
            const __mmask16 m0 = kn >= 16 ? __mmask16(0xffff) : __mmask16((1u << kn) - 1);
            const __mmask16 m1 = kn >= 32 ? __mmask16(0xffff) : kn > 16 ? __mmask16((1u << (kn - 16)) - 1) : __mmask16(0);
            for (int c = 0; c < 16; ++c) {
                if (c >= cn || kn == 0) {
                    r[c] = _mm512_setzero_si512();
                    continue;
                }
                const float* row = B + (c0 + c) * ldb + k0;
                r[c] = reinterpret_cast<__m512i>(
                    _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, row + 16), _mm512_maskz_loadu_ps(m0, row)));
            }
            bf16v::transpose16x16(r);  // r[p]: pair k0 / 2 + p of the 16 columns
            for (int p = 0; p < 16; ++p) _mm512_storeu_si512(dst + (k0 / 2 + p) * 32, r[p]);
        }
    }
}

/// C[rows][cols] (leading dimension ldc) = blk (16 x 16, row stride 16) or += when accumulate.
inline void put_block(const float* blk, int64_t rows, int64_t cols, bool accumulate, float* C, int64_t ldc) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) C[i * ldc + j] = accumulate ? C[i * ldc + j] + blk[i * 16 + j] : blk[i * 16 + j];
}

#if ICHSEG_CPU_AMX
inline void amx_config_gemm() {
    AmxConfig c;
    for (int t = 0; t < 8; ++t) c.set(t, 16, 64);
    _tile_loadconfig(&c);
}

/// C (rows [m0, m0 + 32) x columns of tiles t, t + 1 of the panel) over all of K; tiles beyond M or N are
/// computed on zero padding and not stored.
inline void amx_block(const PackedA& a, const uint16_t* Bp, int64_t m0, int64_t t, int64_t n_tiles, int64_t N,
                      int64_t col0, bool accumulate, float* C, int64_t ldc) {
    const int64_t m1 = std::min(m0 + 16, a.Mpad - 16), t1 = std::min(t + 1, n_tiles - 1);
    const uint16_t* a0 = a.data.data() + m0 * a.Kp;
    const uint16_t* a1 = a.data.data() + m1 * a.Kp;
    const uint16_t* b0 = Bp + t * a.Kp * 16;
    const uint16_t* b1 = Bp + t1 * a.Kp * 16;
    const int64_t as = a.Kp * 2;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t k = 0; k < a.Kp; k += 32) {
        _tile_loadd(4, a0 + k, as);
        _tile_loadd(5, a1 + k, as);
        _tile_loadd(6, b0 + k * 16, 64);
        _tile_loadd(7, b1 + k * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    alignas(64) float blk[256];
    auto put = [&](int64_t mr, int64_t tc, auto&& store) {
        const int64_t rows = std::min<int64_t>(16, a.M - mr), c = col0 + tc * 16, cols = std::min<int64_t>(16, N - c);
        if (rows <= 0 || cols <= 0) return;
        store(blk);
        put_block(blk, rows, cols, accumulate, C + mr * ldc + c, ldc);
    };
    put(m0, t, [](float* p) { _tile_stored(0, p, 64); });
    if (t1 != t) put(m0, t1, [](float* p) { _tile_stored(1, p, 64); });
    if (m1 != m0) put(m1, t, [](float* p) { _tile_stored(2, p, 64); });
    if (m1 != m0 && t1 != t) put(m1, t1, [](float* p) { _tile_stored(3, p, 64); });
}
#endif

/// VDPBF16PS: rows [m0, m0 + 8) x columns of tiles t, t + 1 (2 x 16) over all of K.
inline void dot_block(const PackedA& a, const uint16_t* Bp, int64_t m0, int64_t t, int64_t n_tiles, int64_t N,
                      int64_t col0, bool accumulate, float* C, int64_t ldc) {
    const int nv = t + 1 < n_tiles ? 2 : 1;
    __m512 acc[8][2];
    for (int m = 0; m < 8; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
    const uint16_t* b0 = Bp + t * a.Kp * 16;
    const uint16_t* ap = a.data.data() + m0 * a.Kp;
    for (int64_t p = 0; p < a.Kp / 2; ++p) {
        __m512i b[2];
        b[0] = _mm512_loadu_si512(b0 + p * 32);
        b[1] = nv == 2 ? _mm512_loadu_si512(b0 + a.Kp * 16 + p * 32) : _mm512_setzero_si512();
        for (int m = 0; m < 8; ++m) {
            int32_t pair;
            std::memcpy(&pair, ap + m * a.Kp + 2 * p, 4);
            const __m512bh av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
            acc[m][0] = _mm512_dpbf16_ps(acc[m][0], av, reinterpret_cast<__m512bh>(b[0]));
            acc[m][1] = _mm512_dpbf16_ps(acc[m][1], av, reinterpret_cast<__m512bh>(b[1]));
        }
    }
    const int64_t rows = std::min<int64_t>(8, a.M - m0);
    for (int v = 0; v < nv; ++v) {
        const int64_t c = col0 + (t + v) * 16, cols = std::min<int64_t>(16, N - c);
        if (cols <= 0) continue;
        const __mmask16 msk = cols == 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1);
        for (int64_t m = 0; m < rows; ++m) {
            float* dst = C + (m0 + m) * ldc + c;
            __m512 v_out = acc[m][v];
            if (accumulate) v_out = _mm512_add_ps(v_out, _mm512_maskz_loadu_ps(msk, dst));
            _mm512_mask_storeu_ps(dst, msk, v_out);
        }
    }
}

}  // namespace gemm_bf16_detail

/// C (M x N, leading dimension ldc) = a * op(B) (beta 0) or C + a * op(B) (beta 1), op(B) K x N in FP32 (B is
/// N x K when trans_b), K = a.K.
inline void gemm_bf16(const PackedA& a, bool trans_b, int64_t N, const float* B, int64_t ldb, float beta, float* C,
                      int64_t ldc) {
    using namespace gemm_bf16_detail;
    if (a.M == 0 || N == 0) return;
    const bool accumulate = beta != 0.f;
    // Column panels of about 256 KiB of packed B, a multiple of 32 columns.
    const int64_t nc = std::clamp<int64_t>((int64_t(1) << 17) / a.Kp / 32 * 32, 32, (N + 31) / 32 * 32);
    uint16_t* Bp = thread_workspace<uint16_t>(static_cast<size_t>(a.Kp * ((nc + 15) / 16) * 16), 3);
    const bool amx = bf16_kernel() == Bf16Kernel::Amx;
#if ICHSEG_CPU_AMX
    if (amx) amx_config_gemm();
#endif
    for (int64_t n0 = 0; n0 < N; n0 += nc) {
        const int64_t ncur = std::min(nc, N - n0), tiles = (ncur + 15) / 16;
        pack_b(trans_b, a.K, a.Kp, N, B, ldb, n0, ncur, Bp);
#if ICHSEG_CPU_AMX
        if (amx) {
            for (int64_t m0 = 0; m0 < a.Mpad; m0 += 32)
                for (int64_t t = 0; t < tiles; t += 2) amx_block(a, Bp, m0, t, tiles, N, n0, accumulate, C, ldc);
            continue;
        }
#endif
        for (int64_t m0 = 0; m0 < a.M; m0 += 8)
            for (int64_t t = 0; t < tiles; t += 2) dot_block(a, Bp, m0, t, tiles, N, n0, accumulate, C, ldc);
    }
#if ICHSEG_CPU_AMX
    if (amx) _tile_release();
#endif
}

/// The cpu::gemm interface (alpha = 1, beta 0 or 1) with BF16 operands; packs A on every call.
inline void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        if (beta == 0.f)
            for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
        return;
    }
    thread_local PackedA a;
    a.pack(trans_a, M, K, A, lda);
    gemm_bf16(a, trans_b, N, B, ldb, beta, C, ldc);
}

#endif  // ICHSEG_CPU_BF16

}  // namespace ichseg::cpu
