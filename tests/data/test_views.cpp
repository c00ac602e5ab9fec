// Contrastive views (T_G, T_L with kept correspondence) and the context-restoration corruption.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ichseg/data/corruption.hpp"
#include "ichseg/data/views.hpp"

using namespace ichseg;
using namespace ichseg::data;

namespace {

Slice pattern(int64_t n) {
    Slice s(n, n);
    for (int64_t y = 0; y < n; ++y)
        for (int64_t x = 0; x < n; ++x)
            s(y, x) = static_cast<float>(0.5 + 0.25 * std::sin(0.3 * x) * std::cos(0.2 * y) + 0.2 * (x > n / 2));
    return s;
}

/// Centroid (x, y) of the pixels brighter than halfway between the median and the maximum: the spot.
std::pair<double, double> spot(const std::vector<float>& v, int64_t w) {
    std::vector<float> s = v;
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(s.size() / 2), s.end());
    const float thr = 0.5f * (s[s.size() / 2] + *std::max_element(v.begin(), v.end()));
    double m = 0, x = 0, y = 0;
    for (size_t i = 0; i < v.size(); ++i)
        if (v[i] > thr) {
            m += 1;
            x += static_cast<double>(static_cast<int64_t>(i) % w);
            y += static_cast<double>(static_cast<int64_t>(i) / w);
        }
    return {x / m, y / m};
}

}  // namespace

TEST_CASE("global view: values within 0..1, seeded, two draws differ", "[data][views]") {
    const Slice img = pattern(80);
    ViewParams p = ViewParams::global();
    p.out_h = p.out_w = 40;
    std::vector<float> a(1600), b(1600), c(1600);
    Rng r1(3, 4), r2(3, 4);
    const ViewDraw d1 = global_view(img.data(), 80, 80, a.data(), p, r1);
    global_view(img.data(), 80, 80, b.data(), p, r2);
    CHECK(a == b);
    global_view(img.data(), 80, 80, c.data(), p, r1);  // the generator moved on
    CHECK(a != c);
    for (float v : a) REQUIRE((v >= 0.f && v <= 1.f));
    CHECK(std::fabs(d1.geometry.angle_deg) <= 90);
    CHECK(d1.crop.w * d1.crop.h >= 0.5 * 1600 - 1);
    CHECK(d1.crop.w * d1.crop.h <= 1600);
    // over many draws every intensity transform appears about half the time
    int contrast = 0, bright = 0, blur = 0, flip = 0;
    for (uint64_t s = 0; s < 300; ++s) {
        Rng r(s, 1);
        const ViewDraw d = global_view(img.data(), 80, 80, a.data(), p, r);
        contrast += d.intensity.contrast;
        bright += d.intensity.brightness;
        blur += d.intensity.blur;
        flip += d.geometry.hflip;
        REQUIRE(d.intensity.contrast_factor >= 0.5);
        REQUIRE(d.intensity.contrast_factor <= 1.4);
        REQUIRE(std::fabs(d.intensity.brightness_delta) <= 0.25);
        REQUIRE(d.intensity.blur_sigma >= 0.1);
        REQUIRE(d.intensity.blur_sigma <= 1.5);
        REQUIRE(d.crop.w / d.crop.h >= 0.8 - 0.05);
        REQUIRE(d.crop.w / d.crop.h <= 1.25 + 0.05);
    }
    for (int k : {contrast, bright, blur, flip}) {
        CHECK(k > 110);
        CHECK(k < 190);
    }
}

TEST_CASE("local views: one shared geometry keeps pixel correspondence, intensities differ", "[data][views]") {
    // a single bright spot on a dark background: it must land on the same pixel in both views
    const int64_t n = 96;
    Slice img(n, n, 0.1f);
    for (int64_t y = 30; y < 34; ++y)
        for (int64_t x = 60; x < 64; ++x) img(y, x) = 1.f;
    ViewParams p = ViewParams::local();
    p.out_h = p.out_w = 64;
    p.blur_p = 0;  // keep the spot sharp for argmax
    CHECK(p.hflip_p == 0);
    CHECK(p.rotate_deg == 45);
    int differing = 0, checked = 0;
    for (uint64_t s = 0; s < 60; ++s) {
        std::vector<float> v1(64 * 64), v2(64 * 64);
        Rng r(s, 7);
        const LocalViewPair pr = local_view_pair(img.data(), n, n, v1.data(), v2.data(), p, r);
        CHECK(pr.view1.geometry.angle_deg == pr.view2.geometry.angle_deg);
        CHECK(pr.view1.crop.x0 == pr.view2.crop.x0);
        if (*std::max_element(v1.begin(), v1.end()) < 0.3f) continue;  // spot cropped away
        ++checked;
        const auto m1 = spot(v1, 64), m2 = spot(v2, 64);
        CHECK(m1.first == Approx(m2.first).margin(0.75));
        CHECK(m1.second == Approx(m2.second).margin(0.75));
        // the recorded map sends that position back near the spot in the input
        double xi, yi;
        pr.view1.to_input.apply(m1.first, m1.second, xi, yi);
        CHECK(xi == Approx(61.5).margin(3.0));
        CHECK(yi == Approx(31.5).margin(3.0));
        differing += v1 != v2;
    }
    CHECK(checked > 30);
    CHECK(differing > checked / 2);  // independent intensity draws
}

TEST_CASE("local views: to_input maps every output pixel to where its value came from", "[data][views]") {
    const int64_t n = 96;
    Slice img(n, n);
    for (int64_t y = 0; y < n; ++y)
        for (int64_t x = 0; x < n; ++x) img(y, x) = static_cast<float>(0.5 + 0.3 * std::sin(0.11 * x + 0.05 * y) * std::cos(0.07 * y));
    ViewParams p = ViewParams::local();
    p.out_h = p.out_w = 64;
    p.blur_p = p.contrast_p = p.brightness_p = 0;  // geometry only
    for (uint64_t s = 0; s < 10; ++s) {
        std::vector<float> v1(64 * 64), v2(64 * 64);
        Rng r(s, 7);
        const LocalViewPair pr = local_view_pair(img.data(), n, n, v1.data(), v2.data(), p, r);
        CHECK(v1 == v2);  // no intensity transform: the two views are the same image
        int compared = 0;
        for (int64_t y = 4; y < 60; y += 5)
            for (int64_t x = 4; x < 60; x += 5) {
                double xi, yi;
                pr.view1.to_input.apply(static_cast<double>(x), static_cast<double>(y), xi, yi);
                if (xi < 1 || yi < 1 || xi > n - 2 || yi > n - 2) continue;
                const int64_t x0 = static_cast<int64_t>(std::floor(xi)), y0 = static_cast<int64_t>(std::floor(yi));
                const double ax = xi - x0, ay = yi - y0;
                const double ref = (1 - ay) * ((1 - ax) * img(y0, x0) + ax * img(y0, x0 + 1)) +
                                   ay * ((1 - ax) * img(y0 + 1, x0) + ax * img(y0 + 1, x0 + 1));
                CHECK(v1[static_cast<size_t>(y * 64 + x)] == Approx(ref).margin(0.03));
                ++compared;
            }
        CHECK(compared > 20);
    }
}

TEST_CASE("context restoration: N swaps of non-overlapping patches, pixels preserved", "[data][corruption]") {
    Slice img(64, 64);
    for (int64_t i = 0; i < img.size(); ++i) img.px[static_cast<size_t>(i)] = static_cast<float>(i);
    Slice c = img;
    ContextRestorationParams p;
    p.swaps = 20;
    p.patch_h = p.patch_w = 8;
    Rng r(11, 3);
    const auto swaps = corrupt_context(c, p, r);
    REQUIRE(swaps.size() == 20);
    for (const auto& s : swaps) {
        CHECK((std::llabs(s.y1 - s.y2) >= 8 || std::llabs(s.x1 - s.x2) >= 8));
        CHECK(s.y1 >= 0);
        CHECK(s.y1 + 8 <= 64);
        CHECK(s.x2 + 8 <= 64);
    }
    std::vector<float> a = img.px, b = c.px;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);           // a permutation of the pixels
    CHECK(c.px != img.px);   // but not the identity
    // replaying the swaps in reverse restores the image
    for (auto it = swaps.rbegin(); it != swaps.rend(); ++it)
        for (int64_t y = 0; y < 8; ++y)
            for (int64_t x = 0; x < 8; ++x) std::swap(c(it->y1 + y, it->x1 + x), c(it->y2 + y, it->x2 + x));
    CHECK(c.px == img.px);
    Rng r2(11, 3);
    Slice d = img;
    corrupt_context(d, p, r2);
    Slice e = img;
    Rng r3(11, 3);
    corrupt_context(e, p, r3);
    CHECK(d.px == e.px);
    Slice tiny(10, 10);
    Rng r4(1, 1);
    CHECK_THROWS_WITH(corrupt_context(tiny, ContextRestorationParams{}, r4), Catch::Contains("do not fit"));
}
