/// @file views.hpp
/// @brief Contrastive views (SPEC §2): the global view T_G and pairs of local views T_L that keep spatial
/// correspondence. Inputs are windowed slices in [0, 1] (any size); outputs are out_h x out_w in [0, 1].
///
/// Order inside one view (SPEC §2): geometry (translate, rotate, scale, hflip) -> contrast (p 0.5, factor
/// U(0.5, 1.4), intensities multiplied without centring, the authors' form) -> brightness (p 0.5, + U(-0.25, 0.25)) -> Gaussian blur (p 0.5,
/// sigma U(0.1, 1.5), radius ceil(3 sigma), reflect padding) -> random resized crop (area U(0.5, 1) of the image,
/// aspect log-U(0.8, 1.25), torchvision's 10 attempts then the whole image) back to out_h x out_w -> clip [0, 1].
/// The geometry is applied at the output size after an anti-aliased resize (see augment.hpp).
///
/// Local pairs (`local_view_pair`): ONE geometric draw (translate U(-15%, 15%), rotate U(-45, 45), scale
/// U(0.8, 1.2), no flip, and one crop box) is shared by the two views, and the intensity transforms are drawn
/// independently per view. Pixel (x, y) of view 1 and of view 2 therefore show the same anatomy, which is what
/// the local contrastive loss (loss/local_contrastive.hpp: "the same cell index in both views") needs. The
/// authors' code drew the geometry independently per view and so compared unrelated regions; see docs/data.md.
/// `LocalViewPair::to_input` maps output pixels back to the input slice for callers that need positions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/augment.hpp"
#include "ichseg/data/image.hpp"
#include "ichseg/data/random.hpp"

namespace ichseg::data {

struct ViewParams {
    double translate = 0.15;
    double rotate_deg = 90;
    double scale_lo = 0.8, scale_hi = 1.2;
    double hflip_p = 0.5;
    double contrast_p = 0.5, contrast_lo = 0.5, contrast_hi = 1.4;
    double brightness_p = 0.5, brightness_delta = 0.25;
    double blur_p = 0.5, blur_sigma_lo = 0.1, blur_sigma_hi = 1.5;
    double crop_area_lo = 0.5, crop_area_hi = 1.0;
    double crop_ratio_lo = 0.8, crop_ratio_hi = 1.25;
    int64_t out_h = 256, out_w = 256;

    /// T_G of SPEC §2.
    static ViewParams global() { return ViewParams{}; }
    /// T_L of SPEC §2 (rotation +-45, no flip).
    static ViewParams local() {
        ViewParams p;
        p.rotate_deg = 45;
        p.hflip_p = 0;
        return p;
    }
};

/// Crop box in pixels of the out_h x out_w canvas: [x0, x0 + w) x [y0, y0 + h).
struct CropBox {
    double x0 = 0, y0 = 0, w = 0, h = 0;
};

/// The intensity part of one view.
struct IntensityDraw {
    bool contrast = false, brightness = false, blur = false;
    double contrast_factor = 1, brightness_delta = 0, blur_sigma = 0;
};

inline IntensityDraw draw_intensity(Rng& rng, const ViewParams& p) {
    IntensityDraw d;
    d.contrast = rng.bernoulli(p.contrast_p);
    d.contrast_factor = rng.uniform(p.contrast_lo, p.contrast_hi);
    d.brightness = rng.bernoulli(p.brightness_p);
    d.brightness_delta = rng.uniform(-p.brightness_delta, p.brightness_delta);
    d.blur = rng.bernoulli(p.blur_p);
    d.blur_sigma = rng.uniform(p.blur_sigma_lo, p.blur_sigma_hi);
    return d;
}

inline void apply_intensity(float* img, int64_t h, int64_t w, const IntensityDraw& d) {
    if (d.contrast) adjust_contrast(img, h * w, d.contrast_factor);
    if (d.brightness) adjust_brightness(img, h * w, d.brightness_delta);
    if (d.blur) gaussian_blur(img, h, w, d.blur_sigma);
}

/// torchvision RandomResizedCrop.get_params with continuous positions.
inline CropBox draw_crop(Rng& rng, const ViewParams& p) {
    const double H = static_cast<double>(p.out_h), W = static_cast<double>(p.out_w), area = H * W;
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double ta = area * rng.uniform(p.crop_area_lo, p.crop_area_hi);
        const double ar = rng.log_uniform(p.crop_ratio_lo, p.crop_ratio_hi);
        const double cw = std::round(std::sqrt(ta * ar)), ch = std::round(std::sqrt(ta / ar));
        const double ux = rng.uniform(), uy = rng.uniform();
        if (cw > 0 && ch > 0 && cw <= W && ch <= H) return {std::floor(ux * (W - cw + 1)), std::floor(uy * (H - ch + 1)), cw, ch};
    }
    return {0, 0, W, H};
}

/// Output pixel -> crop-canvas pixel for a crop resized to out_h x out_w (half-pixel centres).
inline Affine2D crop_map(const CropBox& c, int64_t oh, int64_t ow) {
    const double sx = c.w / static_cast<double>(ow), sy = c.h / static_cast<double>(oh);
    return {sx, 0, c.x0 + 0.5 * sx - 0.5, 0, sy, c.y0 + 0.5 * sy - 0.5};
}

namespace detail {

/// Crop-and-resize by bilinear sampling, anti-aliased when the crop is larger than the output (never here: the
/// crop is at most the canvas), then clip.
inline void crop_resize(const float* canvas, int64_t h, int64_t w, const CropBox& c, float* out, int64_t oh,
                        int64_t ow) {
    warp_bilinear(canvas, h, w, out, oh, ow, crop_map(c, oh, ow), 0.f);
    for (int64_t i = 0; i < oh * ow; ++i) out[i] = clip01(out[i]);
}

}  // namespace detail

/// What a view applied (for tests and debugging).
struct ViewDraw {
    Geometry geometry;
    IntensityDraw intensity;
    CropBox crop;
    Affine2D to_input;  ///< output pixel -> input slice pixel
};

/// One global view T_G of a windowed slice (h x w) into out (p.out_h x p.out_w).
inline ViewDraw global_view(const float* img, int64_t h, int64_t w, float* out, const ViewParams& p, Rng& rng) {
    ViewDraw d;
    Geometry& g = d.geometry;
    g.tx = rng.uniform(-p.translate, p.translate);
    g.ty = rng.uniform(-p.translate, p.translate);
    g.angle_deg = rng.uniform(-p.rotate_deg, p.rotate_deg);
    g.scale = rng.uniform(p.scale_lo, p.scale_hi);
    g.hflip = rng.bernoulli(p.hflip_p);
    d.intensity = draw_intensity(rng, p);
    d.crop = draw_crop(rng, p);
    std::vector<float> canvas(static_cast<size_t>(p.out_h * p.out_w));
    transform_and_resize<uint8_t>(img, nullptr, h, w, g, canvas.data(), nullptr, p.out_h, p.out_w);
    apply_intensity(canvas.data(), p.out_h, p.out_w, d.intensity);
    detail::crop_resize(canvas.data(), p.out_h, p.out_w, d.crop, out, p.out_h, p.out_w);
    d.to_input = resize_map(h, w, p.out_h, p.out_w).compose(geometry_to_input(g, p.out_h, p.out_w)).compose(crop_map(d.crop, p.out_h, p.out_w));
    return d;
}

/// Two local views with a shared geometry (correspondence kept) and independent intensity draws.
struct LocalViewPair {
    ViewDraw view1, view2;  ///< same geometry, crop and to_input; different intensity
};

inline LocalViewPair local_view_pair(const float* img, int64_t h, int64_t w, float* out1, float* out2,
                                     const ViewParams& p, Rng& rng) {
    LocalViewPair r;
    Geometry g;
    g.tx = rng.uniform(-p.translate, p.translate);
    g.ty = rng.uniform(-p.translate, p.translate);
    g.angle_deg = rng.uniform(-p.rotate_deg, p.rotate_deg);
    g.scale = rng.uniform(p.scale_lo, p.scale_hi);
    g.hflip = rng.bernoulli(p.hflip_p);
    const CropBox crop = draw_crop(rng, p);
    const IntensityDraw i1 = draw_intensity(rng, p), i2 = draw_intensity(rng, p);
    const int64_t n = p.out_h * p.out_w;
    std::vector<float> base(static_cast<size_t>(n)), canvas(static_cast<size_t>(n));
    transform_and_resize<uint8_t>(img, nullptr, h, w, g, base.data(), nullptr, p.out_h, p.out_w);
    const Affine2D to_input =
        resize_map(h, w, p.out_h, p.out_w).compose(geometry_to_input(g, p.out_h, p.out_w)).compose(crop_map(crop, p.out_h, p.out_w));
    canvas = base;
    apply_intensity(canvas.data(), p.out_h, p.out_w, i1);
    detail::crop_resize(canvas.data(), p.out_h, p.out_w, crop, out1, p.out_h, p.out_w);
    canvas = base;
    apply_intensity(canvas.data(), p.out_h, p.out_w, i2);
    detail::crop_resize(canvas.data(), p.out_h, p.out_w, crop, out2, p.out_h, p.out_w);
    r.view1 = {g, i1, crop, to_input};
    r.view2 = {g, i2, crop, to_input};
    return r;
}

}  // namespace ichseg::data
