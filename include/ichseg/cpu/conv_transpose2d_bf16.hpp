/// @file conv_transpose2d_bf16.hpp (cpu)
/// @brief The U-Net's transposed convolution (2x2 kernel, stride 2, no padding) with BF16 operands and FP32
/// accumulation: the pixel-wise GEMMs of cpu/conv_transpose2d.hpp (same blocks, same interleave) on
/// cpu::gemm_bf16. The filter is packed to BF16 once per call and shared by all blocks; wgrad keeps per-thread
/// FP32 partial sums reduced in thread order (bitwise reproducible for a fixed thread count).
#pragma once

#include <algorithm>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/cpu/conv_transpose2d.hpp"
#include "ichseg/cpu/gemm_bf16.hpp"

namespace ichseg::cpu::convt2x2_bf16 {

#if ICHSEG_CPU_BF16
using convt2x2::Geometry;

/// y (N, Cout, 2H, 2W) = conv_transpose2d(x, w) + bias (bias may be null).
inline void fprop(const Geometry& g, const float* x, const float* w, const float* bias, float* y) {
    const int64_t rows = convt2x2::rows_per_block(g), blocks = (g.H + rows - 1) / rows, HW = g.HW(), M4 = g.M4();
    PackedA wt;
    wt.pack(true, M4, g.Cin, w, M4);  // W^T: (4 Cout) x Cin
    parallel_for(g.N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, i0 = (task % blocks) * rows, i1 = std::min(g.H, i0 + rows);
        const int64_t L = (i1 - i0) * g.W;
        float* Z = thread_workspace<float>(static_cast<std::size_t>(M4 * L));
        gemm_bf16(wt, false, L, x + n * g.Cin * HW + i0 * g.W, HW, 0.f, Z, L);
        convt2x2::detail::interleave_rows(g, Z, i0, i1, bias, y + n * g.Cout * 4 * HW);
    }, g.N * HW * g.Cin * M4);
}

/// dx (N, Cin, H, W) from dy (N, Cout, 2H, 2W); overwritten.
inline void dgrad(const Geometry& g, const float* dy, const float* w, float* dx) {
    const int64_t rows = convt2x2::rows_per_block(g), blocks = (g.H + rows - 1) / rows, HW = g.HW(), M4 = g.M4();
    PackedA wp;
    wp.pack(false, g.Cin, M4, w, M4);  // W: Cin x (4 Cout)
    parallel_for(g.N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, i0 = (task % blocks) * rows, i1 = std::min(g.H, i0 + rows);
        const int64_t L = (i1 - i0) * g.W;
        float* D = thread_workspace<float>(static_cast<std::size_t>(M4 * L));
        convt2x2::detail::deinterleave_rows(g, dy + n * g.Cout * 4 * HW, i0, i1, D);
        gemm_bf16(wp, false, L, D, L, 0.f, dx + n * g.Cin * HW + i0 * g.W, HW);
    }, g.N * HW * g.Cin * M4);
}

/// dw (Cin, Cout, 2, 2) = sum over the batch of x-block times dy-block products; overwritten.
inline void wgrad(const Geometry& g, const float* dy, const float* x, float* dw) {
    const int64_t rows = convt2x2::rows_per_block(g), blocks = (g.H + rows - 1) / rows, HW = g.HW(), M4 = g.M4();
    const int64_t wsize = g.Cin * M4;
    std::fill(dw, dw + wsize, 0.f);
    std::vector<float> partial(static_cast<std::size_t>(std::max(0, num_threads() - 1) * wsize), 0.f);
    const int parts = parallel_chunks(g.N * blocks, [&](int t, int64_t tb, int64_t te) {
        float* acc = t == 0 ? dw : partial.data() + (t - 1) * wsize;
        PackedA xa;
        for (int64_t task = tb; task < te; ++task) {
            const int64_t n = task / blocks, i0 = (task % blocks) * rows, i1 = std::min(g.H, i0 + rows);
            const int64_t L = (i1 - i0) * g.W;
            float* D = thread_workspace<float>(static_cast<std::size_t>(M4 * L));
            convt2x2::detail::deinterleave_rows(g, dy + n * g.Cout * 4 * HW, i0, i1, D);
            xa.pack(false, g.Cin, L, x + n * g.Cin * HW + i0 * g.W, HW);
            gemm_bf16(xa, true, M4, D, L, 1.f, acc, M4);
        }
    }, g.N * HW * g.Cin * M4);
    for (int t = 1; t < parts; ++t) {
        const float* p = partial.data() + (t - 1) * wsize;
        for (int64_t i = 0; i < wsize; ++i) dw[i] += p[i];
    }
}
#endif

}  // namespace ichseg::cpu::convt2x2_bf16
