/// @file conv2d_bf16.hpp (cpu)
/// @brief 3x3 stride-1 pad-1 convolution with BF16 operands and FP32 accumulation, as a direct (implicit-GEMM)
/// convolution: fprop, dgrad (fprop of dy with the rotated, transposed filter) and wgrad. AMX tiles where the
/// build and the OS allow them, AVX512_BF16 (VDPBF16PS) otherwise (cpu/bf16.hpp).
///
/// Why direct and not Winograd: Winograd's transforms amplify the rounding of the operands, and BF16 has a 8-bit
/// mantissa. Rounding U and V to BF16 gives F(4x4) outputs an RMS error of 1.8-2.2 % of the output RMS, F(2x2)
/// 0.32-0.37 %, direct BF16 0.21-0.25 % (C = 32 and 256, ReLU inputs, He-initialised filters; docs/ops.md §8). With
/// AMX the products cost so little that the transforms would dominate, so the direct method is also the faster one
/// (docs/performance.md).
///
/// Layouts (all BF16, rebuilt from the FP32 tensors on every call; nothing is kept between calls):
///   - the zero-padded grid of an image has Wp = W + 2 columns and H + 2 rows. Output (h, w) is position
///     j = h Wp + w, and its tap (r, s) reads grid position j + r Wp + s, so every tap of 16 consecutive positions
///     is 16 consecutive grid positions: the operand of one tile row or vector load, at no im2col cost. Positions
///     with w >= W are computed and thrown away (or, in wgrad, multiplied by a zero dy).
///   - fprop/dgrad input: channel pairs, [n][c / 2][grid][c % 2] (the VNNI layout of the B operand).
///   - fprop/dgrad filter, AMX: [r s][k][c] (A tiles, 16 k x 32 c); VDPBF16PS: [r s][c / 2][k][c % 2] (pairs).
///   - wgrad: x plain, [n][c][grid] (A tiles: 16 c x 32 positions); dy transposed, [n][j / 2][k][j % 2].
/// Work is split into tasks of (image, block of output strips) for fprop, and into blocks of positions (with
/// per-thread partial sums reduced in thread order) or blocks of (c, k) for wgrad; results are bitwise
/// reproducible for a fixed thread count. fprop takes an optional per-channel epilogue (cpu/conv2d_epilogue.hpp),
/// applied as the task's output block is copied into y (write_strips).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "ichseg/core/dtype.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/cpu/bf16.hpp"
#include "ichseg/cpu/conv2d_epilogue.hpp"
#include "ichseg/cpu/workspace.hpp"
#include "ichseg/params/conv2d.hpp"

namespace ichseg::cpu::conv_bf16 {

/// The convolutions these kernels run: 3x3, stride 1, padding 1 (any channel counts).
inline bool applicable(const Conv2dGeometry& g) {
    return g.R == 3 && g.S == 3 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 1 && g.pad_w == 1;
}

/// When a BF16 request runs a 3x3 convolution by these kernels. Auto: on AMX, for at least 2 input channels
/// (measured 1.1-3x faster than FP32 Winograd per layer; docs/performance.md); with VDPBF16PS alone never, since
/// FP32 Winograd F(4x4) is both faster (4x fewer products against a 1.5-2x faster product rate) and more
/// accurate (BF16 in the Winograd domain: see the file comment). The single-channel input layer keeps its FP32
/// loops (bound by writing its output). Always / Never: for tests and benchmarks (not thread-safe: set it while
/// no convolution runs).
enum class Bf16ConvMode { Auto, Always, Never };
inline Bf16ConvMode& bf16_conv_mode() {
    static Bf16ConvMode m = Bf16ConvMode::Auto;
    return m;
}
/// Whether a BF16 convolution of geometry g (3x3 stride 1 pad 1) runs here; `kernel` is cpu::bf16_kernel().
inline bool chosen(const Conv2dGeometry& g, Bf16Kernel kernel) {
    if (!applicable(g) || kernel == Bf16Kernel::None) return false;
    switch (bf16_conv_mode()) {
    case Bf16ConvMode::Always: return true;
    case Bf16ConvMode::Never: return false;
    default: return kernel == Bf16Kernel::Amx && g.C >= 2;
    }
}

#if ICHSEG_CPU_BF16
namespace detail {

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh>(v); }

/// The zero-padded grid of an H x W image, and the distance between channel planes (with slack for the reads
/// past the last position, and not a multiple of 4 KiB so that the rows of one tile fall into different L1 sets).
struct Grid {
    int64_t H, W, Wp, plane;
    Grid(int64_t h, int64_t w) : H(h), W(w), Wp(w + 2) {
        plane = round_up((H + 2) * Wp + 64, 32);
        if ((plane * 4) % 4096 == 0) plane += 32;
    }
};

/// Copies the valid part of flattened output positions [j0, j0 + n) of one channel (H x W floats) into out[0, n),
/// zero where w >= W or h >= H.
inline void gather_positions(const float* src, const Grid& gr, int64_t j0, int64_t n, float* out) {
    std::fill(out, out + n, 0.f);
    int64_t j = j0, h = j0 / gr.Wp, w = j0 % gr.Wp;
    while (j < j0 + n && h < gr.H) {
        const int64_t len = std::min(j0 + n - j, gr.Wp - w);
        if (w < gr.W) std::memcpy(out + (j - j0), src + h * gr.W + w, sizeof(float) * std::min(len, gr.W - w));
        j += len;
        ++h;
        w = 0;
    }
}

/// x (N, C, H, W) -> P[n][cp][grid][2], cp < ncp, channel 2 cp + e in half e (zero beyond C and on the border).
inline void pack_pairs(const float* x, int64_t N, int64_t C, const Grid& gr, int64_t ncp, uint16_t* P) {
    const int64_t H = gr.H, W = gr.W, Wp = gr.Wp, HW = H * W;
    parallel_for(N * ncp, [&](int64_t item) {
        const int64_t n = item / ncp, c0 = 2 * (item % ncp);
        const float* a = c0 < C ? x + (n * C + c0) * HW : nullptr;
        const float* b = c0 + 1 < C ? x + (n * C + c0 + 1) * HW : nullptr;
        uint16_t* out = P + item * gr.plane * 2;
        std::memset(out, 0, static_cast<size_t>(Wp) * 4);
        for (int64_t h = 0; h < H; ++h) {
            uint16_t* row = out + (h + 1) * Wp * 2;
            std::memset(row, 0, 4);
            std::memset(row + (W + 1) * 2, 0, 4);
            for (int64_t w = 0; w < W; w += 16) {
                const __mmask16 m = w + 16 <= W ? __mmask16(0xffff) : __mmask16((1u << (W - w)) - 1);
                const __m512 va = a ? _mm512_maskz_loadu_ps(m, a + h * W + w) : _mm512_setzero_ps();
                const __m512 vb = b ? _mm512_maskz_loadu_ps(m, b + h * W + w) : _mm512_setzero_ps();
                _mm512_mask_storeu_epi32(row + (1 + w) * 2, m, bf16v::interleave2(va, vb));
            }
        }
        std::memset(out + (H + 1) * Wp * 2, 0, static_cast<size_t>(gr.plane - (H + 1) * Wp) * 4);
    }, N * ncp * gr.plane * 2);
}

/// x (N, C, H, W) -> P[n][c][grid], c < Cpad (zero planes beyond C), zero on the border.
inline void pack_plain(const float* x, int64_t N, int64_t C, int64_t Cpad, const Grid& gr, uint16_t* P) {
    const int64_t H = gr.H, W = gr.W, Wp = gr.Wp, HW = H * W;
    parallel_for(N * Cpad, [&](int64_t item) {
        const int64_t n = item / Cpad, c = item % Cpad;
        uint16_t* out = P + item * gr.plane;
        if (c >= C) {
            std::memset(out, 0, static_cast<size_t>(gr.plane) * 2);
            return;
        }
        const float* src = x + (n * C + c) * HW;
        std::memset(out, 0, static_cast<size_t>(Wp) * 2);
        for (int64_t h = 0; h < H; ++h) {
            uint16_t* row = out + (h + 1) * Wp;
            row[0] = 0;
            row[W + 1] = 0;
            for (int64_t w = 0; w < W; w += 16) {
                const __mmask16 m = w + 16 <= W ? __mmask16(0xffff) : __mmask16((1u << (W - w)) - 1);
                const __m256i v = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + h * W + w)));
                _mm256_mask_storeu_epi16(row + 1 + w, m, v);
            }
        }
        std::memset(out + (H + 1) * Wp, 0, static_cast<size_t>(gr.plane - (H + 1) * Wp) * 2);
    }, N * Cpad * gr.plane);
}

/// dy (N, K, H, W) -> T[n][jp][Kpad][2]: position j = 2 jp + e of channel k at ((jp Kpad) + k) 2 + e, zero where
/// w >= W, j >= H Wp or k >= K. JP pairs per image (a multiple of 16). With `sums` (N x Kpad doubles), also the
/// sum of each image's channel (row sums in float lanes, added in double in row order: the bias gradient).
/// With W even every row is a whole number of pairs, converted and transposed 16 channels x 16 pairs at a time.
inline void pack_dy_transposed(const float* dy, int64_t N, int64_t K, int64_t Kpad, const Grid& gr, int64_t JP,
                               uint16_t* T, double* sums) {
    const int64_t H = gr.H, W = gr.W, HW = H * W, kblocks = Kpad / 16;
    if (W % 2 == 0) {
        const int64_t row_pairs = gr.Wp / 2;
        parallel_for(N * kblocks, [&](int64_t item) {
            const int64_t n = item / kblocks, k0 = (item % kblocks) * 16;
            double tot[16] = {};
            for (int64_t h = 0; h < H; ++h) {
                __m512 rsum[16];
                for (int kk = 0; kk < 16; ++kk) rsum[kk] = _mm512_setzero_ps();
                for (int64_t p0 = 0; p0 < row_pairs; p0 += 16) {  // positions 2 p0 .. 2 p0 + 31 of row h
                    __m512i r[16];
                    const int64_t w0 = 2 * p0;
                    const __mmask16 m0 = w0 >= W ? 0 : w0 + 16 <= W ? __mmask16(0xffff) : __mmask16((1u << (W - w0)) - 1);
                    const __mmask16 m1 = w0 + 16 >= W ? 0 : w0 + 32 <= W ? __mmask16(0xffff)
                                                                          : __mmask16((1u << (W - w0 - 16)) - 1);
                    for (int kk = 0; kk < 16; ++kk) {
                        if (k0 + kk >= K) {
                            r[kk] = _mm512_setzero_si512();
                            continue;
                        }
                        const float* src = dy + (n * K + k0 + kk) * HW + h * W + w0;
                        const __m512 lo = _mm512_maskz_loadu_ps(m0, src), hi = _mm512_maskz_loadu_ps(m1, src + 16);
                        rsum[kk] = _mm512_add_ps(rsum[kk], _mm512_add_ps(lo, hi));
                        r[kk] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
                    }
                    bf16v::transpose16x16(r);  // r[p]: the 16 channels' pair p0 + p of this row
                    uint16_t* out = T + ((n * JP + h * row_pairs + p0) * Kpad + k0) * 2;
                    const int64_t np = std::min<int64_t>(16, row_pairs - p0);
                    for (int64_t p = 0; p < np; ++p) _mm512_storeu_si512(out + p * Kpad * 2, r[p]);
                }
                for (int kk = 0; kk < 16; ++kk) tot[kk] += bf16v::sum16(rsum[kk]);
            }
            for (int64_t jp = H * row_pairs; jp < JP; ++jp)
                std::memset(T + ((n * JP + jp) * Kpad + k0) * 2, 0, 64);
            if (sums)
                for (int kk = 0; kk < 16; ++kk) sums[n * Kpad + k0 + kk] = tot[kk];
        }, N * JP * 2 * Kpad);
        return;
    }
    const int64_t jblocks = JP / 16;
    parallel_for(N * jblocks * kblocks, [&](int64_t item) {
        const int64_t n = item / (jblocks * kblocks), jb = (item / kblocks) % jblocks, k0 = (item % kblocks) * 16;
        alignas(64) float buf[32];
        __m512i r[16];
        for (int kk = 0; kk < 16; ++kk) {
            const int64_t k = k0 + kk;
            if (k >= K) {
                r[kk] = _mm512_setzero_si512();
                continue;
            }
            gather_positions(dy + (n * K + k) * HW, gr, jb * 32, 32, buf);
            r[kk] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_load_ps(buf + 16), _mm512_load_ps(buf)));
        }
        bf16v::transpose16x16(r);  // r[p]: the 16 channels' pairs of position pair jb * 16 + p
        uint16_t* out = T + ((n * JP + jb * 16) * Kpad + k0) * 2;
        for (int p = 0; p < 16; ++p) _mm512_storeu_si512(out + p * Kpad * 2, r[p]);
    }, N * JP * 2 * Kpad);
    if (sums)
        parallel_for(N * K, [&](int64_t nk) {
            const float* src = dy + nk * HW;
            double t = 0;
            for (int64_t h = 0; h < H; ++h) {
                float ps = 0;
                for (int64_t w = 0; w < W; ++w) ps += src[h * W + w];
                t += ps;
            }
            sums[(nk / K) * Kpad + nk % K] = t;
        }, N * K * HW);
}

/// AMX filter: Wa[rs][Kpad][Cinpad], element (o, i, rs) of an fprop-shaped convolution with `Kout` outputs and
/// `Cin` inputs being w[o][i][rs], or, with `rotate`, w[i][o][8 - rs] (dgrad: w is (Cin, Kout, 3, 3) then); zero
/// in the padding. Each row of 16 inputs is one gather (lanes 9 floats apart, or 9 Kout when rotated), over blocks
/// of 16 outputs x 16 inputs whose w lies in L1 (AMX CPUs have fast gathers). (Building the rows lane by lane,
/// one output row at a time, read w nine times over: 7 % of the BF16 paper step.)
inline void pack_filter_rows(const float* w, int64_t Kout, int64_t Cin, bool rotate, int64_t Kpad, int64_t Cinpad,
                             uint16_t* Wa) {
    const int64_t iblocks = (Cinpad + 15) / 16;
    const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(static_cast<int>(rotate ? 9 * Kout : 9)));
    parallel_for((Kpad / 16) * iblocks, [&](int64_t item) {
        const int64_t o0 = item / iblocks * 16, i0 = item % iblocks * 16, in = std::clamp<int64_t>(Cin - i0, 0, 16);
        const __mmask16 valid = in >= 16 ? __mmask16(0xffff) : __mmask16((1u << in) - 1);  // lanes i < Cin
        const __mmask16 m = i0 + 16 <= Cinpad ? __mmask16(0xffff) : __mmask16((1u << (Cinpad - i0)) - 1);
        for (int64_t o = o0; o < o0 + 16; ++o)
            for (int rs = 0; rs < 9; ++rs) {
                __m512 v = _mm512_setzero_ps();
                if (o < Kout && in > 0) {
                    const float* first = rotate ? w + (i0 * Kout + o) * 9 + 8 - rs : w + (o * Cin + i0) * 9 + rs;
                    v = _mm512_mask_i32gather_ps(v, valid, lane, first, 4);
                }
                _mm256_mask_storeu_epi16(Wa + (rs * Kpad + o) * Cinpad + i0, m,
                                         reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
            }
    }, 9 * Kpad * Cinpad);
}

/// VDPBF16PS filter: Wd[rs][ncp][Kpad][2] (input-channel pairs per output channel).
inline void pack_filter_pairs(const float* w, int64_t Kout, int64_t Cin, bool rotate, int64_t Kpad, int64_t ncp,
                              uint16_t* Wd) {
    parallel_for(9 * ncp, [&](int64_t item) {
        const int rs = static_cast<int>(item / ncp);
        const int64_t cp = item % ncp;
        for (int64_t o = 0; o < Kpad; ++o)
            for (int e = 0; e < 2; ++e) {
                const int64_t i = 2 * cp + e;
                const float v = (o < Kout && i < Cin) ? (rotate ? w[(i * Kout + o) * 9 + 8 - rs] : w[(o * Cin + i) * 9 + rs])
                                                      : 0.f;
                Wd[((rs * ncp + cp) * Kpad + o) * 2 + e] = bfloat16::from_float(v);
            }
    }, 9 * Kpad * ncp * 2);
}

/// What one fprop-shaped call computes: y (N, Kout, H, W) = conv(x (N, Cin, H, W)) + bias, in strips of 16
/// output positions. With W a multiple of 16 the strips stay inside rows (and are stored straight into y);
/// otherwise they run over the flattened positions, across rows.
struct FpropShape {
    int64_t N, Cin, Kout;
    Grid gr;
    int64_t ncp, cdepth, Cinpad, Kpad;
    bool in_rows;
    int64_t strips;
    FpropShape(int64_t n, int64_t cin, int64_t kout, int64_t h, int64_t w)
        : N(n), Cin(cin), Kout(kout), gr(h, w) {
        cdepth = std::min<int64_t>(32, round_up(Cin, 2));
        Cinpad = round_up(Cin, cdepth);
        ncp = Cinpad / 2;
        Kpad = round_up(Kout, 16);
        in_rows = w % 16 == 0;
        strips = in_rows ? h * (w / 16) : ((h - 1) * gr.Wp + w + 15) / 16;
    }
    int64_t strip_start(int64_t s) const {
        return in_rows ? (s / (gr.W / 16)) * gr.Wp + 16 * (s % (gr.W / 16)) : 16 * s;
    }
};

/// Copies the output rows of channels [k0, k0 + kn) over strips [s0, s1) of image n from the task buffer
/// (row kk of the block at obuf + kk * ldo, strip s at column 16 (s - s0)) into y, skipping invalid positions,
/// applying the epilogue `ep` (of all Kout channels) on the way.
/// Written channel by channel along the rows: storing the tiles straight into y would write 16 rows that lie one
/// channel plane apart (a multiple of 4 KiB), which evict each other from L1 (a third of the kernel's time).
inline void write_strips(const FpropShape& s, const float* obuf, int64_t ldo, int64_t n, int64_t k0, int64_t kn,
                         int64_t s0, int64_t s1, float* y, const ConvEpilogue<float>& ep) {
    const Grid& gr = s.gr;
    const int64_t HW = gr.H * gr.W;
    for (int64_t kk = 0; kk < kn; ++kk) {
        float* yk = y + (n * s.Kout + k0 + kk) * HW;
        const float* src = obuf + kk * ldo;
        if (s.in_rows) {
            // Strips of one row are contiguous in y too: copy row by row (no division per strip).
            const int64_t per_row = gr.W / 16;
            int64_t st = s0;
            while (st < s1) {
                const int64_t h = st / per_row, w = (st % per_row) * 16, n_here = std::min(s1 - st, per_row - w / 16);
                if (ep.active()) conv_epilogue_copy(ep, k0 + kk, src + (st - s0) * 16, yk + h * gr.W + w, 16 * n_here);
                else std::memcpy(yk + h * gr.W + w, src + (st - s0) * 16, sizeof(float) * 16 * n_here);
                st += n_here;
            }
            continue;
        }
        // Strips run over the flattened positions: copy the valid row segments.
        const int64_t jb = s.strip_start(s0), je = s.strip_start(s1);
        int64_t j = jb, h = jb / gr.Wp, w = jb % gr.Wp;
        while (j < je && h < gr.H) {
            const int64_t len = std::min(je - j, gr.Wp - w);
            if (w < gr.W) {
                const int64_t cnt = std::min(len, gr.W - w);
                if (ep.active()) conv_epilogue_copy(ep, k0 + kk, src + (j - jb), yk + h * gr.W + w, cnt);
                else std::memcpy(yk + h * gr.W + w, src + (j - jb), sizeof(float) * cnt);
            }
            j += len;
            ++h;
            w = 0;
        }
    }
}

/// Output strips per task: about 128 KiB of input pairs per task, at most 64 strips (the task's output block
/// stays in L2), an even count, and enough tasks for all threads.
inline int64_t strips_per_task(const FpropShape& s) {
    int64_t per = std::clamp<int64_t>(2048 / std::max<int64_t>(1, s.ncp), 2, 64);
    per = std::min(per, std::max<int64_t>(2, s.strips));
    while (per > 2 && s.N * ((s.strips + per - 1) / per) < 2 * num_threads()) per = (per + 1) / 2;
    return round_up(per, 2);
}
/// Row stride of a task's output block: a strip count's worth of positions plus one cache line (no 4 KiB stride).
inline int64_t task_ldo(int64_t per) { return per * 16 + 16; }

#if ICHSEG_CPU_AMX
/// AMX fprop of one task: image n, strips [s0, s1). Tiles: C 0-3 (2 channel blocks x 2 strips), A 4-5, B 6-7;
/// or, with a single block of 16 output channels, C 0-2 (3 strips), A 3, B 4-6. The C tiles go to `obuf` (32 rows
/// of `ldo` floats) and from there, per 32 channels, into y.
inline void fprop_task_amx(const FpropShape& s, const uint16_t* P, const uint16_t* Wa, const float* biasT,
                           int64_t n, int64_t s0, int64_t s1, float* obuf, int64_t ldo, float* y,
                           const ConvEpilogue<float>& ep) {
    const Grid& gr = s.gr;
    const int64_t ncb = s.Cinpad / s.cdepth, pstride = gr.plane * 4, wstride = s.Cinpad * 2, ostride = ldo * 4;
    const int64_t cb_pairs = s.cdepth / 2, nkb = s.Kpad / 16;
    const uint16_t* img = P + n * s.ncp * gr.plane * 2;
    if (nkb == 1) {
        for (int64_t st = s0; st < s1; st += 3) {
            // A missing second or third strip repeats the last one (computed, stored to the same place).
            const int64_t sb = std::min(st + 1, s1 - 1), sc = std::min(st + 2, s1 - 1);
            const int64_t ja = s.strip_start(st), jb = s.strip_start(sb), jc = s.strip_start(sc);
            if (biasT) {
                _tile_loadd(0, biasT, 64);
                _tile_loadd(1, biasT, 64);
                _tile_loadd(2, biasT, 64);
            } else {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
            }
            for (int rs = 0; rs < 9; ++rs) {
                const int64_t off = (rs / 3) * gr.Wp + rs % 3;
                const uint16_t* wa = Wa + rs * s.Kpad * s.Cinpad;
                for (int64_t cb = 0; cb < ncb; ++cb) {
                    const uint16_t* xb = img + (cb * cb_pairs * gr.plane + off) * 2;
                    _tile_loadd(3, wa + cb * s.cdepth, wstride);
                    _tile_loadd(4, xb + ja * 2, pstride);
                    _tile_loadd(5, xb + jb * 2, pstride);
                    _tile_loadd(6, xb + jc * 2, pstride);
                    _tile_dpbf16ps(0, 3, 4);
                    _tile_dpbf16ps(1, 3, 5);
                    _tile_dpbf16ps(2, 3, 6);
                }
            }
            _tile_stored(0, obuf + (st - s0) * 16, ostride);
            _tile_stored(1, obuf + (sb - s0) * 16, ostride);
            _tile_stored(2, obuf + (sc - s0) * 16, ostride);
        }
        write_strips(s, obuf, ldo, n, 0, std::min<int64_t>(16, s.Kout), s0, s1, y, ep);
        return;
    }
    for (int64_t kb = 0; kb < nkb; kb += 2) {
        const int64_t k0 = kb * 16, k1 = std::min(kb + 1, nkb - 1) * 16;
        float* o1 = obuf + (k1 - k0) * ldo;  // the second block's rows (the first one's again when repeated)
        for (int64_t st = s0; st < s1; st += 2) {
            const int64_t sb = std::min(st + 1, s1 - 1);
            const int64_t ja = s.strip_start(st), jb = s.strip_start(sb);
            if (biasT) {
                _tile_loadd(0, biasT + k0 * 16, 64);
                _tile_loadd(1, biasT + k0 * 16, 64);
                _tile_loadd(2, biasT + k1 * 16, 64);
                _tile_loadd(3, biasT + k1 * 16, 64);
            } else {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
            }
            for (int rs = 0; rs < 9; ++rs) {
                const int64_t off = (rs / 3) * gr.Wp + rs % 3;
                const uint16_t* wa0 = Wa + (rs * s.Kpad + k0) * s.Cinpad;
                const uint16_t* wa1 = Wa + (rs * s.Kpad + k1) * s.Cinpad;
                for (int64_t cb = 0; cb < ncb; ++cb) {
                    const uint16_t* xb = img + (cb * cb_pairs * gr.plane + off) * 2;
                    _tile_loadd(4, wa0 + cb * s.cdepth, wstride);
                    _tile_loadd(5, wa1 + cb * s.cdepth, wstride);
                    _tile_loadd(6, xb + ja * 2, pstride);
                    _tile_loadd(7, xb + jb * 2, pstride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
            _tile_stored(0, obuf + (st - s0) * 16, ostride);
            _tile_stored(1, obuf + (sb - s0) * 16, ostride);
            _tile_stored(2, o1 + (st - s0) * 16, ostride);
            _tile_stored(3, o1 + (sb - s0) * 16, ostride);
        }
        write_strips(s, obuf, ldo, n, k0, std::clamp<int64_t>(s.Kout - k0, 0, k1 > k0 ? 32 : 16), s0, s1, y, ep);
    }
}

inline AmxConfig fprop_amx_config(const FpropShape& s) {
    AmxConfig c;
    const int depth_bytes = static_cast<int>(s.cdepth * 2), pair_rows = static_cast<int>(s.cdepth / 2);
    if (s.Kpad == 16) {
        for (int t = 0; t < 3; ++t) c.set(t, 16, 64);
        c.set(3, 16, depth_bytes);
        for (int t = 4; t < 7; ++t) c.set(t, pair_rows, 64);
    } else {
        for (int t = 0; t < 4; ++t) c.set(t, 16, 64);
        c.set(4, 16, depth_bytes);
        c.set(5, 16, depth_bytes);
        c.set(6, pair_rows, 64);
        c.set(7, pair_rows, 64);
    }
    return c;
}
#endif

/// VDPBF16PS fprop of one task: 8 output channels x 3 strips of 16 positions per register block, through `obuf`
/// (8 rows of `ldo` floats) into y.
inline void fprop_task_dot(const FpropShape& s, const uint16_t* P, const uint16_t* Wd, const float* bias, int64_t n,
                           int64_t s0, int64_t s1, float* obuf, int64_t ldo, float* y, const ConvEpilogue<float>& ep) {
    const Grid& gr = s.gr;
    const uint16_t* img = P + n * s.ncp * gr.plane * 2;
    for (int64_t k0 = 0; k0 < s.Kpad; k0 += 8) {
        if (k0 >= s.Kout) break;
        for (int64_t st = s0; st < s1; st += 3) {
            int64_t j[3], sv[3];
            for (int v = 0; v < 3; ++v) {
                sv[v] = std::min(st + v, s1 - 1);
                j[v] = s.strip_start(sv[v]);
            }
            __m512 acc[8][3];
            for (int m = 0; m < 8; ++m) {
                const float b = bias && k0 + m < s.Kout ? bias[k0 + m] : 0.f;
                for (int v = 0; v < 3; ++v) acc[m][v] = _mm512_set1_ps(b);
            }
            for (int rs = 0; rs < 9; ++rs) {
                const int64_t off = (rs / 3) * gr.Wp + rs % 3;
                const uint16_t* wrs = Wd + (rs * s.ncp * s.Kpad + k0) * 2;
                for (int64_t cp = 0; cp < s.ncp; ++cp) {
                    const uint16_t* xb = img + (cp * gr.plane + off) * 2;
                    __m512i b[3];
                    for (int v = 0; v < 3; ++v) b[v] = _mm512_loadu_si512(xb + j[v] * 2);
                    const uint16_t* wp = wrs + cp * s.Kpad * 2;
                    for (int m = 0; m < 8; ++m) {
                        int32_t pair;
                        std::memcpy(&pair, wp + m * 2, 4);
                        const __m512bh a = as_bh(_mm512_set1_epi32(pair));
                        for (int v = 0; v < 3; ++v) acc[m][v] = _mm512_dpbf16_ps(acc[m][v], a, as_bh(b[v]));
                    }
                }
            }
            for (int v = 0; v < 3; ++v)
                for (int m = 0; m < 8; ++m) _mm512_storeu_ps(obuf + m * ldo + (sv[v] - s0) * 16, acc[m][v]);
        }
        write_strips(s, obuf, ldo, n, k0, std::min<int64_t>(8, s.Kout - k0), s0, s1, y, ep);
    }
}

/// y (N, Kout, H, W) = conv3x3(x (N, Cin, H, W), filter) + bias, the filter given as w (Kout, Cin, 3, 3) or, with
/// `rotate`, as the dgrad filter of w (Cin, Kout, 3, 3); then the epilogue `ep`.
inline void fprop_shaped(const float* x, const float* w, bool rotate, const float* bias, int64_t N, int64_t Cin,
                         int64_t Kout, int64_t H, int64_t W, float* y, const ConvEpilogue<float>& ep = {}) {
    const FpropShape s(N, Cin, Kout, H, W);
    const bool amx = bf16_kernel() == Bf16Kernel::Amx;
    std::vector<uint16_t>& Pbuf = caller_buffer<uint16_t>(0);
    std::vector<uint16_t>& Wbuf = caller_buffer<uint16_t>(1);
    std::vector<float>& Bbuf = caller_buffer<float>(2);
    const size_t psize = static_cast<size_t>(N * s.ncp * s.gr.plane * 2);
    if (Pbuf.size() < psize) Pbuf.resize(psize);
    pack_pairs(x, N, Cin, s.gr, s.ncp, Pbuf.data());
    const size_t wsize = static_cast<size_t>(9 * s.Kpad * s.Cinpad);
    if (Wbuf.size() < wsize) Wbuf.resize(wsize);
    if (amx) pack_filter_rows(w, Kout, Cin, rotate, s.Kpad, s.Cinpad, Wbuf.data());
    else pack_filter_pairs(w, Kout, Cin, rotate, s.Kpad, s.ncp, Wbuf.data());
    const float* biasT = nullptr;
    if (bias && amx) {  // 16 copies of each bias value: a C tile's starting value
        if (Bbuf.size() < static_cast<size_t>(s.Kpad * 16)) Bbuf.resize(static_cast<size_t>(s.Kpad * 16));
        for (int64_t k = 0; k < s.Kpad; ++k)
            std::fill(Bbuf.data() + k * 16, Bbuf.data() + k * 16 + 16, k < Kout ? bias[k] : 0.f);
        biasT = Bbuf.data();
    }
    const int64_t per = strips_per_task(s), blocks = (s.strips + per - 1) / per;
    const uint16_t* P = Pbuf.data();
    const uint16_t* Wp = Wbuf.data();
    const int64_t ldo = task_ldo(per);
    parallel_chunks(N * blocks, [&](int, int64_t tb, int64_t te) {
        float* obuf = thread_workspace<float>(static_cast<size_t>(32 * ldo), 3);
#if ICHSEG_CPU_AMX
        if (amx) {
            const AmxScope scope(fprop_amx_config(s));
            for (int64_t t = tb; t < te; ++t) {
                const int64_t n = t / blocks, s0 = (t % blocks) * per;
                fprop_task_amx(s, P, Wp, biasT, n, s0, std::min(s.strips, s0 + per), obuf, ldo, y, ep);
            }
            return;
        }
#endif
        for (int64_t t = tb; t < te; ++t) {
            const int64_t n = t / blocks, s0 = (t % blocks) * per;
            fprop_task_dot(s, P, Wp, bias, n, s0, std::min(s.strips, s0 + per), obuf, ldo, y, ep);
        }
    }, N * Kout * Cin * H * W * 9);
}

/// What one wgrad call computes: dwT[rs][c][k] = sum over images and positions j of x[c][j + off(rs)] dy[k][j].
struct WgradShape {
    int64_t N, C, K;
    Grid gr;
    int64_t Cpad, Kpad, JP, steps_per_image;  // a step: 32 positions of one image
    WgradShape(int64_t n, int64_t c, int64_t k, int64_t h, int64_t w) : N(n), C(c), K(k), gr(h, w) {
        Cpad = round_up(C, 16);
        Kpad = round_up(K, 16);
        JP = round_up(h * gr.Wp, 32) / 2;
        steps_per_image = JP / 16;
    }
};

#if ICHSEG_CPU_AMX
inline AmxConfig wgrad_amx_config() {
    AmxConfig c;
    for (int t = 0; t < 8; ++t) c.set(t, 16, 64);  // C: 16 c x 16 k; A: 16 c x 32 positions; B: 16 pairs x 16 k
    return c;
}
/// acc[c0 + 32 x 32 block of k0] (leading dimension Kpad) += the products of steps [t0, t1) for tap rs.
inline void wgrad_block_amx(const WgradShape& s, const uint16_t* X, const uint16_t* T, int rs, int64_t c0,
                            int64_t k0, int64_t t0, int64_t t1, float* acc) {
    const int64_t off = (rs / 3) * s.gr.Wp + rs % 3, plane = s.gr.plane;
    const int64_t c1 = std::min(c0 + 16, s.Cpad - 16), k1 = std::min(k0 + 16, s.Kpad - 16);
    const int64_t ld = s.Kpad * 4, xs = plane * 2, ts = s.Kpad * 4;
    float* a00 = acc + c0 * s.Kpad + k0;
    float* a01 = acc + c0 * s.Kpad + k1;
    float* a10 = acc + c1 * s.Kpad + k0;
    float* a11 = acc + c1 * s.Kpad + k1;
    _tile_loadd(0, a00, ld);
    _tile_loadd(1, a01, ld);
    _tile_loadd(2, a10, ld);
    _tile_loadd(3, a11, ld);
    int64_t n = t0 / s.steps_per_image, j = (t0 % s.steps_per_image) * 32;
    for (int64_t t = t0; t < t1; ++t, j += 32) {
        if (j == s.steps_per_image * 32) {
            ++n;
            j = 0;
        }
        const uint16_t* xa = X + (n * s.Cpad) * plane + j + off;
        const uint16_t* tb = T + ((n * s.JP + j / 2) * s.Kpad) * 2;
        _tile_loadd(4, xa + c0 * plane, xs);
        _tile_loadd(5, xa + c1 * plane, xs);
        _tile_loadd(6, tb + k0 * 2, ts);
        _tile_loadd(7, tb + k1 * 2, ts);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    // A duplicated block (an odd count of 16-blocks) is computed twice but stored once.
    _tile_stored(0, a00, ld);
    if (k1 != k0) _tile_stored(1, a01, ld);
    if (c1 != c0) _tile_stored(2, a10, ld);
    if (c1 != c0 && k1 != k0) _tile_stored(3, a11, ld);
}
#endif

/// The VDPBF16PS version of wgrad_block_amx: 8 channels c x 32 channels k per register block.
inline void wgrad_block_dot(const WgradShape& s, const uint16_t* X, const uint16_t* T, int rs, int64_t c0,
                            int64_t k0, int64_t t0, int64_t t1, float* acc) {
    const int64_t off = (rs / 3) * s.gr.Wp + rs % 3, plane = s.gr.plane;
    const int64_t cn = std::min<int64_t>(32, s.Cpad - c0), kv = std::min<int64_t>(2, (s.Kpad - k0) / 16);
    for (int64_t cc = c0; cc < c0 + cn; cc += 8) {
        __m512 a[8][2];
        for (int m = 0; m < 8; ++m)
            for (int v = 0; v < kv; ++v) a[m][v] = _mm512_loadu_ps(acc + (cc + m) * s.Kpad + k0 + 16 * v);
        int64_t n = t0 / s.steps_per_image, j = (t0 % s.steps_per_image) * 32;
        for (int64_t t = t0; t < t1; ++t, j += 32) {
            if (j == s.steps_per_image * 32) {
                ++n;
                j = 0;
            }
            const uint16_t* xa = X + (n * s.Cpad + cc) * plane + j + off;
            const uint16_t* tb = T + ((n * s.JP + j / 2) * s.Kpad + k0) * 2;
            for (int p = 0; p < 16; ++p) {
                __m512i b[2];
                for (int v = 0; v < kv; ++v) b[v] = _mm512_loadu_si512(tb + (p * s.Kpad + 16 * v) * 2);
                for (int m = 0; m < 8; ++m) {
                    int32_t pair;
                    std::memcpy(&pair, xa + m * plane + 2 * p, 4);
                    const __m512bh av = as_bh(_mm512_set1_epi32(pair));
                    for (int v = 0; v < kv; ++v) a[m][v] = _mm512_dpbf16_ps(a[m][v], av, as_bh(b[v]));
                }
            }
        }
        for (int m = 0; m < 8; ++m)
            for (int v = 0; v < kv; ++v) _mm512_storeu_ps(acc + (cc + m) * s.Kpad + k0 + 16 * v, a[m][v]);
    }
}

/// dw (K, C, 3, 3) = sum over the batch of dy (N, K, H, W) times the shifted x (N, C, H, W); overwritten.
/// db (K, may be null) = the sum of dy, in FP32 lanes and double across rows and images.
inline void wgrad(const float* dy, const float* x, int64_t N, int64_t C, int64_t K, int64_t H, int64_t W, float* dw,
                  float* db) {
    const WgradShape s(N, C, K, H, W);
    const bool amx = bf16_kernel() == Bf16Kernel::Amx;
    std::vector<uint16_t>& Xbuf = caller_buffer<uint16_t>(0);
    std::vector<uint16_t>& Tbuf = caller_buffer<uint16_t>(1);
    std::vector<float>& accbuf = caller_buffer<float>(2);
    const size_t xsize = static_cast<size_t>(N * s.Cpad * s.gr.plane), tsize = static_cast<size_t>(N * s.JP * s.Kpad * 2);
    if (Xbuf.size() < xsize) Xbuf.resize(xsize);
    if (Tbuf.size() < tsize) Tbuf.resize(tsize);
    pack_plain(x, N, C, s.Cpad, s.gr, Xbuf.data());
    std::vector<double> sums(db ? static_cast<size_t>(N * s.Kpad) : 0);
    pack_dy_transposed(dy, N, K, s.Kpad, s.gr, s.JP, Tbuf.data(), db ? sums.data() : nullptr);
    if (db)
        for (int64_t k = 0; k < K; ++k) {
            double t = 0;
            for (int64_t n = 0; n < N; ++n) t += sums[n * s.Kpad + k];
            db[k] = static_cast<float>(t);
        }
    const int64_t usize = 9 * s.Cpad * s.Kpad, steps = N * s.steps_per_image;
    const int64_t cblocks = (s.Cpad + 31) / 32, kblocks = (s.Kpad + 31) / 32;
    const int threads = std::max(1, num_threads());
    // Split the positions among the threads (per-thread partial sums) when there are many; otherwise split the
    // (c, k) blocks, each thread summing all positions of its blocks.
    const bool split_positions = steps >= 8 * threads || cblocks * kblocks < threads;
    const int parts_max = split_positions ? threads : 1;
    if (accbuf.size() < static_cast<size_t>(parts_max * usize)) accbuf.resize(static_cast<size_t>(parts_max * usize));
    float* acc = accbuf.data();
    const uint16_t* X = Xbuf.data();
    const uint16_t* T = Tbuf.data();
    // Positions per chunk: about 256 KiB of operands, so that the nine taps and all blocks reuse them from L2.
    const int64_t chunk = std::max<int64_t>(1, 4096 / (s.Cpad + s.Kpad));
    auto run_block = [&](int rs, int64_t c0, int64_t k0, int64_t t0, int64_t t1, float* a) {
#if ICHSEG_CPU_AMX
        if (amx) return wgrad_block_amx(s, X, T, rs, c0, k0, t0, t1, a);
#endif
        wgrad_block_dot(s, X, T, rs, c0, k0, t0, t1, a);
    };
    int parts = 1;
    if (split_positions) {
        parts = parallel_chunks(steps, [&](int t, int64_t tb, int64_t te) {
            float* a = acc + t * usize;
            std::fill(a, a + usize, 0.f);
#if ICHSEG_CPU_AMX
            std::optional<AmxScope> scope;
            if (amx) scope.emplace(wgrad_amx_config());
#endif
            for (int64_t t0 = tb; t0 < te; t0 += chunk)
                for (int rs = 0; rs < 9; ++rs)
                    for (int64_t cb = 0; cb < cblocks; ++cb)
                        for (int64_t kb = 0; kb < kblocks; ++kb)
                            run_block(rs, cb * 32, kb * 32, t0, std::min(te, t0 + chunk), a + rs * s.Cpad * s.Kpad);
        }, N * C * K * H * W * 9);
    } else {
        std::fill(acc, acc + usize, 0.f);
        parallel_chunks(cblocks * kblocks, [&](int, int64_t bb, int64_t be) {
#if ICHSEG_CPU_AMX
            std::optional<AmxScope> scope;
            if (amx) scope.emplace(wgrad_amx_config());
#endif
            for (int64_t b = bb; b < be; ++b)
                for (int rs = 0; rs < 9; ++rs)
                    run_block(rs, (b / kblocks) * 32, (b % kblocks) * 32, 0, steps, acc + rs * s.Cpad * s.Kpad);
        }, N * C * K * H * W * 9);
    }
    // dw[k][c][rs] = sum of the partials in thread order, 16 channels k at a time: the partials' rows (rs, c)
    // run along k, dw's along rs and c. (One k at a time, reading a float per row of Kpad, took 11 % of the BF16
    // paper step.)
    parallel_for(s.Kpad / 16, [&](int64_t kb) {
        const int64_t k0 = kb * 16, kn = std::min<int64_t>(16, K - k0);
        for (int64_t c = 0; c < C; ++c) {
            alignas(64) float v[9][16];
            for (int rs = 0; rs < 9; ++rs) {
                const int64_t i = (rs * s.Cpad + c) * s.Kpad + k0;
                __m512 sum = _mm512_loadu_ps(acc + i);
                for (int t = 1; t < parts; ++t) sum = _mm512_add_ps(sum, _mm512_loadu_ps(acc + t * usize + i));
                _mm512_store_ps(v[rs], sum);
            }
            for (int64_t kk = 0; kk < kn; ++kk)
                for (int rs = 0; rs < 9; ++rs) dw[((k0 + kk) * C + c) * 9 + rs] = v[rs][kk];
        }
    }, K * C * 9 * parts);
}

}  // namespace detail

/// y (N,K,H,W) = conv3x3(x, w) + b in BF16 products (b may be null), then the epilogue `ep` (FP32).
inline void conv2d_fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y,
                         const ConvEpilogue<float>& ep = {}) {
    detail::fprop_shaped(x, w, false, b, g.N, g.C, g.K, g.H, g.W, y, ep);
}
/// dx (N,C,H,W) from dy (N,K,H,W): the convolution of dy with the rotated, transposed filter.
inline void conv2d_dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
    detail::fprop_shaped(dy, w, true, nullptr, g.N, g.K, g.C, g.H, g.W, dx);
}
/// dw (K,C,3,3) in BF16 products; db (K) = sum of dy in FP32 (may be null). Both overwritten.
inline void conv2d_wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db) {
    detail::wgrad(dy, x, g.N, g.C, g.K, g.H, g.W, dw, db);
}
#endif  // ICHSEG_CPU_BF16

}  // namespace ichseg::cpu::conv_bf16
