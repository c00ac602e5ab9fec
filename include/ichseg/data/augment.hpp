/// @file augment.hpp
/// @brief Geometric and intensity transforms of 2-D slices, and the segmentation augmentation of SPEC §2
/// applied jointly to an image and its mask.
///
/// Coordinates are pixel indices (pixel (x, y) has its centre at (x, y)); the image centre is
/// c = ((w - 1) / 2, (h - 1) / 2). A `Geometry` moves the content of an image in this order (SPEC §2):
///   translate by (tx * w, ty * h) -> rotate by `angle_deg` about c -> scale by `scale` about c (a centre crop when
///   > 1, zero padding when < 1, the canvas keeps its size) -> horizontal flip about c,
/// i.e. forward p -> c + F s R (p + t - c). `Affine2D` objects in this file map *output* pixels to *input* pixels
/// (what a resampler needs). Outside the input the fill is 0 (constant fill).
///
/// `augment_segmentation` (SPEC §2, defaults translate U(-10%, 10%), rotate U(-15, 15) deg, scale U(0.9, 1.1),
/// hflip p = 0.5, then resize to 256 x 256): bilinear for the image, nearest for the mask, from one draw of the
/// parameters. For an input with the output's aspect ratio (the usual 512 x 512 -> 256 x 256) the image is first
/// resized with anti-aliasing and then warped at the output size; the two orders are the same continuous map
/// (a uniform resize commutes with a transform about the centre), and this one costs a quarter of the warp and
/// keeps the anti-aliasing. Other aspect ratios are warped at native size, then resized. The mask is sampled once
/// through the composed map (no double nearest-neighbour). The random draws come from a `Rng`, so a given
/// (seed, stream) always gives the same augmentation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/image.hpp"
#include "ichseg/data/random.hpp"
#include "ichseg/data/resize.hpp"

namespace ichseg::data {

/// x_in = a*x + b*y + c, y_in = d*x + e*y + f (output pixel -> input pixel).
struct Affine2D {
    double a = 1, b = 0, c = 0, d = 0, e = 1, f = 0;
    static Affine2D identity() { return {}; }
    void apply(double x, double y, double& xo, double& yo) const {
        xo = a * x + b * y + c;
        yo = d * x + e * y + f;
    }
    /// (this ∘ o)(p) = this(o(p)).
    Affine2D compose(const Affine2D& o) const {
        return {a * o.a + b * o.d, a * o.b + b * o.e, a * o.c + b * o.f + c,
                d * o.a + e * o.d, d * o.b + e * o.e, d * o.c + e * o.f + f};
    }
    Affine2D inverse() const {
        const double det = a * e - b * d;
        ICHSEG_CHECK(std::fabs(det) > 1e-12, "Affine2D::inverse: singular transform");
        const double ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
        return {ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)};
    }
};

/// The map from an (oh x ow) image's pixels to the pixels of the (ih x iw) image it was resized from (half-pixel
/// centres, the convention of resize_bilinear / resize_nearest_mask).
inline Affine2D resize_map(int64_t ih, int64_t iw, int64_t oh, int64_t ow) {
    const double sx = static_cast<double>(iw) / static_cast<double>(ow), sy = static_cast<double>(ih) / static_cast<double>(oh);
    return {sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5};
}

/// Geometric part of an augmentation.
struct Geometry {
    double tx = 0, ty = 0;   ///< translation as a fraction of the width / height
    double angle_deg = 0;    ///< counter-clockwise on screen
    double scale = 1;
    bool hflip = false;
    bool is_identity() const { return tx == 0 && ty == 0 && angle_deg == 0 && scale == 1 && !hflip; }
};

/// Output -> input map of `g` on an h x w canvas.
inline Affine2D geometry_to_input(const Geometry& g, int64_t h, int64_t w) {
    ICHSEG_CHECK(g.scale > 0, "Geometry: scale must be positive, got ", g.scale);
    const double cx = (static_cast<double>(w) - 1) / 2, cy = (static_cast<double>(h) - 1) / 2;
    const double th = g.angle_deg * 3.14159265358979323846 / 180.0;
    const double co = std::cos(th), si = std::sin(th);
    const double fl = g.hflip ? -1.0 : 1.0;
    const double tx = g.tx * static_cast<double>(w), ty = g.ty * static_cast<double>(h);
    // p = c - t + R^-1 (1/s) F (q - c), R^-1 = [[co, -si], [si, co]], F = diag(fl, 1)
    const double is = 1.0 / g.scale;
    Affine2D m;
    m.a = co * is * fl;
    m.b = -si * is;
    m.d = si * is * fl;
    m.e = co * is;
    m.c = cx - tx - (m.a * cx + m.b * cy);
    m.f = cy - ty - (m.d * cx + m.e * cy);
    return m;
}

namespace detail {
/// The x range [lo, hi) of an output row over which xs = x0 + a * x stays in [0, limit) (limit > 0), computed
/// conservatively (the caller handles the rest on the checked path).
inline void inside_range(double x0, double a, double limit, int64_t n, int64_t& lo, int64_t& hi) {
    if (a == 0) {
        if (x0 >= 0 && x0 < limit) {
            lo = 0;
            hi = n;
        } else {
            lo = hi = 0;
        }
        return;
    }
    double t0 = (0 - x0) / a, t1 = (limit - x0) / a;
    if (t0 > t1) std::swap(t0, t1);
    // x must satisfy t0 <= x < t1; shrink by one pixel on each side against rounding
    const double clo = std::ceil(t0) + 1, chi = std::floor(t1) - 1;
    lo = clo <= 0 ? 0 : (clo >= static_cast<double>(n) ? n : static_cast<int64_t>(clo));
    hi = chi <= 0 ? 0 : (chi >= static_cast<double>(n) ? n : static_cast<int64_t>(chi));
    if (hi < lo) hi = lo;
}
}  // namespace detail

/// Bilinear resampling: dst(x, y) = src(M(x, y)), taps outside the source read `fill`.
inline void warp_bilinear(const float* src, int64_t sh, int64_t sw, float* dst, int64_t dh, int64_t dw,
                          const Affine2D& m, float fill = 0.f) {
    auto checked = [&](double xs, double ys) -> float {
        const double fx0 = std::floor(xs), fy0 = std::floor(ys);
        if (!(fx0 >= -1 && fy0 >= -1 && fx0 < static_cast<double>(sw) && fy0 < static_cast<double>(sh))) return fill;
        const int64_t x0 = static_cast<int64_t>(fx0), y0 = static_cast<int64_t>(fy0);
        const float ax = static_cast<float>(xs - fx0), ay = static_cast<float>(ys - fy0);
        auto at = [&](int64_t yy, int64_t xx) { return (xx >= 0 && yy >= 0 && xx < sw && yy < sh) ? src[yy * sw + xx] : fill; };
        const float v00 = at(y0, x0), v01 = at(y0, x0 + 1), v10 = at(y0 + 1, x0), v11 = at(y0 + 1, x0 + 1);
        const float top = v00 + ax * (v01 - v00), bot = v10 + ax * (v11 - v10);
        return top + ay * (bot - top);
    };
    for (int64_t y = 0; y < dh; ++y) {
        const double xr = m.b * static_cast<double>(y) + m.c, yr = m.e * static_cast<double>(y) + m.f;
        float* o = dst + y * dw;
        // all four taps inside where 0 <= xs < sw - 1 and 0 <= ys < sh - 1
        int64_t lx, hx, ly, hy;
        detail::inside_range(xr, m.a, static_cast<double>(sw - 1), dw, lx, hx);
        detail::inside_range(yr, m.d, static_cast<double>(sh - 1), dw, ly, hy);
        const int64_t lo = std::min(dw, std::max(lx, ly)), hi = std::max(lo, std::min(hx, hy));
        for (int64_t x = 0; x < lo; ++x) o[x] = checked(xr + m.a * static_cast<double>(x), yr + m.d * static_cast<double>(x));
        const float fa = static_cast<float>(m.a), fd = static_cast<float>(m.d);
        const float bx = static_cast<float>(xr + m.a * static_cast<double>(lo)), by = static_cast<float>(yr + m.d * static_cast<double>(lo));
        for (int64_t x = lo; x < hi; ++x) {
            const float t = static_cast<float>(x - lo);
            const float xs = bx + fa * t, ys = by + fd * t;
            const int64_t x0 = static_cast<int64_t>(xs), y0 = static_cast<int64_t>(ys);  // xs, ys >= 0: truncation = floor
            const float ax = xs - static_cast<float>(x0), ay = ys - static_cast<float>(y0);
            const float* p = src + y0 * sw + x0;
            const float top = p[0] + ax * (p[1] - p[0]), bot = p[sw] + ax * (p[sw + 1] - p[sw]);
            o[x] = top + ay * (bot - top);
        }
        for (int64_t x = hi; x < dw; ++x) o[x] = checked(xr + m.a * static_cast<double>(x), yr + m.d * static_cast<double>(x));
    }
}

/// Nearest-neighbour resampling of a mask (binarised > 0), outside = 0.
template <class T>
void warp_nearest_mask(const T* src, int64_t sh, int64_t sw, uint8_t* dst, int64_t dh, int64_t dw, const Affine2D& m) {
    auto checked = [&](double xs, double ys) -> uint8_t {
        const double rx = std::floor(xs + 0.5), ry = std::floor(ys + 0.5);
        if (rx >= 0 && ry >= 0 && rx < static_cast<double>(sw) && ry < static_cast<double>(sh))
            return src[static_cast<int64_t>(ry) * sw + static_cast<int64_t>(rx)] > T(0) ? 1 : 0;
        return 0;
    };
    for (int64_t y = 0; y < dh; ++y) {
        // round(v) = floor(v + 0.5): shift the origin by half a pixel, then truncate where the value is >= 0
        const double xr = m.b * static_cast<double>(y) + m.c + 0.5, yr = m.e * static_cast<double>(y) + m.f + 0.5;
        uint8_t* o = dst + y * dw;
        int64_t lx, hx, ly, hy;
        detail::inside_range(xr, m.a, static_cast<double>(sw), dw, lx, hx);
        detail::inside_range(yr, m.d, static_cast<double>(sh), dw, ly, hy);
        const int64_t lo = std::min(dw, std::max(lx, ly)), hi = std::max(lo, std::min(hx, hy));
        for (int64_t x = 0; x < lo; ++x) o[x] = checked(xr - 0.5 + m.a * static_cast<double>(x), yr - 0.5 + m.d * static_cast<double>(x));
        for (int64_t x = lo; x < hi; ++x) {
            const double xs = xr + m.a * static_cast<double>(x), ys = yr + m.d * static_cast<double>(x);
            o[x] = src[static_cast<int64_t>(ys) * sw + static_cast<int64_t>(xs)] > T(0) ? 1 : 0;
        }
        for (int64_t x = hi; x < dw; ++x) o[x] = checked(xr - 0.5 + m.a * static_cast<double>(x), yr - 0.5 + m.d * static_cast<double>(x));
    }
}

// ---- intensity transforms (images in [0, 1]) -------------------------------------------------------------------

inline float clip01(float v) { return v > 0.f ? (v < 1.f ? v : 1.f) : 0.f; }

/// Contrast adjustment as the authors' pipeline did it (SPEC §7): every intensity multiplied by `factor`, without
/// centring on the image mean (torchvision's adjust_contrast blends with the mean instead), clipped to [0, 1].
inline void adjust_contrast(float* img, int64_t n, double factor) {
    const float f = static_cast<float>(factor);
    for (int64_t i = 0; i < n; ++i) img[i] = clip01(f * img[i]);
}

/// Additive brightness (SPEC §2: + U(-0.25, 0.25)), clipped to [0, 1].
inline void adjust_brightness(float* img, int64_t n, double delta) {
    const float d = static_cast<float>(delta);
    for (int64_t i = 0; i < n; ++i) img[i] = clip01(img[i] + d);
}

/// Separable Gaussian blur, radius ceil(3 sigma), reflect padding (torchvision GaussianBlur's padding).
inline void gaussian_blur(float* img, int64_t h, int64_t w, double sigma) {
    if (sigma <= 0 || h <= 0 || w <= 0) return;
    const int64_t r = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
    std::vector<float> k(static_cast<size_t>(2 * r + 1));
    double s = 0;
    for (int64_t i = -r; i <= r; ++i) {
        const double v = std::exp(-0.5 * static_cast<double>(i * i) / (sigma * sigma));
        k[static_cast<size_t>(i + r)] = static_cast<float>(v);
        s += v;
    }
    for (float& v : k) v = static_cast<float>(v / s);
    auto reflect = [](int64_t i, int64_t n) {
        if (n == 1) return int64_t(0);
        const int64_t period = 2 * (n - 1);
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - i;
    };
    // horizontal: one reflect-padded row at a time
    std::vector<float> row(static_cast<size_t>(w + 2 * r));
    for (int64_t y = 0; y < h; ++y) {
        float* line = img + y * w;
        for (int64_t i = -r; i < w + r; ++i) row[static_cast<size_t>(i + r)] = line[reflect(i, w)];
        for (int64_t x = 0; x < w; ++x) {
            const float* p = row.data() + x;
            float acc = 0.f;
            for (int64_t t = 0; t <= 2 * r; ++t) acc += k[static_cast<size_t>(t)] * p[t];
            line[x] = acc;
        }
    }
    // vertical: accumulate whole rows (contiguous, vectorisable)
    std::vector<float> out(static_cast<size_t>(h * w));
    for (int64_t y = 0; y < h; ++y) {
        float* o = out.data() + y * w;
        std::fill(o, o + w, 0.f);
        for (int64_t t = -r; t <= r; ++t) {
            const float kt = k[static_cast<size_t>(t + r)];
            const float* src = img + reflect(y + t, h) * w;
            for (int64_t x = 0; x < w; ++x) o[x] += kt * src[x];
        }
    }
    std::copy(out.begin(), out.end(), img);
}

// ---- segmentation augmentation (SPEC §2) ---------------------------------------------------------------------

struct SegAugmentParams {
    bool enabled = true;          ///< false: resize only (validation / test time)
    double translate = 0.10;      ///< U(-t, t) of each side
    double rotate_deg = 15;       ///< U(-r, r)
    double scale_lo = 0.9, scale_hi = 1.1;
    double hflip_p = 0.5;
    int64_t out_h = 256, out_w = 256;
};

/// One draw of the geometric parameters, in a fixed order (tx, ty, angle, scale, flip).
inline Geometry draw_segmentation_geometry(Rng& rng, const SegAugmentParams& p) {
    Geometry g;
    if (!p.enabled) return g;
    g.tx = rng.uniform(-p.translate, p.translate);
    g.ty = rng.uniform(-p.translate, p.translate);
    g.angle_deg = rng.uniform(-p.rotate_deg, p.rotate_deg);
    g.scale = rng.uniform(p.scale_lo, p.scale_hi);
    g.hflip = rng.bernoulli(p.hflip_p);
    return g;
}

/// Apply `g` to an (h x w) image (bilinear) and optional mask (nearest), producing (oh x ow) outputs.
/// `mask` / `out_mask` may be null. See the file comment for the resize-then-warp order.
template <class M = uint8_t>
void transform_and_resize(const float* img, const M* mask, int64_t h, int64_t w, const Geometry& g, float* out_img,
                          uint8_t* out_mask, int64_t oh, int64_t ow, std::vector<float>* scratch = nullptr) {
    ICHSEG_CHECK(h >= 1 && w >= 1 && oh >= 1 && ow >= 1, "transform_and_resize: invalid sizes ", h, "x", w, " -> ",
                 oh, "x", ow);
    std::vector<float> local;
    std::vector<float>& tmp = scratch ? *scratch : local;
    const bool same_aspect = h * ow == w * oh;
    Affine2D mask_map;  // output pixel -> input pixel
    if (same_aspect) {
        const Affine2D inv = geometry_to_input(g, oh, ow);
        if (img) {
            if (g.is_identity()) {
                resize_bilinear(img, h, w, out_img, oh, ow);
            } else {
                tmp.resize(static_cast<size_t>(oh * ow));
                resize_bilinear(img, h, w, tmp.data(), oh, ow);
                warp_bilinear(tmp.data(), oh, ow, out_img, oh, ow, inv);
            }
        }
        mask_map = resize_map(h, w, oh, ow).compose(inv);
    } else {
        const Affine2D inv = geometry_to_input(g, h, w);
        if (img) {
            tmp.resize(static_cast<size_t>(h * w));
            warp_bilinear(img, h, w, tmp.data(), h, w, inv);
            resize_bilinear(tmp.data(), h, w, out_img, oh, ow);
        }
        mask_map = inv.compose(resize_map(h, w, oh, ow));
    }
    if (mask && out_mask) {
        // floor(x + 0.5) of the composed map equals resize_nearest_mask's floor((i + 0.5) * s) at identity.
        warp_nearest_mask(mask, h, w, out_mask, oh, ow, mask_map);
    }
}

/// SPEC §2 segmentation augmentation of one windowed slice and its mask (mask may be null). Returns the draw.
template <class M = uint8_t>
Geometry augment_segmentation(const float* img, const M* mask, int64_t h, int64_t w, float* out_img,
                              uint8_t* out_mask, const SegAugmentParams& p, Rng& rng,
                              std::vector<float>* scratch = nullptr) {
    const Geometry g = draw_segmentation_geometry(rng, p);
    transform_and_resize(img, mask, h, w, g, out_img, out_mask, p.out_h, p.out_w, scratch);
    return g;
}

/// Convenience overload on Image2D.
inline Geometry augment_segmentation(const Slice& img, const SliceMask* mask, Slice& out_img, SliceMask* out_mask,
                                     const SegAugmentParams& p, Rng& rng) {
    if (mask) ICHSEG_CHECK(mask->h == img.h && mask->w == img.w, "augment_segmentation: mask ", mask->h, "x", mask->w,
                           " does not match image ", img.h, "x", img.w);
    out_img = Slice(p.out_h, p.out_w);
    if (out_mask) *out_mask = SliceMask(p.out_h, p.out_w);
    return augment_segmentation(img.data(), mask ? mask->data() : static_cast<const uint8_t*>(nullptr), img.h, img.w,
                                out_img.data(), out_mask ? out_mask->data() : nullptr, p, rng);
}

}  // namespace ichseg::data
