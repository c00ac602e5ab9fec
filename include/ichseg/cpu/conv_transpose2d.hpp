/// @file conv_transpose2d.hpp
/// @brief The U-Net's transposed convolution on the CPU: 2x2 kernel, stride 2, no padding, NCHW.
///
/// Each input pixel (i, j) feeds its own 2x2 output block (2i + r, 2j + s) and no block overlaps another, so
/// with the weight read as a (Cin) x (4 Cout) matrix (PyTorch's (Cin, Cout, 2, 2) layout, index co*4 + r*2 + s):
///   fprop: Z = W^T X (4 Cout x pixels), then each row pair (co, r, s = 0/1) interleaves into output row 2i + r;
///   dgrad: D = the output gradient de-interleaved the same way (4 Cout x pixels), then dx = W D;
///   wgrad: dW = sum over blocks of X D^T.
/// X is the input read in place (Cin rows of an image, leading dimension H W). Work is split into blocks of
/// whole input rows of one image, sized so that a block's Z or D stays in the L2 cache. The general path
/// (conv2d's roles, with im2col and col2im) took 18 % longer over the paper U-Net's four up-convolutions and 33 %
/// longer over the small U-Net's (docs/performance.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/cpu/gemm.hpp"
#include "ichseg/cpu/workspace.hpp"

namespace ichseg::cpu::convt2x2 {

/// Batch N, Cin input and Cout output channels, input H x W (the output is 2H x 2W).
struct Geometry {
    int64_t N, Cin, Cout, H, W;
    int64_t HW() const { return H * W; }
    int64_t M4() const { return 4 * Cout; }
};

/// Input rows per block: about 128k floats of X and Z (or D) together, but at least 256 pixels (each block packs
/// the whole weight matrix again: fewer pixels made the 512-channel layers slower), and at least one row.
inline int64_t rows_per_block(const Geometry& g) {
    const int64_t pixels = std::max<int64_t>(256, (int64_t(1) << 17) / (g.Cin + g.M4()));
    return std::clamp<int64_t>(pixels / g.W, 1, g.H);
}

namespace detail {
/// Z (4 Cout x L, L = (i1 - i0) W) -> output rows 2i + r of one image, adding the bias (may be null).
template <class T>
void interleave_rows(const Geometry& g, const T* Z, int64_t i0, int64_t i1, const T* bias, T* y_img) {
    const int64_t L = (i1 - i0) * g.W, W2 = 2 * g.W;
    for (int64_t co = 0; co < g.Cout; ++co) {
        const T b = bias ? bias[co] : T(0);
        for (int64_t r = 0; r < 2; ++r) {
            const T* z0 = Z + (co * 4 + r * 2) * L;
            const T* z1 = z0 + L;
            for (int64_t i = i0; i < i1; ++i) {
                T* out = y_img + (co * 2 * g.H + 2 * i + r) * W2;
                const T* a = z0 + (i - i0) * g.W;
                const T* c = z1 + (i - i0) * g.W;
                if (bias)
                    for (int64_t j = 0; j < g.W; ++j) {
                        out[2 * j] = a[j] + b;
                        out[2 * j + 1] = c[j] + b;
                    }
                else
                    for (int64_t j = 0; j < g.W; ++j) {
                        out[2 * j] = a[j];
                        out[2 * j + 1] = c[j];
                    }
            }
        }
    }
}

/// Output-gradient rows 2i + r of one image -> D (4 Cout x L), the inverse of interleave_rows.
template <class T>
void deinterleave_rows(const Geometry& g, const T* dy_img, int64_t i0, int64_t i1, T* D) {
    const int64_t L = (i1 - i0) * g.W, W2 = 2 * g.W;
    for (int64_t co = 0; co < g.Cout; ++co)
        for (int64_t r = 0; r < 2; ++r) {
            T* d0 = D + (co * 4 + r * 2) * L;
            T* d1 = d0 + L;
            for (int64_t i = i0; i < i1; ++i) {
                const T* in = dy_img + (co * 2 * g.H + 2 * i + r) * W2;
                T* a = d0 + (i - i0) * g.W;
                T* c = d1 + (i - i0) * g.W;
                for (int64_t j = 0; j < g.W; ++j) {
                    a[j] = in[2 * j];
                    c[j] = in[2 * j + 1];
                }
            }
        }
}
}  // namespace detail

/// y (N, Cout, 2H, 2W) = conv_transpose2d(x, w) + bias; bias may be null. All overwritten, contiguous.
template <class T>
void fprop(const Geometry& g, const T* x, const T* w, const T* bias, T* y) {
    const int64_t rows = rows_per_block(g), blocks = (g.H + rows - 1) / rows, HW = g.HW(), M4 = g.M4();
    parallel_for(g.N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, i0 = (task % blocks) * rows, i1 = std::min(g.H, i0 + rows);
        const int64_t L = (i1 - i0) * g.W;
        T* Z = thread_workspace<T>(static_cast<std::size_t>(M4 * L));
        gemm<T>(true, false, M4, L, g.Cin, T(1), w, M4, x + n * g.Cin * HW + i0 * g.W, HW, T(0), Z, L);
        detail::interleave_rows(g, Z, i0, i1, bias, y + n * g.Cout * 4 * HW);
    }, g.N * HW * g.Cin * M4);
}

/// dx (N, Cin, H, W) from dy (N, Cout, 2H, 2W); overwritten.
template <class T>
void dgrad(const Geometry& g, const T* dy, const T* w, T* dx) {
    const int64_t rows = rows_per_block(g), blocks = (g.H + rows - 1) / rows, HW = g.HW(), M4 = g.M4();
    parallel_for(g.N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, i0 = (task % blocks) * rows, i1 = std::min(g.H, i0 + rows);
        const int64_t L = (i1 - i0) * g.W;
        T* D = thread_workspace<T>(static_cast<std::size_t>(M4 * L));
        detail::deinterleave_rows(g, dy + n * g.Cout * 4 * HW, i0, i1, D);
        gemm<T>(false, false, g.Cin, L, M4, T(1), w, M4, D, L, T(0), dx + n * g.Cin * HW + i0 * g.W, HW);
    }, g.N * HW * g.Cin * M4);
}

/// dw (Cin, Cout, 2, 2) = sum over the batch and pixels of x dy-block products; overwritten. Per-thread partial
/// sums over a static split of the blocks, reduced in thread order: bitwise reproducible for a thread count.
template <class T>
void wgrad(const Geometry& g, const T* dy, const T* x, T* dw) {
    const int64_t rows = rows_per_block(g), blocks = (g.H + rows - 1) / rows, HW = g.HW(), M4 = g.M4();
    const int64_t wsize = g.Cin * M4;
    std::fill(dw, dw + wsize, T(0));
    std::vector<T> partial(static_cast<std::size_t>(std::max(0, num_threads() - 1) * wsize), T(0));
    const int parts = parallel_chunks(g.N * blocks, [&](int t, int64_t tb, int64_t te) {
        T* acc = t == 0 ? dw : partial.data() + (t - 1) * wsize;
        for (int64_t task = tb; task < te; ++task) {
            const int64_t n = task / blocks, i0 = (task % blocks) * rows, i1 = std::min(g.H, i0 + rows);
            const int64_t L = (i1 - i0) * g.W;
            T* D = thread_workspace<T>(static_cast<std::size_t>(M4 * L));
            detail::deinterleave_rows(g, dy + n * g.Cout * 4 * HW, i0, i1, D);
            gemm<T>(false, true, g.Cin, M4, L, T(1), x + n * g.Cin * HW + i0 * g.W, HW, D, L, T(1), acc, M4);
        }
    }, g.N * HW * g.Cin * M4);
    for (int t = 1; t < parts; ++t) {
        const T* p = partial.data() + (t - 1) * wsize;
        for (int64_t i = 0; i < wsize; ++i) dw[i] += p[i];
    }
}

}  // namespace ichseg::cpu::convt2x2

namespace ichseg::cpu {

/// y[n,c,:,:] += b[c] for y (N, C, HW): the transposed convolution's bias on the general (convolution-role) path.
template <class T>
void add_channel_bias(int64_t N, int64_t C, int64_t HW, const T* b, T* y) {
    parallel_for(N * C, [&](int64_t nc) {
        T* row = y + nc * HW;
        const T bk = b[nc % C];
        for (int64_t i = 0; i < HW; ++i) row[i] += bk;
    }, N * C * HW);
}

/// db[c] = sum over n and the HW pixels of dy[n,c,:]: the bias gradient (one channel per task, summed in order).
template <class T>
void channel_sum(int64_t N, int64_t C, int64_t HW, const T* dy, T* db) {
    parallel_for(C, [&](int64_t c) {
        T s = 0;
        for (int64_t n = 0; n < N; ++n) {
            const T* row = dy + (n * C + c) * HW;
            for (int64_t i = 0; i < HW; ++i) s += row[i];
        }
        db[c] = s;
    }, N * C * HW);
}

}  // namespace ichseg::cpu

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu::convt2x2 {
ICHSEG_EXTERN_TEMPLATE template void detail::interleave_rows<float>(const Geometry&, const float*, int64_t, int64_t,
                                                                    const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void detail::deinterleave_rows<float>(const Geometry&, const float*, int64_t, int64_t,
                                                                      float*);
ICHSEG_EXTERN_TEMPLATE template void fprop<float>(const Geometry&, const float*, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void dgrad<float>(const Geometry&, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void wgrad<float>(const Geometry&, const float*, const float*, float*);
}  // namespace ichseg::cpu::convt2x2
#endif
