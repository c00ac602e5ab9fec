/// @file conv2d.hpp (cpu)
/// @brief 2-D convolution on the CPU, NCHW: fprop, dgrad and wgrad as im2col tiles times Eigen GEMM.
///
/// Work is split into tasks of (image, block of output rows); each task builds its im2col tile in a per-thread
/// workspace and multiplies it with the weights. wgrad keeps one partial dW per thread and sums the partials
/// in thread order, so results are bitwise reproducible for a fixed thread count. Stride-1 dgrad is the
/// fprop of dy with the 180-degree-rotated, channel-transposed weights; other strides use GEMM + col2im.
/// fprop takes an optional per-channel epilogue (cpu/conv2d_epilogue.hpp), applied to each task's output block
/// right after the bias, while the block is in cache.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/cpu/conv2d_epilogue.hpp"
#include "ichseg/cpu/gemm.hpp"
#include "ichseg/cpu/workspace.hpp"
#include "ichseg/params/conv2d.hpp"

namespace ichseg::cpu {

namespace detail {

/// im2col for output rows [p0, p1) of one image: col[(c*R + r)*S + s][(p - p0)*Q + q] = x[c][p*sh - ph + r][...].
template <class T>
void im2col_rows(const T* x, const Conv2dGeometry& g, int64_t p0, int64_t p1, T* col) {
    const int64_t npix = (p1 - p0) * g.Q;
    for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r)
            for (int64_t s = 0; s < g.S; ++s) {
                T* dst = col + ((c * g.R + r) * g.S + s) * npix;
                for (int64_t p = p0; p < p1; ++p, dst += g.Q) {
                    const int64_t ih = p * g.stride_h - g.pad_h + r;
                    if (ih < 0 || ih >= g.H) {
                        std::fill(dst, dst + g.Q, T(0));
                        continue;
                    }
                    const T* src = x + (c * g.H + ih) * g.W;
                    if (g.stride_w == 1) {
                        const int64_t off = s - g.pad_w;  // iw = q + off
                        const int64_t q_lo = std::max<int64_t>(0, -off), q_hi = std::min<int64_t>(g.Q, g.W - off);
                        std::fill(dst, dst + std::max<int64_t>(q_lo, 0), T(0));
                        if (q_hi > q_lo) std::memcpy(dst + q_lo, src + q_lo + off, sizeof(T) * (q_hi - q_lo));
                        std::fill(dst + std::max(q_hi, q_lo), dst + g.Q, T(0));
                    } else {
                        for (int64_t q = 0; q < g.Q; ++q) {
                            const int64_t iw = q * g.stride_w - g.pad_w + s;
                            dst[q] = (iw >= 0 && iw < g.W) ? src[iw] : T(0);
                        }
                    }
                }
            }
}

/// col2im for a whole image: dx[c][ih][iw] += col[(c*R + r)*S + s][p*Q + q].
template <class T>
void col2im(const T* col, const Conv2dGeometry& g, T* dx) {
    const int64_t npix = g.P * g.Q;
    for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r)
            for (int64_t s = 0; s < g.S; ++s) {
                const T* src = col + ((c * g.R + r) * g.S + s) * npix;
                for (int64_t p = 0; p < g.P; ++p) {
                    const int64_t ih = p * g.stride_h - g.pad_h + r;
                    if (ih < 0 || ih >= g.H) continue;
                    T* dst = dx + (c * g.H + ih) * g.W;
                    for (int64_t q = 0; q < g.Q; ++q) {
                        const int64_t iw = q * g.stride_w - g.pad_w + s;
                        if (iw >= 0 && iw < g.W) dst[iw] += src[p * g.Q + q];
                    }
                }
            }
}

/// Output rows per task: about `budget` bytes of im2col tile, at least one row, and enough tasks for all threads.
inline int64_t rows_per_task(const Conv2dGeometry& g, std::size_t elem) {
    const int64_t budget = 1 << 21;
    int64_t rows = std::max<int64_t>(1, budget / std::max<int64_t>(1, g.kdim() * g.Q * static_cast<int64_t>(elem)));
    rows = std::min(rows, g.P);
    const int64_t want_tasks = 2 * num_threads();
    while (rows > 1 && g.N * ((g.P + rows - 1) / rows) < want_tasks) rows = (rows + 1) / 2;
    return rows;
}

}  // namespace detail

/// y = conv(x, w) + b. x: (N,C,H,W), w: (K,C,R,S), b: (K) or null, y: (N,K,P,Q) preallocated; then `ep`.
template <class T>
void conv2d_fprop(const Conv2dGeometry& g, const T* x, const T* w, const T* b, T* y, const ConvEpilogue<T>& ep = {}) {
    const int64_t rows = detail::rows_per_task(g, sizeof(T));
    const int64_t blocks = (g.P + rows - 1) / rows;
    const int64_t kdim = g.kdim(), PQ = g.P * g.Q;
    parallel_for(g.N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, p0 = (task % blocks) * rows, p1 = std::min(g.P, p0 + rows);
        const int64_t npix = (p1 - p0) * g.Q;
        const T* x_img = x + n * g.C * g.H * g.W;
        T* y_blk = y + n * g.K * PQ + p0 * g.Q;
        const T* col;
        if (g.is_pointwise()) {
            col = x_img + p0 * g.Q;
        } else {
            T* ws = thread_workspace<T>(static_cast<std::size_t>(kdim * npix));
            detail::im2col_rows(x_img, g, p0, p1, ws);
            col = ws;
        }
        gemm<T>(false, false, g.K, npix, kdim, T(1), w, kdim, col, g.is_pointwise() ? PQ : npix, T(0), y_blk, PQ);
        if (b)
            for (int64_t k = 0; k < g.K; ++k) {
                T* row = y_blk + k * PQ;
                const T bk = b[k];
                for (int64_t i = 0; i < npix; ++i) row[i] += bk;
            }
        if (ep.active())
            for (int64_t k = 0; k < g.K; ++k) conv_epilogue_inplace(ep, k, y_blk + k * PQ, npix);
    }, g.N * g.K * g.P * g.Q * kdim);
}

/// dx = dL/dx given dy: (N,K,P,Q) and w: (K,C,R,S); dx: (N,C,H,W) preallocated (overwritten).
template <class T>
void conv2d_dgrad(const Conv2dGeometry& g, const T* dy, const T* w, T* dx) {
    const int64_t kdim = g.kdim();
    if (g.is_pointwise()) {
        const int64_t HW = g.H * g.W;
        const int64_t rows = detail::rows_per_task(g, sizeof(T));
        const int64_t blocks = (g.P + rows - 1) / rows;
        parallel_for(g.N * blocks, [&](int64_t task) {
            const int64_t n = task / blocks, p0 = (task % blocks) * rows, p1 = std::min(g.P, p0 + rows);
            const int64_t npix = (p1 - p0) * g.Q;
            gemm<T>(true, false, g.C, npix, g.K, T(1), w, kdim, dy + n * g.K * HW + p0 * g.Q, HW, T(0),
                    dx + n * g.C * HW + p0 * g.Q, HW);
        }, g.N * g.K * g.P * g.Q * kdim);
        return;
    }
    if (g.stride_h == 1 && g.stride_w == 1 && g.pad_h < g.R && g.pad_w < g.S) {
        // dgrad of a stride-1 convolution is a convolution of dy with rotated, transposed weights.
        std::vector<T> wr(static_cast<std::size_t>(g.K * kdim));
        for (int64_t k = 0; k < g.K; ++k)
            for (int64_t c = 0; c < g.C; ++c)
                for (int64_t r = 0; r < g.R; ++r)
                    for (int64_t s = 0; s < g.S; ++s)
                        wr[((c * g.K + k) * g.R + (g.R - 1 - r)) * g.S + (g.S - 1 - s)] =
                            w[((k * g.C + c) * g.R + r) * g.S + s];
        Conv2dGeometry t{g.N, g.K, g.P, g.Q, g.C, g.R, g.S, g.H, g.W, 1, 1, g.R - 1 - g.pad_h, g.S - 1 - g.pad_w};
        conv2d_fprop<T>(t, dy, wr.data(), nullptr, dx);
        return;
    }
    // General strides: per image, dcol = w^T dy, then scatter-add (col2im).
    const int64_t PQ = g.P * g.Q, CHW = g.C * g.H * g.W;
    parallel_for(g.N, [&](int64_t n) {
        T* dcol = thread_workspace<T>(static_cast<std::size_t>(kdim * PQ));
        gemm<T>(true, false, kdim, PQ, g.K, T(1), w, kdim, dy + n * g.K * PQ, PQ, T(0), dcol, PQ);
        std::fill(dx + n * CHW, dx + (n + 1) * CHW, T(0));
        detail::col2im(dcol, g, dx + n * CHW);
    }, g.N * g.K * PQ * kdim);
}

/// dw = sum over the batch of dy * im2col(x)^T, db = sum of dy; both overwritten. db may be null.
template <class T>
void conv2d_wgrad(const Conv2dGeometry& g, const T* dy, const T* x, T* dw, T* db) {
    const int64_t rows = detail::rows_per_task(g, sizeof(T));
    const int64_t blocks = (g.P + rows - 1) / rows;
    const int64_t kdim = g.kdim(), PQ = g.P * g.Q, wsize = g.K * kdim;
    const int parts_max = std::max(1, num_threads());
    std::vector<T> partial(static_cast<std::size_t>(parts_max * (wsize + g.K)), T(0));
    const int parts = parallel_chunks(g.N * blocks, [&](int t, int64_t tb, int64_t te) {
        T* pw = partial.data() + t * (wsize + g.K);
        T* pb = pw + wsize;
        for (int64_t task = tb; task < te; ++task) {
            const int64_t n = task / blocks, p0 = (task % blocks) * rows, p1 = std::min(g.P, p0 + rows);
            const int64_t npix = (p1 - p0) * g.Q;
            const T* x_img = x + n * g.C * g.H * g.W;
            const T* dy_blk = dy + n * g.K * PQ + p0 * g.Q;
            const T* col;
            int64_t ldcol = npix;
            if (g.is_pointwise()) {
                col = x_img + p0 * g.Q;
                ldcol = PQ;
            } else {
                T* ws = thread_workspace<T>(static_cast<std::size_t>(kdim * npix));
                detail::im2col_rows(x_img, g, p0, p1, ws);
                col = ws;
            }
            gemm<T>(false, true, g.K, kdim, npix, T(1), dy_blk, PQ, col, ldcol, T(1), pw, kdim);
            if (db)
                for (int64_t k = 0; k < g.K; ++k) {
                    const T* row = dy_blk + k * PQ;
                    T s = 0;
                    for (int64_t i = 0; i < npix; ++i) s += row[i];
                    pb[k] += s;
                }
        }
    }, g.N * g.K * PQ * kdim);
    // Fixed-order reduction of the per-thread partials.
    std::copy(partial.begin(), partial.begin() + wsize, dw);
    if (db) std::copy(partial.begin() + wsize, partial.begin() + wsize + g.K, db);
    for (int t = 1; t < parts; ++t) {
        const T* pw = partial.data() + t * (wsize + g.K);
        for (int64_t i = 0; i < wsize; ++i) dw[i] += pw[i];
        if (db)
            for (int64_t k = 0; k < g.K; ++k) db[k] += pw[wsize + k];
    }
}

}  // namespace ichseg::cpu

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu {
ICHSEG_EXTERN_TEMPLATE template void conv2d_fprop<float>(const Conv2dGeometry&, const float*, const float*,
                                                         const float*, float*, const ConvEpilogue<float>&);
ICHSEG_EXTERN_TEMPLATE template void conv2d_dgrad<float>(const Conv2dGeometry&, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void conv2d_wgrad<float>(const Conv2dGeometry&, const float*, const float*, float*,
                                                         float*);
}  // namespace ichseg::cpu
#endif
