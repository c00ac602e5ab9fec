// HU windows, anti-aliased resize, geometric transforms and the SPEC §2 segmentation augmentation.
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/data/augment.hpp"
#include "ichseg/data/window.hpp"

using namespace ichseg;
using namespace ichseg::data;

namespace {

/// PIL-style anti-aliased bilinear, written independently in double for one axis.
std::vector<double> reference_resize_1d(const std::vector<double>& in, int64_t out) {
    const double scale = static_cast<double>(in.size()) / static_cast<double>(out), fs = std::max(1.0, scale);
    std::vector<double> r(static_cast<size_t>(out));
    for (int64_t i = 0; i < out; ++i) {
        const double c = (i + 0.5) * scale;
        double acc = 0, ws = 0;
        for (int64_t x = 0; x < static_cast<int64_t>(in.size()); ++x) {
            const double w = std::max(0.0, 1.0 - std::fabs((x + 0.5 - c) / fs));
            acc += w * in[static_cast<size_t>(x)];
            ws += w;
        }
        r[static_cast<size_t>(i)] = acc / ws;
    }
    return r;
}

Slice square_image(int64_t n, int64_t x0, int64_t y0, int64_t x1, int64_t y1) {
    Slice s(n, n, 0.f);
    for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) s(y, x) = 1.f;
    return s;
}

double centroid_x(const Slice& s) {
    double m = 0, sx = 0;
    for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x) {
            m += s(y, x);
            sx += s(y, x) * static_cast<double>(x);
        }
    return sx / m;
}
double centroid_y(const Slice& s) {
    double m = 0, sy = 0;
    for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < s.w; ++x) {
            m += s(y, x);
            sy += s(y, x) * static_cast<double>(y);
        }
    return sy / m;
}

}  // namespace

TEST_CASE("window: SPEC presets map HU linearly and clip", "[data][window]") {
    const float hu[] = {-1000, -50, 0, 50, 150, 151, 2000, std::nanf("")};
    float out[8];
    apply_window(hu, out, 8, Window::segmentation());
    CHECK(out[0] == 0.f);
    CHECK(out[1] == 0.f);
    CHECK(out[2] == Approx(0.25));
    CHECK(out[3] == Approx(0.5));
    CHECK(out[4] == 1.f);
    CHECK(out[5] == 1.f);
    CHECK(out[7] == 0.f);  // NaN never leaks into a batch
    CHECK(Window::segmentation().center() == 50);
    CHECK(Window::segmentation().width() == 200);
    apply_window(hu, out, 8, Window::tissue());
    CHECK(out[3] == Approx(50.0 / 600));
    apply_window(hu, out, 8, Window::bone());
    CHECK(out[4] == 0.f);
    CHECK(out[6] == 1.f);
    const Window w = Window::from_center_width(40, 80);
    CHECK(w.lo == 0.f);
    CHECK(w.hi == 80.f);
    CHECK_THROWS(Window::from_center_width(40, 0));
}

TEST_CASE("resize: anti-aliased bilinear matches an independent reference", "[data][resize]") {
    const int64_t sh = 12, sw = 20, dh = 5, dw = 7;
    Slice s(sh, sw);
    for (int64_t y = 0; y < sh; ++y)
        for (int64_t x = 0; x < sw; ++x) s(y, x) = static_cast<float>(std::sin(0.7 * x) + 0.3 * y * y - x * y * 0.05);
    Slice r = resize_bilinear(s, dh, dw);
    // separable reference: rows then columns, in double
    std::vector<std::vector<double>> mid(static_cast<size_t>(sh));
    for (int64_t y = 0; y < sh; ++y) {
        std::vector<double> row(static_cast<size_t>(sw));
        for (int64_t x = 0; x < sw; ++x) row[static_cast<size_t>(x)] = s(y, x);
        mid[static_cast<size_t>(y)] = reference_resize_1d(row, dw);
    }
    for (int64_t x = 0; x < dw; ++x) {
        std::vector<double> col(static_cast<size_t>(sh));
        for (int64_t y = 0; y < sh; ++y) col[static_cast<size_t>(y)] = mid[static_cast<size_t>(y)][static_cast<size_t>(x)];
        const auto ref = reference_resize_1d(col, dh);
        for (int64_t y = 0; y < dh; ++y) CHECK(r(y, x) == Approx(ref[static_cast<size_t>(y)]).margin(1e-4));
    }
}

TEST_CASE("resize: down-sampling does not alias, constants stay constant, masks stay aligned", "[data][resize]") {
    // a 1-pixel checkerboard halves to uniform grey with anti-aliasing (plain bilinear sampling would keep 0/1)
    Slice cb(64, 64);
    for (int64_t y = 0; y < 64; ++y)
        for (int64_t x = 0; x < 64; ++x) cb(y, x) = static_cast<float>((x + y) % 2);
    const Slice half = resize_bilinear(cb, 32, 32);
    for (int64_t y = 1; y < 31; ++y)
        for (int64_t x = 1; x < 31; ++x) REQUIRE(half(y, x) == Approx(0.5).margin(1e-5));
    const Slice c = resize_bilinear(Slice(50, 70, 0.3f), 256, 256);
    for (float v : c.px) REQUIRE(v == Approx(0.3f));
    // mask nearest: a block at [16, 32) of 64 lands at [8, 16) of 32 and at [64, 128) of 256
    SliceMask m(64, 64, 0);
    for (int64_t y = 16; y < 32; ++y)
        for (int64_t x = 16; x < 32; ++x) m(y, x) = 7;
    const SliceMask m32 = resize_nearest_mask(m, 32, 32);
    for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) REQUIRE(m32(y, x) == ((y >= 8 && y < 16 && x >= 8 && x < 16) ? 1 : 0));
    const SliceMask m256 = resize_nearest_mask(m, 256, 256);
    CHECK(m256(64, 64) == 1);
    CHECK(m256(63, 64) == 0);
    CHECK(m256(127, 127) == 1);
    CHECK(m256(128, 127) == 0);
    CHECK_THROWS(resize_bilinear(Slice(0, 4), 2, 2));
}

TEST_CASE("geometry: translation, flip, rotation and scale move content as specified", "[data][augment]") {
    const Slice img = square_image(64, 20, 10, 30, 20);  // centroid (24.5, 14.5)
    Slice out(64, 64);
    Geometry g;
    g.tx = 0.125;  // +8 px to the right
    g.ty = -0.0625;  // 4 px up
    transform_and_resize<uint8_t>(img.data(), nullptr, 64, 64, g, out.data(), nullptr, 64, 64);
    CHECK(centroid_x(out) == Approx(32.5).margin(0.05));
    CHECK(centroid_y(out) == Approx(10.5).margin(0.05));
    Geometry f;
    f.hflip = true;
    transform_and_resize<uint8_t>(img.data(), nullptr, 64, 64, f, out.data(), nullptr, 64, 64);
    CHECK(centroid_x(out) == Approx(63 - 24.5).margin(0.05));
    CHECK(centroid_y(out) == Approx(14.5).margin(0.05));
    Geometry r;
    r.angle_deg = 90;  // counter-clockwise on screen: (x, y) - c -> (y', -x') ...
    transform_and_resize<uint8_t>(img.data(), nullptr, 64, 64, r, out.data(), nullptr, 64, 64);
    // offset from centre (31.5, 31.5) is (-7, -17); a CCW quarter turn with y down maps it to (-17, +7)
    CHECK(centroid_x(out) == Approx(31.5 - 17).margin(0.1));
    CHECK(centroid_y(out) == Approx(31.5 + 7).margin(0.1));
    Geometry s;
    s.scale = 2;
    const Slice centred = square_image(64, 28, 26, 36, 34);  // centroid (31.5, 29.5), 64 px
    transform_and_resize<uint8_t>(centred.data(), nullptr, 64, 64, s, out.data(), nullptr, 64, 64);
    CHECK(centroid_x(out) == Approx(31.5).margin(0.05));
    CHECK(centroid_y(out) == Approx(31.5 - 4).margin(0.05));
    double mass = 0;
    for (float v : out.px) mass += v;
    CHECK(mass == Approx(4 * 64).margin(1));
    // the inverse map composes back to identity
    const Affine2D a = geometry_to_input(Geometry{0.1, -0.2, 33, 1.07, true}, 40, 50);
    const Affine2D id = a.compose(a.inverse());
    CHECK(id.a == Approx(1));
    CHECK(id.b == Approx(0).margin(1e-12));
    CHECK(id.c == Approx(0).margin(1e-9));
    CHECK(id.e == Approx(1));
}

TEST_CASE("segmentation augmentation: image and mask move together, draws stay in SPEC ranges", "[data][augment]") {
    // image = mask (a blob); after any augmentation, thresholding the image at 0.5 must reproduce the mask
    const int64_t n = 96;
    Slice img(n, n, 0.f);
    SliceMask mask(n, n, 0);
    for (int64_t y = 0; y < n; ++y)
        for (int64_t x = 0; x < n; ++x)
            if ((x - 40) * (x - 40) + (y - 50) * (y - 50) < 300 || (x > 60 && x < 80 && y > 10 && y < 30)) {
                img(y, x) = 1.f;
                mask(y, x) = 1;
            }
    SegAugmentParams p;
    p.out_h = p.out_w = 48;
    for (uint64_t seed = 0; seed < 40; ++seed) {
        Rng rng(seed, 1);
        Slice oi;
        SliceMask om;
        const Geometry g = augment_segmentation(img, &mask, oi, &om, p, rng);
        CHECK(std::fabs(g.tx) <= 0.1);
        CHECK(std::fabs(g.ty) <= 0.1);
        CHECK(std::fabs(g.angle_deg) <= 15);
        CHECK(g.scale >= 0.9);
        CHECK(g.scale <= 1.1);
        int64_t inter = 0, uni = 0;
        for (int64_t i = 0; i < om.size(); ++i) {
            const bool a = oi.px[static_cast<size_t>(i)] >= 0.5f, b = om.px[static_cast<size_t>(i)] != 0;
            inter += a && b;
            uni += a || b;
        }
        INFO("seed " << seed);
        REQUIRE(uni > 50);
        CHECK(static_cast<double>(inter) / static_cast<double>(uni) > 0.9);
        for (uint8_t v : om.px) REQUIRE(v <= 1);
    }
    // same seed -> same output; a different seed -> different output
    Rng a(5, 9), b(5, 9), c(6, 9);
    Slice o1, o2, o3;
    augment_segmentation(img, &mask, o1, nullptr, p, a);
    augment_segmentation(img, &mask, o2, nullptr, p, b);
    augment_segmentation(img, &mask, o3, nullptr, p, c);
    CHECK(o1.px == o2.px);
    CHECK(o1.px != o3.px);
    // the flip happens about half the time
    int flips = 0;
    for (uint64_t s = 0; s < 400; ++s) {
        Rng r(s, 2);
        flips += draw_segmentation_geometry(r, p).hflip;
    }
    CHECK(flips > 160);
    CHECK(flips < 240);
    // disabled: a plain resize
    SegAugmentParams off = p;
    off.enabled = false;
    Rng r(1, 1);
    augment_segmentation(img, &mask, o1, nullptr, off, r);
    CHECK(o1.px == resize_bilinear(img, 48, 48).px);
}

TEST_CASE("segmentation augmentation: non-square inputs warp at native size, then resize", "[data][augment]") {
    Slice img = square_image(64, 8, 8, 24, 24);
    Slice wide(32, 64, 0.f);
    for (int64_t y = 8; y < 16; ++y)
        for (int64_t x = 16; x < 32; ++x) wide(y, x) = 1.f;
    SliceMask wm(32, 64, 0);
    for (int64_t i = 0; i < wide.size(); ++i) wm.px[static_cast<size_t>(i)] = wide.px[static_cast<size_t>(i)] > 0.5f;
    Slice out(32, 32);
    SliceMask om(32, 32);
    Geometry g;
    g.hflip = true;
    transform_and_resize(wide.data(), wm.data(), 32, 64, g, out.data(), om.data(), 32, 32);
    // flipped about the centre of the 64-wide image, then squeezed to 32: x in [32, 48) -> [16, 24)
    CHECK(centroid_x(out) == Approx(19.5).margin(0.1));
    int64_t inter = 0, uni = 0;
    for (int64_t i = 0; i < om.size(); ++i) {
        const bool a = out.px[static_cast<size_t>(i)] >= 0.5f, b = om.px[static_cast<size_t>(i)] != 0;
        inter += a && b;
        uni += a || b;
    }
    CHECK(static_cast<double>(inter) / static_cast<double>(uni) > 0.85);
    (void)img;
}

TEST_CASE("intensity transforms: contrast, brightness, blur", "[data][augment]") {
    // Contrast multiplies every value (the authors' form, SPEC §7), with no centring on the mean: 0 stays 0,
    // which a blend with the mean (0.5 here) would have moved to 0.25.
    std::vector<float> v = {0.f, 0.5f, 1.f, 0.5f};
    adjust_contrast(v.data(), 4, 0.5);
    CHECK(v[0] == 0.f);
    CHECK(v[1] == Approx(0.25));
    CHECK(v[2] == Approx(0.5));
    std::vector<float> up = {0.f, 0.5f, 0.8f};
    adjust_contrast(up.data(), 3, 1.4);
    CHECK(up[0] == 0.f);
    CHECK(up[1] == Approx(0.7));
    CHECK(up[2] == 1.f);  // 1.12, clipped
    adjust_brightness(v.data(), 4, 0.5);
    CHECK(v[0] == Approx(0.5));
    CHECK(v[2] == 1.f);  // clipped
    Slice s(21, 21, 0.f);
    s(10, 10) = 1.f;
    gaussian_blur(s.data(), 21, 21, 1.0);
    double sum = 0;
    for (float x : s.px) sum += x;
    CHECK(sum == Approx(1.0).margin(1e-4));           // mass kept
    CHECK(s(10, 10) == Approx(1.0 / (2 * 3.14159265 * 1.0)).margin(0.01));
    CHECK(s(10, 11) == Approx(s(11, 10)));
    CHECK(s(10, 11) < s(10, 10));
}
