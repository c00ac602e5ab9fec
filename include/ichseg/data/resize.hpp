/// @file resize.hpp
/// @brief Slice resizing (SPEC §1): images bilinear with anti-aliasing when down-sampling, masks nearest and
/// binarised (> 0).
///
/// The image filter is PIL's / torchvision's `antialias=True` bilinear: a separable triangle filter whose support
/// is stretched by the down-sampling factor (so 512 -> 256 averages 4 taps per axis instead of aliasing), output
/// pixel centres at (i + 0.5) * in/out - 0.5 (align_corners = False), weights renormalised at the borders. When
/// up-sampling it is plain bilinear. Masks take the source pixel whose area contains the output pixel centre,
/// floor((i + 0.5) * in/out), which keeps them aligned with the image resize.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/image.hpp"

namespace ichseg::data {

namespace detail {

/// Per-output-index taps of the anti-aliased triangle filter.
struct ResampleTaps {
    int taps = 0;                 ///< max taps per output
    std::vector<int> start;       ///< first source index of each output
    std::vector<int> count;       ///< taps used by each output (<= taps)
    std::vector<float> weight;    ///< out * taps weights (zero-padded)
};

inline ResampleTaps make_taps(int64_t in, int64_t out) {
    ResampleTaps t;
    const double scale = static_cast<double>(in) / static_cast<double>(out);
    const double fscale = std::max(1.0, scale);
    const double support = 1.0 * fscale;
    t.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    t.start.resize(static_cast<size_t>(out));
    t.count.resize(static_cast<size_t>(out));
    t.weight.assign(static_cast<size_t>(out * t.taps), 0.f);
    for (int64_t i = 0; i < out; ++i) {
        const double center = (static_cast<double>(i) + 0.5) * scale;
        int64_t xmin = static_cast<int64_t>(std::floor(center - support + 0.5));
        int64_t xmax = static_cast<int64_t>(std::floor(center + support + 0.5));
        xmin = std::max<int64_t>(xmin, 0);
        xmax = std::min<int64_t>(xmax, in);
        int n = static_cast<int>(xmax - xmin);
        n = std::min(n, t.taps);
        double ws[64];
        double sum = 0;
        std::vector<double> big;
        double* wp = ws;
        if (n > 64) {
            big.resize(static_cast<size_t>(n));
            wp = big.data();
        }
        for (int k = 0; k < n; ++k) {
            const double x = (static_cast<double>(xmin + k) - center + 0.5) / fscale;
            const double w = std::max(0.0, 1.0 - std::fabs(x));
            wp[k] = w;
            sum += w;
        }
        if (sum <= 0) {  // cannot happen for in, out >= 1; keep a safe fallback
            const int64_t c = std::min<int64_t>(in - 1, static_cast<int64_t>(center));
            xmin = c;
            n = 1;
            wp[0] = sum = 1;
        }
        t.start[static_cast<size_t>(i)] = static_cast<int>(xmin);
        t.count[static_cast<size_t>(i)] = n;
        for (int k = 0; k < n; ++k) t.weight[static_cast<size_t>(i * t.taps + k)] = static_cast<float>(wp[k] / sum);
    }
    return t;
}

}  // namespace detail

/// Anti-aliased bilinear resize of a float image (sh x sw) into (dh x dw). `tmp` is optional scratch.
inline void resize_bilinear(const float* src, int64_t sh, int64_t sw, float* dst, int64_t dh, int64_t dw,
                            std::vector<float>* tmp = nullptr) {
    ICHSEG_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1, "resize_bilinear: invalid sizes ", sh, "x", sw, " -> ", dh,
                 "x", dw);
    if (sh == dh && sw == dw) {
        std::copy(src, src + sh * sw, dst);
        return;
    }
    const detail::ResampleTaps hx = detail::make_taps(sw, dw), vy = detail::make_taps(sh, dh);
    std::vector<float> local;
    std::vector<float>& mid = tmp ? *tmp : local;
    // Vertical pass first (whole source rows, contiguous: vectorises), into dh rows of sw; then horizontal.
    mid.resize(static_cast<size_t>(dh * sw));
    for (int64_t y = 0; y < dh; ++y) {
        float* o = mid.data() + y * sw;
        const int n = vy.count[static_cast<size_t>(y)];
        const float* w = vy.weight.data() + y * vy.taps;
        const float* base = src + static_cast<int64_t>(vy.start[static_cast<size_t>(y)]) * sw;
        for (int64_t x = 0; x < sw; ++x) o[x] = w[0] * base[x];
        for (int k = 1; k < n; ++k) {
            const float wk = w[k];
            const float* r = base + k * sw;
            for (int64_t x = 0; x < sw; ++x) o[x] += wk * r[x];
        }
    }
    for (int64_t y = 0; y < dh; ++y) {
        const float* row = mid.data() + y * sw;
        float* o = dst + y * dw;
        for (int64_t x = 0; x < dw; ++x) {
            const float* w = hx.weight.data() + x * hx.taps;
            const float* s = row + hx.start[static_cast<size_t>(x)];
            const int n = hx.count[static_cast<size_t>(x)];
            float acc = 0.f;
            for (int k = 0; k < n; ++k) acc += w[k] * s[k];
            o[x] = acc;
        }
    }
}

inline Slice resize_bilinear(const Slice& s, int64_t dh, int64_t dw) {
    Slice out(dh, dw);
    resize_bilinear(s.data(), s.h, s.w, out.data(), dh, dw);
    return out;
}

/// Nearest-neighbour resize of a mask, binarised: output 1 where the source pixel is > 0.
template <class T>
void resize_nearest_mask(const T* src, int64_t sh, int64_t sw, uint8_t* dst, int64_t dh, int64_t dw) {
    ICHSEG_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1, "resize_nearest_mask: invalid sizes ", sh, "x", sw,
                 " -> ", dh, "x", dw);
    std::vector<int64_t> xs(static_cast<size_t>(dw));
    for (int64_t x = 0; x < dw; ++x)
        xs[static_cast<size_t>(x)] = std::min<int64_t>(sw - 1, static_cast<int64_t>(std::floor((x + 0.5) * sw / static_cast<double>(dw))));
    for (int64_t y = 0; y < dh; ++y) {
        const int64_t sy = std::min<int64_t>(sh - 1, static_cast<int64_t>(std::floor((y + 0.5) * sh / static_cast<double>(dh))));
        const T* row = src + sy * sw;
        uint8_t* o = dst + y * dw;
        for (int64_t x = 0; x < dw; ++x) o[x] = row[xs[static_cast<size_t>(x)]] > T(0) ? 1 : 0;
    }
}

inline SliceMask resize_nearest_mask(const SliceMask& m, int64_t dh, int64_t dw) {
    SliceMask out(dh, dw);
    resize_nearest_mask(m.data(), m.h, m.w, out.data(), dh, dw);
    return out;
}

}  // namespace ichseg::data
