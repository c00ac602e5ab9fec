/// @file conv2d_winograd.hpp (cpu)
/// @brief 3x3 stride-1 pad-1 convolution by Winograd's minimal filtering (Lavin & Gray 2016), F(2x2, 3x3) and
/// F(4x4, 3x3): fprop, dgrad and wgrad as alpha^2 GEMMs (alpha = m + 2) per block of m x m output tiles in the
/// alpha x alpha transform domain, with 2.25x (m = 2) or 4x (m = 4) fewer multiplications than direct convolution.
///
///   fprop:  Y_t = A^T [ sum_c U[k,c] (.) V[c,t] ] A,   U = G g G^T,  V = B^T d_t B   (d_t: alpha x alpha patch)
///   dgrad:  fprop of dy with the 180-degree-rotated, channel-transposed filter
///   wgrad:  dg = G^T [ sum_t (A dY_t A^T) (.) V[c,t] ] G   (the adjoint of fprop; exact in exact arithmetic)
///
/// Two schedules share out the work (see "blocked" and "shared" below): per-thread blocks of tile rows for large
/// images, and batch-wide chunks with one GEMM per transform-domain point per thread for small images with many
/// channels. Both are bitwise reproducible for a fixed thread count. Tile tx of a padded row reads columns
/// m*tx .. m*tx + alpha - 1; splitting each row into its m phases (p[j][q] = row[m q + j]) makes every access of
/// the tile loops contiguous, so they vectorise across tiles. Float only. The transforms add rounding: a few ulp
/// per element for m = 2 (points 0, +-1, +-1/2), roughly ten times more for m = 4 (points up to +-2, factors
/// 1/24); the tests bound both against direct convolution. fprop takes an optional per-channel epilogue
/// (cpu/conv2d_epilogue.hpp), applied by the output transform to each output row right after writing it.
#pragma once

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/cpu/conv2d.hpp"
#include "ichseg/cpu/gemm.hpp"
#include "ichseg/cpu/gemm_unpacked.hpp"
#include "ichseg/cpu/workspace.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

// The transforms' fixed-size loops (alpha, m, 3) must be unrolled completely so that their small arrays live in
// vector registers; GCC's heuristics leave the larger tile lambdas rolled (with stack spills) otherwise.
#define ICHSEG_UNROLL _Pragma("GCC unroll 36")

namespace ichseg::cpu::winograd {

/// Eight floats processed as one value (GCC/Clang vector extension); the tile loops run eight tiles at a time
/// and finish with a scalar tail through the same templated code.
typedef float v8f __attribute__((vector_size(32)));
template <class V>
inline void load(V& v, const float* p) {
    if constexpr (sizeof(V) == sizeof(float)) v = *p;
    else __builtin_memcpy(&v, p, sizeof(V));
}
template <class V>
inline void store(float* p, const V& v) {
    if constexpr (sizeof(V) == sizeof(float)) *p = v;
    else __builtin_memcpy(p, &v, sizeof(V));
}
/// The vector whose lane l is p[l * step] (a strided gather), built from the lanes directly rather than through a
/// float array loaded as a vector (narrow stores followed by one wide load cannot be forwarded).
template <class V, size_t... L>
inline void gather_lanes(V& v, const float* p, int64_t step, std::index_sequence<L...>) {
    v = V{p[static_cast<int64_t>(L) * step]...};
}
template <class V>
inline void gather(V& v, const float* p, int64_t step) {
    if constexpr (sizeof(V) == sizeof(float)) v = *p;
    else gather_lanes(v, p, step, std::make_index_sequence<sizeof(V) / sizeof(float)>{});
}
/// Narrow tile rows. The tiles of consecutive tile rows (and of consecutive images, in the shared schedule) are
/// neighbours in the transform domain, so a vector of eight tiles can hold 8 / TW whole rows of TW tiles. For
/// F(2x2) on images of 8 x 8 and 4 x 4 pixels (TW = 4 and 2; the small U-Net's deep layers) that replaces the
/// scalar tail of every row. rows_per_vector: 8 / TW where TW divides 8, else 1 (one row at a time).
inline int rows_per_vector(int64_t TW) { return TW == 1 || TW == 2 || TW == 4 ? static_cast<int>(8 / TW) : 1; }

/// The eight lanes p[q * qd + t] for q < 8 / TW, t < TW: TW tiles from each of 8 / TW rows qd floats apart.
template <int TW, size_t... L>
inline void load_rows_lanes(v8f& v, const float* p, int64_t qd, std::index_sequence<L...>) {
    v = v8f{p[static_cast<int64_t>(L / TW) * qd + static_cast<int64_t>(L % TW)]...};
}
template <int TW>
inline void load_rows(v8f& v, const float* p, int64_t qd) {
#if defined(__AVX__)
    if constexpr (TW == 4) {
        v = (v8f)_mm256_loadu2_m128(p + qd, p);
        return;
    }
    if constexpr (TW == 2) {
        const __m128 lo = _mm_loadh_pi(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p)),
                                       reinterpret_cast<const __m64*>(p + qd));
        const __m128 hi = _mm_loadh_pi(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p + 2 * qd)),
                                       reinterpret_cast<const __m64*>(p + 3 * qd));
        v = (v8f)_mm256_set_m128(hi, lo);
        return;
    }
#endif
    load_rows_lanes<TW>(v, p, qd, std::make_index_sequence<8>{});
}
/// The inverse: p[q * qd + t] = lane q TW + t.
template <int TW>
inline void store_rows(float* p, int64_t qd, const v8f& v) {
#if defined(__AVX__)
    if constexpr (TW == 4) {
        _mm256_storeu2_m128(p + qd, p, (__m256)v);
        return;
    }
    if constexpr (TW == 2) {
        const __m128 lo = _mm256_castps256_ps128((__m256)v), hi = _mm256_extractf128_ps((__m256)v, 1);
        _mm_storel_pi(reinterpret_cast<__m64*>(p), lo);
        _mm_storeh_pi(reinterpret_cast<__m64*>(p + qd), lo);
        _mm_storel_pi(reinterpret_cast<__m64*>(p + 2 * qd), hi);
        _mm_storeh_pi(reinterpret_cast<__m64*>(p + 3 * qd), hi);
        return;
    }
#endif
    for (int l = 0; l < 8; ++l) p[(l / TW) * qd + l % TW] = v[l];
}
/// f(std::integral_constant<int, TW>) for TW = 1, 2 or 4 (narrow rows).
template <class F>
inline void with_row_width(int64_t TW, F&& f) {
    if (TW == 4) f(std::integral_constant<int, 4>{});
    else if (TW == 2) f(std::integral_constant<int, 2>{});
    else f(std::integral_constant<int, 1>{});
}

/// body(tag, tx) for tx in [0, n): blocks of eight with tag of type v8f*, then the rest with tag float*
/// (null pointers that only carry the type: vectors are never passed by value, which keeps the ABI stable).
template <class F>
inline void for_tiles(int64_t n, F&& body) {
    int64_t tx = 0;
    for (; tx + 8 <= n; tx += 8) body(static_cast<v8f*>(nullptr), tx);
    for (; tx < n; ++tx) body(static_cast<float*>(nullptr), tx);
}

/// F(2x2, 3x3): alpha = 4.
struct F2 {
    static constexpr int m = 2, alpha = 4;
    /// t = B^T d
    template <class V>
    static inline void input(const V* d, V* t) {
        t[0] = d[0] - d[2];
        t[1] = d[1] + d[2];
        t[2] = d[2] - d[1];
        t[3] = d[1] - d[3];
    }
    /// y = A^T s
    template <class V>
    static inline void output(const V* s, V* y) {
        y[0] = s[0] + s[1] + s[2];
        y[1] = s[1] - s[2] - s[3];
    }
    /// u = G g
    template <class V>
    static inline void filter(const V* g, V* u) {
        u[0] = g[0];
        u[1] = 0.5f * (g[0] + g[1] + g[2]);
        u[2] = 0.5f * (g[0] - g[1] + g[2]);
        u[3] = g[2];
    }
    /// d = A dy   (the adjoint of output())
    template <class V>
    static inline void output_adjoint(const V* dy, V* d) {
        d[0] = dy[0];
        d[1] = dy[0] + dy[1];
        d[2] = dy[0] - dy[1];
        d[3] = -dy[1];
    }
    /// g = G^T u  (the adjoint of filter())
    template <class V>
    static inline void filter_adjoint(const V* u, V* g) {
        g[0] = u[0] + 0.5f * (u[1] + u[2]);
        g[1] = 0.5f * (u[1] - u[2]);
        g[2] = 0.5f * (u[1] + u[2]) + u[3];
    }
};

/// F(4x4, 3x3): alpha = 6, interpolation points 0, +-1, +-2, infinity.
struct F4 {
    static constexpr int m = 4, alpha = 6;
    template <class V>
    static inline void input(const V* d, V* t) {
        t[0] = 4.f * d[0] - 5.f * d[2] + d[4];
        t[1] = -4.f * (d[1] + d[2]) + d[3] + d[4];
        t[2] = 4.f * (d[1] - d[2]) - d[3] + d[4];
        t[3] = 2.f * (d[3] - d[1]) - d[2] + d[4];
        t[4] = 2.f * (d[1] - d[3]) - d[2] + d[4];
        t[5] = 4.f * d[1] - 5.f * d[3] + d[5];
    }
    template <class V>
    static inline void output(const V* s, V* y) {
        const V a = s[1] + s[2], b = s[1] - s[2], c = s[3] + s[4], d = s[3] - s[4];
        y[0] = s[0] + a + c;
        y[1] = b + 2.f * d;
        y[2] = a + 4.f * c;
        y[3] = b + 8.f * d + s[5];
    }
    template <class V>
    static inline void filter(const V* g, V* u) {
        u[0] = 0.25f * g[0];
        u[1] = -(g[0] + g[1] + g[2]) * (1.f / 6.f);
        u[2] = -(g[0] - g[1] + g[2]) * (1.f / 6.f);
        u[3] = g[0] * (1.f / 24.f) + g[1] * (1.f / 12.f) + g[2] * (1.f / 6.f);
        u[4] = g[0] * (1.f / 24.f) - g[1] * (1.f / 12.f) + g[2] * (1.f / 6.f);
        u[5] = g[2];
    }
    template <class V>
    static inline void output_adjoint(const V* dy, V* d) {
        d[0] = dy[0];
        d[1] = dy[0] + dy[1] + dy[2] + dy[3];
        d[2] = dy[0] - dy[1] + dy[2] - dy[3];
        d[3] = dy[0] + 2.f * dy[1] + 4.f * dy[2] + 8.f * dy[3];
        d[4] = dy[0] - 2.f * dy[1] + 4.f * dy[2] - 8.f * dy[3];
        d[5] = dy[3];
    }
    template <class V>
    static inline void filter_adjoint(const V* u, V* g) {
        g[0] = 0.25f * u[0] - (u[1] + u[2]) * (1.f / 6.f) + (u[3] + u[4]) * (1.f / 24.f);
        g[1] = (u[2] - u[1]) * (1.f / 6.f) + (u[3] - u[4]) * (1.f / 12.f);
        g[2] = (u[3] + u[4] - u[1] - u[2]) * (1.f / 6.f) + u[5];
    }
};

/// Winograd can run any 3x3 stride-1 pad-1 convolution (float).
inline bool applicable(const Conv2dGeometry& g) {
    return g.R == 3 && g.S == 3 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 1 && g.pad_w == 1;
}

/// Winograd is chosen automatically when it pays: at least 8 channels each way (smaller GEMMs do not pay for the
/// transforms) and images of at least 4 x 4. On 4 x 4 and 8 x 8 images with 32-128 channels (the `small` U-Net's
/// deep layers) the shared schedule is 1.5-1.8x faster than im2col + GEMM (docs/performance.md).
inline bool preferred(const Conv2dGeometry& g) { return applicable(g) && g.C >= 8 && g.K >= 8 && g.H >= 4 && g.W >= 4; }

/// The tile size used for a geometry: F(4x4) once the image is at least 32 x 32. Below that the filter transform
/// (alpha^2 K C values per call) costs as much as the few GEMM columns it serves, and F(2x2) is faster.
inline bool use_f4(const Conv2dGeometry& g) { return g.H >= 32 && g.W >= 32; }

/// Which schedule runs, and the shared schedule's chunk size. Automatic by default; tests force each schedule
/// and small chunks on small geometries (not thread-safe: set it only while no convolution runs).
struct Tuning {
    enum class Schedule { Auto, Blocked, Shared } schedule = Schedule::Auto;
    int64_t chunk_tiles = 0;  ///< tiles per chunk of the shared schedule; 0: automatic
};
inline Tuning& tuning() {
    static Tuning t;
    return t;
}

namespace detail {

/// Distance between the alpha^2 transform-domain matrices of a block. The transform loops write (or read) all
/// alpha^2 matrices at once; with a distance that is a multiple of 4 KiB those streams would all fall into one
/// L1 cache set and evict each other. Rounding up to 4 KiB and adding five cache lines spreads them over
/// distinct sets.
inline int64_t plane_stride(int64_t elements) { return (elements + 1023) / 1024 * 1024 + 80; }

/// Tile grid of an H x W output: TH x TW tiles of m x m.
struct Tiling {
    int64_t TH, TW;
    Tiling(int64_t H, int64_t W, int m) : TH((H + m - 1) / m), TW((W + m - 1) / m) {}
};

/// U[a*a][K][C] = G g G^T of every filter, matrix xi at U + xi * us (us = plane_stride(K C)); with `rotate`, the
/// filter w[k][c] rotated by 180 degrees, stored as U[a*a][C][K] (the dgrad filter). Eight filters that are
/// neighbours in U are transformed together, so the alpha^2 output streams are written contiguously. Rotated, the
/// eight come from eight different filter rows w[k][.]; blocks of 16 rows are then walked along c together, so
/// that the reads stay in 16 sequential streams.
template <class WT>
void transform_filter(const float* w, int64_t K, int64_t C, bool rotate, float* U, int64_t us) {
    constexpr int A = WT::alpha;
    const int64_t KC = K * C;
    // U row `outer` (k, or c when rotated), columns [i0, i0 + lanes) (c, or k when rotated).
    const int64_t inner_n = rotate ? K : C;
    auto block = [&](auto tag, int64_t outer, int64_t i0) {
        using T = std::remove_pointer_t<decltype(tag)>;
        // Lane l is filter (outer, i0 + l), or (i0 + l, outer) when rotated: 9 or 9 C floats after lane l - 1.
        const int64_t k0 = rotate ? i0 : outer, c0 = rotate ? outer : i0, step = rotate ? 9 * C : 9;
        const float* first = w + (k0 * C + c0) * 9;
        T g[3][3];
        ICHSEG_UNROLL for (int r = 0; r < 3; ++r)
            ICHSEG_UNROLL for (int s = 0; s < 3; ++s)
                gather(g[r][s], first + (rotate ? (2 - r) * 3 + (2 - s) : r * 3 + s), step);
        T t[3][A];  // g G^T along each row
        ICHSEG_UNROLL for (int r = 0; r < 3; ++r) WT::filter(g[r], t[r]);
        float* dst = U + outer * inner_n + i0;
        ICHSEG_UNROLL for (int j = 0; j < A; ++j) {
            const T col[3] = {t[0][j], t[1][j], t[2][j]};
            T u[A];
            WT::filter(col, u);
            ICHSEG_UNROLL for (int i = 0; i < A; ++i) store<T>(dst + (i * A + j) * us, u[i]);
        }
    };
    const int64_t work = KC * A * A * 4;
    if (!rotate) {
        parallel_for(K, [&](int64_t k) { for_tiles(C, [&](auto tag, int64_t c0) { block(tag, k, c0); }); }, work);
        return;
    }
    constexpr int64_t kRows = 16;
    parallel_for((K + kRows - 1) / kRows, [&](int64_t kb) {
        const int64_t k0 = kb * kRows, kn = std::min(kRows, K - k0);
        for (int64_t c = 0; c < C; ++c) for_tiles(kn, [&](auto tag, int64_t i) { block(tag, c, k0 + i); });
    }, work);
}

/// Split an image row, shifted right by `shift` (0 or 1) and zero outside [0, W), into its m phases:
/// ph[j * n + q] = row[m q + j - shift], q < n. The interior handles all m phases of a column group together
/// (a fully used interleaved access, which the compiler can vectorise); the edges are checked one by one.
template <int M>
inline void split_phases(const float* row, int64_t W, int shift, int64_t n, float* ph) {
    const int64_t q_lo = shift > 0 ? 1 : 0;                        // first q with m q - shift >= 0
    const int64_t q_hi = std::max(q_lo, std::min(n, (W + shift) / M));  // q below: m q + m - 1 - shift < W
    for (int64_t q = 0; q < q_lo; ++q)
        ICHSEG_UNROLL for (int j = 0; j < M; ++j) {
            const int64_t i = M * q + j - shift;
            ph[j * n + q] = i >= 0 && i < W ? row[i] : 0.f;
        }
    const float* src = row - shift;
    for (int64_t q = q_lo; q < q_hi; ++q)
        ICHSEG_UNROLL for (int j = 0; j < M; ++j) ph[j * n + q] = src[M * q + j];
    for (int64_t q = q_hi; q < n; ++q)
        ICHSEG_UNROLL for (int j = 0; j < M; ++j) {
            const int64_t i = M * q + j - shift;
            ph[j * n + q] = i >= 0 && i < W ? row[i] : 0.f;
        }
}

/// The inverse for an output row: row[m t + j] = ph[j * n + t] for every m t + j < W.
template <int M>
inline void merge_phases(const float* ph, int64_t n, int64_t W, float* row) {
    const int64_t full = std::min(n, W / M);
    for (int64_t t = 0; t < full; ++t)
        ICHSEG_UNROLL for (int j = 0; j < M; ++j) row[M * t + j] = ph[j * n + t];
    for (int64_t i = M * full; i < W; ++i) row[i] = ph[(i % M) * n + i / M];
}

/// B^T d B of one tile per lane: patch(r, s, d) sets d to the lanes' input values (r, s) of their alpha x alpha
/// patches, point xi goes to out[xi * stride]. (Values go through references: vectors are never passed by value.)
template <class WT, class T, class Patch>
inline void input_tiles(const Patch& patch, float* out, int64_t stride) {
    constexpr int A = WT::alpha;
    T e[A][A];  // e[r][j] = (d B)[r][j]
    ICHSEG_UNROLL for (int r = 0; r < A; ++r) {
        T d[A];
        ICHSEG_UNROLL for (int s = 0; s < A; ++s) patch(r, s, d[s]);
        WT::input(d, e[r]);
    }
    ICHSEG_UNROLL for (int j = 0; j < A; ++j) {
        T col[A], v[A];
        ICHSEG_UNROLL for (int r = 0; r < A; ++r) col[r] = e[r][j];
        WT::input(col, v);
        ICHSEG_UNROLL for (int i = 0; i < A; ++i) store<T>(out + (i * A + j) * stride, v[i]);
    }
}

/// V = B^T d B of tile rows [ty0, ty1) of `images` images (image i at x + i * image_stride): tile t of channel
/// c, transform-domain point xi goes to V[xi * stride + c * ld + t], tiles counted from ty0 of the first image
/// (image i's rows follow image i - 1's).
template <class WT>
void transform_input(const float* x, int64_t C, int64_t H, int64_t W, const Tiling& tl, int64_t ty0, int64_t ty1,
                     float* V, int64_t ld, int64_t stride, int64_t images = 1, int64_t image_stride = 0) {
    constexpr int A = WT::alpha, M = WT::m;
    const int64_t TW = tl.TW, n = TW + 1, rows = ty1 - ty0;
    const int R = rows_per_vector(TW);
    if (R > 1) {
        // Narrow rows: each split row of the R tile rows of a vector in its own slot, [q][A rows][M phases][n].
        const int64_t row_floats = M * n, qd = A * row_floats, all_rows = images * rows;
        float* ph = thread_workspace<float>(static_cast<size_t>(R * qd), 2);
        with_row_width(TW, [&](auto tw) {
            constexpr int kTW = decltype(tw)::value;
            for (int64_t c = 0; c < C; ++c) {
                for (int64_t g0 = 0; g0 < all_rows; g0 += R) {
                    const int64_t qn = std::min<int64_t>(R, all_rows - g0);
                    for (int64_t q = 0; q < qn; ++q) {
                        const int64_t ty = ty0 + (g0 + q) % rows;
                        const float* xc = x + (g0 + q) / rows * image_stride + c * H * W;
                        for (int i = 0; i < A; ++i) {
                            const int64_t ih = M * ty - 1 + i;
                            float* slot = ph + q * qd + i * row_floats;
                            if (ih < 0 || ih >= H) std::fill(slot, slot + row_floats, 0.f);
                            else split_phases<M>(xc + ih * W, W, 1, n, slot);
                        }
                    }
                    float* out = V + c * ld + g0 * TW;
                    if (qn == R) {
                        input_tiles<WT, v8f>([&](int r, int s, v8f& d) {
                            load_rows<kTW>(d, ph + r * row_floats + (s % M) * n + s / M, qd);
                        }, out, stride);
                        continue;
                    }
                    for (int64_t q = 0; q < qn; ++q)  // the last, incomplete vector
                        for (int64_t tx = 0; tx < TW; ++tx)
                            input_tiles<WT, float>([&](int r, int s, float& d) {
                                d = ph[q * qd + r * row_floats + (s % M) * n + tx + s / M];
                            }, out + q * TW + tx, stride);
                }
            }
        });
        return;
    }
    // A ring of A split rows: image row ih lives in slot (ih + 1) % A. Consecutive tile rows share A - M image
    // rows, which are split once.
    float* ph = thread_workspace<float>(static_cast<size_t>(A * M * n), 2);  // A slots x M phases x n
    for (int64_t im = 0; im < images; ++im)
        for (int64_t c = 0; c < C; ++c) {
            const float* xc = x + im * image_stride + c * H * W;
            for (int64_t ty = ty0; ty < ty1; ++ty) {
                const float* rp[A];  // the split rows of this tile row, top to bottom
                ICHSEG_UNROLL for (int i = 0; i < A; ++i) {
                    const int64_t ih = M * ty - 1 + i;
                    float* slot = ph + ((ih + 1) % A) * M * n;
                    rp[i] = slot;
                    if (ty > ty0 && i < A - M) continue;  // split for the previous tile row
                    if (ih < 0 || ih >= H) std::fill(slot, slot + M * n, 0.f);
                    else split_phases<M>(xc + ih * W, W, 1, n, slot);
                }
                float* out = V + c * ld + (im * rows + ty - ty0) * TW;
                for_tiles(TW, [&](auto tag, int64_t tx) {
                    using T = std::remove_pointer_t<decltype(tag)>;
                    input_tiles<WT, T>([&](int r, int s, T& d) { load<T>(d, rp[r] + (s % M) * n + tx + s / M); },
                                       out + tx, stride);
                });
            }
        }
}

/// A^T m A of one tile per lane, m read at m[xi * stride]; put(a, b, value) receives output (a, b) of the lanes'
/// m x m tiles, plus `bias` (by const reference).
template <class WT, class T, class Put>
inline void output_tiles(const float* m, int64_t stride, float bias, const Put& put) {
    constexpr int A = WT::alpha, M = WT::m;
    T s[M][A];  // (A^T m)[a][j]
    ICHSEG_UNROLL for (int j = 0; j < A; ++j) {
        T col[A], o[M];
        ICHSEG_UNROLL for (int i = 0; i < A; ++i) load<T>(col[i], m + (i * A + j) * stride);
        WT::output(col, o);
        ICHSEG_UNROLL for (int a = 0; a < M; ++a) s[a][j] = o[a];
    }
    ICHSEG_UNROLL for (int a = 0; a < M; ++a) {
        T o[M];
        WT::output(s[a], o);
        ICHSEG_UNROLL for (int b = 0; b < M; ++b) {
            const T v = o[b] + bias;
            put(a, b, v);
        }
    }
}

/// y[k] rows of tile rows [ty0, ty1) of `images` images (image i at y + i * image_stride) from the
/// transform-domain products Mt[xi * stride + k * ld + t] (tiles counted as in transform_input):
/// Y = A^T m A (+ bias), then the epilogue `ep` on each row as it is written.
template <class WT>
void transform_output(const float* Mt, int64_t K, int64_t H, int64_t W, const Tiling& tl, int64_t ty0, int64_t ty1,
                      const float* bias, float* y, int64_t ld, int64_t stride, const ConvEpilogue<float>& ep,
                      int64_t images = 1, int64_t image_stride = 0) {
    constexpr int M = WT::m;
    const int64_t TW = tl.TW, rows = ty1 - ty0, all_rows = images * rows;
    const int R = rows_per_vector(TW);
    const int64_t qd = M * M * TW;                                        // one tile row's [M rows][M phases][TW]
    float* ph = thread_workspace<float>(static_cast<size_t>(R * qd), 2);  // R of them
    // The m output rows of tile row g (counted over the images) from its phases in ph + q * qd.
    auto write_rows = [&](int64_t k, int64_t g, int64_t q) {
        const int64_t ty = ty0 + g % rows;
        float* yk = y + g / rows * image_stride + k * H * W;
        ICHSEG_UNROLL for (int a = 0; a < M; ++a) {
            const int64_t oh = M * ty + a;
            if (oh >= H) break;
            merge_phases<M>(ph + q * qd + a * M * TW, TW, W, yk + oh * W);
            conv_epilogue_inplace(ep, k, yk + oh * W, W);
        }
    };
    for (int64_t k = 0; k < K; ++k) {
        const float b = bias ? bias[k] : 0.f;
        if (R > 1) {  // narrow rows: R tile rows per vector
            with_row_width(TW, [&](auto tw) {
                constexpr int kTW = decltype(tw)::value;
                for (int64_t g0 = 0; g0 < all_rows; g0 += R) {
                    const int64_t qn = std::min<int64_t>(R, all_rows - g0);
                    const float* mk = Mt + k * ld + g0 * TW;
                    if (qn == R)
                        output_tiles<WT, v8f>(mk, stride, b, [&](int a, int bb, const v8f& v) {
                            store_rows<kTW>(ph + (a * M + bb) * TW, qd, v);
                        });
                    else
                        for (int64_t t = 0; t < qn * TW; ++t)
                            output_tiles<WT, float>(mk + t, stride, b, [&](int a, int bb, const float& v) {
                                ph[t / TW * qd + (a * M + bb) * TW + t % TW] = v;
                            });
                    for (int64_t q = 0; q < qn; ++q) write_rows(k, g0 + q, q);
                }
            });
            continue;
        }
        for (int64_t g = 0; g < all_rows; ++g) {
            const float* mk = Mt + k * ld + g * TW;
            for_tiles(TW, [&](auto tag, int64_t tx) {
                using T = std::remove_pointer_t<decltype(tag)>;
                output_tiles<WT, T>(mk + tx, stride, b, [&](int a, int bb, const T& v) {
                    store<T>(ph + (a * M + bb) * TW + tx, v);
                });
            });
            write_rows(k, g, 0);
        }
    }
}

/// A dY A^T of one tile per lane: grad(a, b, g) sets g to the lanes' output-gradient values (a, b) of their
/// m x m tiles, point xi goes to out[xi * stride].
template <class WT, class T, class Grad>
inline void output_grad_tiles(const Grad& grad, float* out, int64_t stride) {
    constexpr int A = WT::alpha, M = WT::m;
    T q[M][A];  // (dY A^T)[a][j]
    ICHSEG_UNROLL for (int a = 0; a < M; ++a) {
        T r[M];
        ICHSEG_UNROLL for (int b = 0; b < M; ++b) grad(a, b, r[b]);
        WT::output_adjoint(r, q[a]);
    }
    ICHSEG_UNROLL for (int j = 0; j < A; ++j) {
        T col[M], d[A];
        ICHSEG_UNROLL for (int a = 0; a < M; ++a) col[a] = q[a][j];
        WT::output_adjoint(col, d);
        ICHSEG_UNROLL for (int i = 0; i < A; ++i) store<T>(out + (i * A + j) * stride, d[i]);
    }
}

/// D = A dY A^T of the m x m output-gradient tiles of tile rows [ty0, ty1) (zero outside the image) of `images`
/// images (image i at dy + i * image_stride), laid out as in transform_input: D[xi * stride + k * ld + t].
template <class WT>
void transform_output_grad(const float* dy, int64_t K, int64_t H, int64_t W, const Tiling& tl, int64_t ty0,
                           int64_t ty1, float* D, int64_t ld, int64_t stride, int64_t images = 1,
                           int64_t image_stride = 0) {
    constexpr int M = WT::m;
    const int64_t TW = tl.TW, rows = ty1 - ty0, all_rows = images * rows;
    const int R = rows_per_vector(TW);
    const int64_t qd = M * M * TW;                                        // one tile row's [M rows][M phases][TW]
    float* ph = thread_workspace<float>(static_cast<size_t>(R * qd), 2);  // R of them
    // Tile row g's (counted over the images) m gradient rows, split into phases, to ph + q * qd.
    auto split_rows = [&](int64_t k, int64_t g, int64_t q) {
        const int64_t ty = ty0 + g % rows;
        const float* dyk = dy + g / rows * image_stride + k * H * W;
        ICHSEG_UNROLL for (int a = 0; a < M; ++a) {
            float* dst = ph + q * qd + a * M * TW;
            const int64_t oh = M * ty + a;
            if (oh >= H) std::fill(dst, dst + M * TW, 0.f);
            else split_phases<M>(dyk + oh * W, W, 0, TW, dst);
        }
    };
    for (int64_t k = 0; k < K; ++k) {
        if (R > 1) {  // narrow rows: R tile rows per vector
            with_row_width(TW, [&](auto tw) {
                constexpr int kTW = decltype(tw)::value;
                for (int64_t g0 = 0; g0 < all_rows; g0 += R) {
                    const int64_t qn = std::min<int64_t>(R, all_rows - g0);
                    for (int64_t q = 0; q < qn; ++q) split_rows(k, g0 + q, q);
                    float* out = D + k * ld + g0 * TW;
                    if (qn == R)
                        output_grad_tiles<WT, v8f>([&](int a, int bb, v8f& v) {
                            load_rows<kTW>(v, ph + (a * M + bb) * TW, qd);
                        }, out, stride);
                    else
                        for (int64_t t = 0; t < qn * TW; ++t)
                            output_grad_tiles<WT, float>([&](int a, int bb, float& v) {
                                v = ph[t / TW * qd + (a * M + bb) * TW + t % TW];
                            }, out + t, stride);
                }
            });
            continue;
        }
        for (int64_t g = 0; g < all_rows; ++g) {
            split_rows(k, g, 0);
            float* out = D + k * ld + g * TW;
            for_tiles(TW, [&](auto tag, int64_t tx) {
                using T = std::remove_pointer_t<decltype(tag)>;
                output_grad_tiles<WT, T>([&](int a, int bb, T& v) { load<T>(v, ph + (a * M + bb) * TW + tx); },
                                         out + tx, stride);
            });
        }
    }
}

// Two schedules share the work among the threads.
//  - blocked: every thread takes whole blocks of tile rows of one image and runs the input transform, the
//    alpha^2 GEMMs and the output transform in its own buffers. Best for large images with few channels. wgrad
//    keeps one transform-domain partial dU per thread and sums them in thread order.
//  - shared: the batch's tiles are cut into chunks; a chunk's transforms are shared out over channels and its
//    alpha^2 GEMMs over the threads, one transform-domain point per GEMM. Each thread then reads only its share
//    of the (large) transformed filter or dU, and the GEMMs see the tiles of several images at once. Best for
//    small images with many channels. wgrad accumulates dU chunk by chunk in a fixed order.
// Both are bitwise reproducible for a fixed thread count.

/// The shared schedule pays off once an image has at most 64 tiles and the transformed filter holds at least
/// 2^20 values (measured on the paper's U-Net layers), and always for images of at most 16 tiles (8 x 8 pixels
/// with F(2x2)), where the blocked schedule's per-image GEMMs are too small (the `small` U-Net's deep layers;
/// docs/performance.md).
inline bool use_shared_schedule(const Tiling& tl, int a2, int64_t C, int64_t K) {
    if (tuning().schedule != Tuning::Schedule::Auto) return tuning().schedule == Tuning::Schedule::Shared;
    const int64_t tiles = tl.TH * tl.TW;
    return tiles <= 16 || (tiles <= 64 && a2 * C * K >= (int64_t(1) << 20));
}

/// Tiles per block of the blocked schedule (the GEMMs' N): about B / (C + K), at least 64. B = 24k on AVX2 builds,
/// so that a block's transform-domain data (alpha^2 (C + K) floats per tile) stays near 3.5 MB for F(4x4); measured
/// on Zen 3 over the paper U-Net's layers: 12k and 48k are 1 % slower, 6k and 96k 4-5 % slower. B = 6k (~0.9 MB)
/// on AVX-512 builds, whose unpacked GEMM (cpu/gemm_unpacked.hpp) streams the transformed input from L2: measured
/// on a Xeon with AMX (2 MB L2), the paper training step is 2-4 % faster than with 24k (docs/performance.md).
inline int64_t block_tiles(int64_t C, int64_t K) {
#if defined(__AVX512F__)
    constexpr int64_t kBlock = 6144;
#else
    constexpr int64_t kBlock = 24576;
#endif
    return std::clamp<int64_t>(kBlock / (C + K), 64, 2048);
}

/// Tile rows per block: aim at ~`target` tiles per block (the GEMM's N), at least one row, and enough blocks
/// for all threads.
inline int64_t tile_rows_per_block(int64_t N, const Tiling& tl, int64_t target) {
    int64_t rows = std::max<int64_t>(1, target / tl.TW);
    rows = std::min(rows, tl.TH);
    while (rows > 1 && N * ((tl.TH + rows - 1) / rows) < 2 * num_threads()) rows = (rows + 1) / 2;
    return rows;
}

/// One chunk of the shared schedule: tile rows [ty0, ty1) of images [n0, n1).
struct TileChunk {
    int64_t n0, n1, ty0, ty1;
    int64_t tiles(const Tiling& tl) const { return (n1 - n0) * (ty1 - ty0) * tl.TW; }
};

/// Chunks of whole tile rows that cover the batch in order: about 16 MiB of transformed data for C + K
/// channels, but at least 256 tiles (the GEMMs' inner dimension). Several whole images per chunk when an image
/// has fewer tiles, otherwise tile rows of one image.
inline std::vector<TileChunk> tile_chunks(int64_t N, const Tiling& tl, int a2, int64_t C, int64_t K) {
    const int64_t target = tuning().chunk_tiles > 0 ? tuning().chunk_tiles
                                                    : std::max<int64_t>(256, (int64_t(4) << 20) / (a2 * (C + K)));
    std::vector<TileChunk> chunks;
    const int64_t per_image = tl.TH * tl.TW;
    if (per_image <= target) {
        const int64_t images = std::max<int64_t>(1, target / per_image);
        for (int64_t n = 0; n < N; n += images) chunks.push_back({n, std::min(N, n + images), 0, tl.TH});
    } else {
        const int64_t rows = std::max<int64_t>(1, target / tl.TW);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t ty = 0; ty < tl.TH; ty += rows) chunks.push_back({n, n + 1, ty, std::min(tl.TH, ty + rows)});
    }
    return chunks;
}

/// Two transform-domain buffers of `c1` and `c2` channels for `nt` tiles, from the calling thread's scratch.
inline std::pair<float*, float*> chunk_buffers(int a2, int64_t c1, int64_t c2, int64_t nt) {
    std::vector<float>& buf = caller_buffer<float>(0);
    const size_t need = static_cast<size_t>(a2 * (plane_stride(c1 * nt) + plane_stride(c2 * nt)));
    if (buf.size() < need) buf.resize(need);
    return {buf.data(), buf.data() + a2 * plane_stride(c1 * nt)};
}

/// y (N,Kout,H,W) = conv(x (N,Cin,H,W), filter given as U[a*a][Kout][Cin], matrices `us` apart) + bias, then
/// the epilogue `ep`.
template <class WT>
void fprop_transformed(const float* x, int64_t N, int64_t Cin, int64_t Kout, int64_t H, int64_t W, const float* U,
                       int64_t us, const float* bias, float* y, const ConvEpilogue<float>& ep = {}) {
    constexpr int A2 = WT::alpha * WT::alpha;
    const Tiling tl(H, W, WT::m);
    const int64_t HW = H * W;
    if (use_shared_schedule(tl, A2, Cin, Kout)) {
        for (const TileChunk& ch : tile_chunks(N, tl, A2, Cin, Kout)) {
            const int64_t nt = ch.tiles(tl), per_image = (ch.ty1 - ch.ty0) * tl.TW, images = ch.n1 - ch.n0;
            const int64_t vs = plane_stride(Cin * nt), ms = plane_stride(Kout * nt);
            const auto [V, Mt] = chunk_buffers(A2, Cin, Kout, nt);
            // Transforms per (image, channel), or per channel over all images for narrow rows (which then fill
            // vectors across images).
            const int64_t ipi = rows_per_vector(tl.TW) > 1 ? images : 1, groups = images / ipi;
            parallel_for(groups * Cin, [&](int64_t item) {
                const int64_t i = item / Cin * ipi, c = item % Cin;
                transform_input<WT>(x + ((ch.n0 + i) * Cin + c) * HW, 1, H, W, tl, ch.ty0, ch.ty1,
                                    V + c * nt + i * per_image, nt, vs, ipi, Cin * HW);
            }, nt * Cin * A2 * 4);
            parallel_for(A2, [&](int64_t xi) {
                gemm_unpacked(Kout, nt, Cin, U + xi * us, Cin, V + xi * vs, nt, Mt + xi * ms, nt);
            }, A2 * Kout * Cin * nt);
            parallel_for(groups * Kout, [&](int64_t item) {
                const int64_t i = item / Kout * ipi, k = item % Kout;
                transform_output<WT>(Mt + k * nt + i * per_image, 1, H, W, tl, ch.ty0, ch.ty1,
                                     bias ? bias + k : nullptr, y + ((ch.n0 + i) * Kout + k) * HW, nt, ms, ep.from(k),
                                     ipi, Kout * HW);
            }, nt * Kout * A2 * 4);
        }
        return;
    }
    const int64_t rows = tile_rows_per_block(N, tl, block_tiles(Cin, Kout)), blocks = (tl.TH + rows - 1) / rows;
    parallel_for(N * blocks, [&](int64_t task) {
        const int64_t n = task / blocks, ty0 = (task % blocks) * rows, ty1 = std::min(tl.TH, ty0 + rows);
        const int64_t nt = (ty1 - ty0) * tl.TW;
        const int64_t vs = plane_stride(Cin * nt), ms = plane_stride(Kout * nt);
        float* V = thread_workspace<float>(static_cast<size_t>(A2 * vs), 0);
        float* Mt = thread_workspace<float>(static_cast<size_t>(A2 * ms), 1);
        transform_input<WT>(x + n * Cin * HW, Cin, H, W, tl, ty0, ty1, V, nt, vs);
        for (int xi = 0; xi < A2; ++xi)
            gemm_unpacked(Kout, nt, Cin, U + xi * us, Cin, V + xi * vs, nt, Mt + xi * ms, nt);
        transform_output<WT>(Mt, Kout, H, W, tl, ty0, ty1, bias, y + n * Kout * HW, nt, ms, ep);
    }, N * Kout * Cin * HW);
}

/// The transformed filter of the current call, in the calling thread's scratch (reused between calls), its
/// matrices plane_stride(K C) apart: with K C a multiple of 1024 (the U-Nets' layers from 32 x 32 channels), a
/// distance of exactly K C puts all alpha^2 output streams of the transform into one L1 set (padded, the small
/// U-Net's 128 x 128-channel 4 x 4 layer ran its fprop 16 % faster; docs/performance.md).
template <class WT>
float* transformed_filter(const Conv2dGeometry& g, const float* w, bool rotate) {
    std::vector<float>& U = caller_buffer<float>(1);
    const size_t need = static_cast<size_t>(WT::alpha * WT::alpha * plane_stride(g.K * g.C));
    if (U.size() < need) U.resize(need);
    transform_filter<WT>(w, g.K, g.C, rotate, U.data(), plane_stride(g.K * g.C));
    return U.data();
}

template <class WT>
void fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y,
           const ConvEpilogue<float>& ep) {
    fprop_transformed<WT>(x, g.N, g.C, g.K, g.H, g.W, transformed_filter<WT>(g, w, false), plane_stride(g.K * g.C), b,
                          y, ep);
}

template <class WT>
void dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
    fprop_transformed<WT>(dy, g.N, g.K, g.C, g.H, g.W, transformed_filter<WT>(g, w, true), plane_stride(g.K * g.C),
                          nullptr, dx);
}

/// dU[a*a][K][C] = sum over all tiles of (A dY A^T) (.) (B^T d B), overwritten; matrix xi at dU + xi * us,
/// us = plane_stride(K C) (see transformed_filter).
template <class WT>
void wgrad_transformed(const Conv2dGeometry& g, const float* dy, const float* x, float* dU) {
    constexpr int A2 = WT::alpha * WT::alpha;
    const Tiling tl(g.H, g.W, WT::m);
    const int64_t HW = g.H * g.W, us = plane_stride(g.K * g.C), usize = A2 * us;
    if (use_shared_schedule(tl, A2, g.C, g.K)) {
        const std::vector<TileChunk> chunks = tile_chunks(g.N, tl, A2, g.C, g.K);
        for (size_t ci = 0; ci < chunks.size(); ++ci) {
            const TileChunk& ch = chunks[ci];
            const int64_t nt = ch.tiles(tl), per_image = (ch.ty1 - ch.ty0) * tl.TW, channels = g.C + g.K;
            const int64_t vs = plane_stride(g.C * nt), ds = plane_stride(g.K * nt);
            const auto [V, D] = chunk_buffers(A2, g.C, g.K, nt);
            // Per (image, channel), or per channel over all images for narrow rows (as in fprop_transformed).
            const int64_t images = ch.n1 - ch.n0, ipi = rows_per_vector(tl.TW) > 1 ? images : 1;
            parallel_for(images / ipi * channels, [&](int64_t item) {
                const int64_t i = item / channels * ipi, c = item % channels, n = ch.n0 + i, t0 = i * per_image;
                if (c < g.C)
                    transform_input<WT>(x + (n * g.C + c) * HW, 1, g.H, g.W, tl, ch.ty0, ch.ty1, V + c * nt + t0,
                                        nt, vs, ipi, g.C * HW);
                else
                    transform_output_grad<WT>(dy + (n * g.K + c - g.C) * HW, 1, g.H, g.W, tl, ch.ty0, ch.ty1,
                                              D + (c - g.C) * nt + t0, nt, ds, ipi, g.K * HW);
            }, nt * channels * A2 * 4);
            parallel_for(A2, [&](int64_t xi) {
                gemm<float>(false, true, g.K, g.C, nt, 1.f, D + xi * ds, nt, V + xi * vs, nt, ci == 0 ? 0.f : 1.f,
                            dU + xi * us, g.C);
            }, A2 * g.K * g.C * nt);
        }
        return;
    }
    const int64_t rows = tile_rows_per_block(g.N, tl, block_tiles(g.C, g.K)), blocks = (tl.TH + rows - 1) / rows;
    // Thread 0 accumulates into dU itself, thread t > 0 into partial[t - 1].
    const size_t partial_size = static_cast<size_t>(std::max(0, num_threads() - 1) * usize);
    std::vector<float>& partial = caller_buffer<float>(0);
    if (partial.size() < partial_size) partial.resize(partial_size);
    const int parts = parallel_chunks(g.N * blocks, [&](int t, int64_t tb, int64_t te) {
        float* pU = t == 0 ? dU : partial.data() + (t - 1) * usize;
        std::fill(pU, pU + usize, 0.f);
        for (int64_t task = tb; task < te; ++task) {
            const int64_t n = task / blocks, ty0 = (task % blocks) * rows, ty1 = std::min(tl.TH, ty0 + rows);
            const int64_t nt = (ty1 - ty0) * tl.TW;
            const int64_t vs = plane_stride(g.C * nt), ds = plane_stride(g.K * nt);
            float* V = thread_workspace<float>(static_cast<size_t>(A2 * vs), 0);
            float* D = thread_workspace<float>(static_cast<size_t>(A2 * ds), 1);
            transform_input<WT>(x + n * g.C * HW, g.C, g.H, g.W, tl, ty0, ty1, V, nt, vs);
            transform_output_grad<WT>(dy + n * g.K * HW, g.K, g.H, g.W, tl, ty0, ty1, D, nt, ds);
            for (int xi = 0; xi < A2; ++xi)
                gemm<float>(false, true, g.K, g.C, nt, 1.f, D + xi * ds, nt, V + xi * vs, nt, 1.f, pU + xi * us, g.C);
        }
    }, g.N * g.K * g.C * HW);
    // Sum the per-thread partials into dU (thread 0's) in thread order.
    parallel_for((usize + 65535) / 65536, [&](int64_t blk) {
        const int64_t lo = blk * 65536, hi = std::min<int64_t>(usize, lo + 65536);
        for (int t = 1; t < parts; ++t) {
            const float* p = partial.data() + (t - 1) * usize;
#pragma omp simd
            for (int64_t i = lo; i < hi; ++i) dU[i] += p[i];
        }
    });
}

template <class WT>
void wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw) {
    constexpr int A = WT::alpha, A2 = A * A;
    const int64_t us = plane_stride(g.K * g.C);
    std::vector<float>& dU_store = caller_buffer<float>(1);
    if (dU_store.size() < static_cast<size_t>(A2 * us)) dU_store.resize(static_cast<size_t>(A2 * us));
    const float* dU = dU_store.data();
    wgrad_transformed<WT>(g, dy, x, dU_store.data());
    // dw = G^T dU G per (k, c), eight input channels at a time (contiguous in dU).
    parallel_for(g.K, [&](int64_t k) {
        for_tiles(g.C, [&](auto tag, int64_t c0) {
            using T = std::remove_pointer_t<decltype(tag)>;
            constexpr int L = sizeof(T) / sizeof(float);
            T t[A][3];  // rows of dU G
            ICHSEG_UNROLL for (int i = 0; i < A; ++i) {
                T u[A];
                ICHSEG_UNROLL for (int j = 0; j < A; ++j) load<T>(u[j], dU + (i * A + j) * us + k * g.C + c0);
                WT::filter_adjoint(u, t[i]);
            }
            float out[9][L];  // out[r * 3 + s][lane]
            ICHSEG_UNROLL for (int s = 0; s < 3; ++s) {
                T col[A], r[3];
                ICHSEG_UNROLL for (int i = 0; i < A; ++i) col[i] = t[i][s];
                WT::filter_adjoint(col, r);
                ICHSEG_UNROLL for (int rr = 0; rr < 3; ++rr) store<T>(out[rr * 3 + s], r[rr]);
            }
            float* o = dw + (k * g.C + c0) * 9;
            ICHSEG_UNROLL for (int l = 0; l < L; ++l)
                ICHSEG_UNROLL for (int e = 0; e < 9; ++e) o[l * 9 + e] = out[e][l];
        });
    }, g.K * g.C * A * A * 4);
}

}  // namespace detail

/// y (N,K,H,W) = conv3x3(x, w) + b, with F(4x4) from 32 x 32 (use_f4) and F(2x2) below. F(4x4)'s forward
/// rounding (~17 ulp of the output scale, 5x im2col's) keeps the U-Net parity test at the level of direct
/// convolution (docs/ops.md §6). `ep`: the optional per-channel epilogue (params/conv2d.hpp).
inline void conv2d_fprop(const Conv2dGeometry& g, const float* x, const float* w, const float* b, float* y,
                         const ConvEpilogue<float>& ep = {}) {
    if (use_f4(g)) detail::fprop<F4>(g, x, w, b, y, ep);
    else detail::fprop<F2>(g, x, w, b, y, ep);
}

/// dx (N,C,H,W) from dy (N,K,H,W): the convolution of dy with the rotated, transposed filter.
inline void conv2d_dgrad(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
    if (use_f4(g)) detail::dgrad<F4>(g, dy, w, dx);
    else detail::dgrad<F2>(g, dy, w, dx);
}

/// dw (K,C,3,3) and db (K) (overwritten; db may be null).
inline void conv2d_wgrad(const Conv2dGeometry& g, const float* dy, const float* x, float* dw, float* db) {
    if (use_f4(g)) detail::wgrad<F4>(g, dy, x, dw);
    else detail::wgrad<F2>(g, dy, x, dw);
    if (db) {
        const int64_t HW = g.H * g.W;
        parallel_for(g.K, [&](int64_t k) {
            double s = 0;
            for (int64_t n = 0; n < g.N; ++n) {
                const float* r = dy + (n * g.K + k) * HW;
                float ps = 0;
#pragma omp simd reduction(+ : ps)
                for (int64_t i = 0; i < HW; ++i) ps += r[i];
                s += ps;
            }
            db[k] = static_cast<float>(s);
        }, g.N * g.K * HW);
    }
}

}  // namespace ichseg::cpu::winograd

#undef ICHSEG_UNROLL

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::cpu::winograd::detail {
ICHSEG_EXTERN_TEMPLATE template void fprop<F2>(const Conv2dGeometry&, const float*, const float*, const float*, float*,
                                               const ConvEpilogue<float>&);
ICHSEG_EXTERN_TEMPLATE template void fprop<F4>(const Conv2dGeometry&, const float*, const float*, const float*, float*,
                                               const ConvEpilogue<float>&);
ICHSEG_EXTERN_TEMPLATE template void dgrad<F2>(const Conv2dGeometry&, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void dgrad<F4>(const Conv2dGeometry&, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void wgrad<F2>(const Conv2dGeometry&, const float*, const float*, float*);
ICHSEG_EXTERN_TEMPLATE template void wgrad<F4>(const Conv2dGeometry&, const float*, const float*, float*);
}  // namespace ichseg::cpu::winograd::detail
#endif
