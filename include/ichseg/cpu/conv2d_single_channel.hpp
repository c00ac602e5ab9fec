/// @file conv2d_single_channel.hpp
/// @brief 3x3 stride-1 pad-1 convolution of a single-channel image (the U-Net's input layer, 1 -> K channels) on
/// the CPU, float: forward and weight gradient as vectorised loops over output pixels.
///
/// With one input channel im2col + GEMM multiplies a K x 9 matrix by a 9 x pixels one (forward) and reduces a
/// K x 9 result over every pixel (weight gradient): shapes Eigen's kernel runs at a fraction of its speed (53 and
/// 21 GFLOP/s on the paper U-Net's first layer, docs/performance.md). Here each output row is nine shifted
/// multiply-adds of three zero-padded input rows, eight pixels at a time.
///   fprop: tasks of (image, block of rows); the rows are padded once per task and serve all K filters. An
///          optional per-channel epilogue (cpu/conv2d_epilogue.hpp) is applied to each output row as it is written.
///   wgrad: one task per output channel k, summing over every image and row; each row's eight-lane sums are
///          added to double accumulators, so the result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/cpu/conv2d.hpp"
#include "ichseg/cpu/workspace.hpp"

namespace ichseg::cpu::single_channel {

/// Whether these loops run the convolution: one input channel, 3x3, stride 1, padding 1.
inline bool applicable(const Conv2dGeometry& g) {
    return g.C == 1 && g.R == 3 && g.S == 3 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 1 && g.pad_w == 1;
}

namespace detail {
typedef float v8f __attribute__((vector_size(32)));

/// Rows [r0, r1) of a zero-padded image (row -1 and H are zero, as are columns -1 and W), W + 2 floats per row.
inline void pad_rows(const float* x, int64_t H, int64_t W, int64_t r0, int64_t r1, float* out) {
    const int64_t Wp = W + 2;
    for (int64_t r = r0; r < r1; ++r) {
        float* o = out + (r - r0) * Wp;
        if (r < 0 || r >= H) {
            std::fill(o, o + Wp, 0.f);
            continue;
        }
        o[0] = 0.f;
        std::memcpy(o + 1, x + r * W, static_cast<std::size_t>(W) * sizeof(float));
        o[W + 1] = 0.f;
    }
}
}  // namespace detail

/// y (N, K, H, W) = conv(x (N, 1, H, W), w (K, 1, 3, 3)) + b, then `ep`; b may be null.
inline void fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y,
                  const ConvEpilogue<float>& ep = {}) {
    using detail::v8f;
    const int64_t H = g.H, W = g.W, Wp = W + 2, HW = H * W;
    const int64_t rows = std::clamp<int64_t>(8192 / Wp, 1, H), blocks = (H + rows - 1) / rows;
    parallel_for(g.N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, p0 = (task % blocks) * rows, p1 = std::min(H, p0 + rows);
        float* pad = thread_workspace<float>(static_cast<std::size_t>((p1 - p0 + 2) * Wp));
        detail::pad_rows(x + n * HW, H, W, p0 - 1, p1 + 1, pad);
        for (int64_t k = 0; k < g.K; ++k) {
            const float* wk = w + k * 9;
            const float bk = b ? b[k] : 0.f;
            for (int64_t p = p0; p < p1; ++p) {
                const float* rr[3] = {pad + (p - p0) * Wp, pad + (p - p0 + 1) * Wp, pad + (p - p0 + 2) * Wp};
                float* out = y + (n * g.K + k) * HW + p * W;
                int64_t q = 0;
                for (; q + 8 <= W; q += 8) {
                    v8f acc = v8f{} + bk, v;
                    for (int r = 0; r < 3; ++r)
                        for (int s = 0; s < 3; ++s) {
                            std::memcpy(&v, rr[r] + q + s, sizeof v);
                            acc += wk[r * 3 + s] * v;
                        }
                    std::memcpy(out + q, &acc, sizeof acc);
                }
                for (; q < W; ++q) {
                    float acc = bk;
                    for (int r = 0; r < 3; ++r)
                        for (int s = 0; s < 3; ++s) acc += wk[r * 3 + s] * rr[r][q + s];
                    out[q] = acc;
                }
                conv_epilogue_inplace(ep, k, out, W);
            }
        }
    }, g.N * g.K * HW * 9);
}

/// dw (K, 1, 3, 3) = sum over images and pixels of dy times the shifted input; db (K) = sum of dy (may be null).
/// Both overwritten.
inline void wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db) {
    using detail::v8f;
    const int64_t H = g.H, W = g.W, Wp = W + 2, HW = H * W;
    // The padded images, shared by all tasks.
    std::vector<float>& padded = caller_buffer<float>(0);
    padded.resize(static_cast<std::size_t>(g.N * (H + 2) * Wp));
    parallel_for(g.N, [&](int64_t n) { detail::pad_rows(x + n * HW, H, W, -1, H + 1, padded.data() + n * (H + 2) * Wp); },
                 g.N * HW);
    parallel_for(g.K, [&](int64_t k) {
        double sum[10] = {};  // nine taps, then the bias
        for (int64_t n = 0; n < g.N; ++n) {
            const float* img = padded.data() + n * (H + 2) * Wp;
            for (int64_t p = 0; p < H; ++p) {
                const float* d = dy + (n * g.K + k) * HW + p * W;
                const float* rr[3] = {img + p * Wp, img + (p + 1) * Wp, img + (p + 2) * Wp};
                v8f acc[10] = {};
                int64_t q = 0;
                for (; q + 8 <= W; q += 8) {
                    v8f dv, v;
                    std::memcpy(&dv, d + q, sizeof dv);
                    for (int r = 0; r < 3; ++r)
                        for (int s = 0; s < 3; ++s) {
                            std::memcpy(&v, rr[r] + q + s, sizeof v);
                            acc[r * 3 + s] += dv * v;
                        }
                    acc[9] += dv;
                }
                float tail[10] = {};
                for (; q < W; ++q) {
                    for (int r = 0; r < 3; ++r)
                        for (int s = 0; s < 3; ++s) tail[r * 3 + s] += d[q] * rr[r][q + s];
                    tail[9] += d[q];
                }
                for (int t = 0; t < 10; ++t) {
                    float lanes = tail[t];
                    for (int l = 0; l < 8; ++l) lanes += acc[t][l];
                    sum[t] += lanes;
                }
            }
        }
        for (int t = 0; t < 9; ++t) dw[k * 9 + t] = static_cast<float>(sum[t]);
        if (db) db[k] = static_cast<float>(sum[9]);
    }, g.N * g.K * HW * 9);
}

}  // namespace ichseg::cpu::single_channel
