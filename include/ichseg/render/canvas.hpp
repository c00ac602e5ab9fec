/// @file canvas.hpp
/// @brief A minimal raster drawing layer for figures: an RGB8 image, anti-aliased rectangles, lines, circles and
/// markers with alpha, text in the built-in bitmap font (any size, horizontal or rotated 90°, optional bold),
/// and colour maps (viridis, a grey-to-colour ramp, a 10-colour qualitative palette).
///
/// Coordinates are in pixels, x to the right, y down; pixel (i, j) covers [i, i+1) × [j, j+1), so a rectangle
/// from integer corners is drawn crisp and fractional edges are blended by their coverage.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/render/font.hpp"

namespace ichseg::render {

/// 8-bit RGB colour.
struct Color {
    uint8_t r = 0, g = 0, b = 0;
    static constexpr Color hex(uint32_t v) {
        return Color{static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    }
    bool operator==(const Color& o) const { return r == o.r && g == o.g && b == o.b; }
    bool operator!=(const Color& o) const { return !(*this == o); }
    /// Relative luminance in [0, 1] (Rec. 709 weights on the 8-bit values; for picking black or white text).
    double luminance() const { return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0; }
};

namespace colors {
inline constexpr Color white{255, 255, 255};
inline constexpr Color black{0, 0, 0};
inline constexpr Color text{25, 25, 25};
inline constexpr Color axis{60, 60, 60};
inline constexpr Color grid{225, 225, 225};
inline constexpr Color light_grey{200, 200, 200};
inline constexpr Color grey{150, 150, 150};
inline constexpr Color dark_grey{90, 90, 90};
}  // namespace colors

/// Linear interpolation between two colours (t clamped to [0, 1]).
inline Color lerp(Color a, Color b, double t) {
    t = std::clamp(t, 0.0, 1.0);
    auto m = [t](uint8_t x, uint8_t y) { return static_cast<uint8_t>(std::lround(x + (y - x) * t)); };
    return Color{m(a.r, b.r), m(a.g, b.g), m(a.b, b.b)};
}

/// Matplotlib's viridis (CC0), sampled at 17 points and linearly interpolated; t in [0, 1].
inline Color viridis(double t) {
    static constexpr uint32_t k[17] = {0x440154, 0x48186a, 0x472d7b, 0x424086, 0x3b528b, 0x33638d,
                                       0x2c728e, 0x26828e, 0x21918c, 0x1fa088, 0x28ae80, 0x3fbc73,
                                       0x5ec962, 0x84d44b, 0xaddc30, 0xd8e219, 0xfde725};
    if (!(t == t)) t = 0;
    t = std::clamp(t, 0.0, 1.0) * 16;
    const int i = std::min(15, static_cast<int>(t));
    return lerp(Color::hex(k[i]), Color::hex(k[i + 1]), t - i);
}

/// Qualitative palette (the 10 "tab10" colours), cycled.
inline Color palette(std::size_t i) {
    static constexpr uint32_t k[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                       0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    return Color::hex(k[i % 10]);
}

/// An RGB8 image, row-major, 3 bytes per pixel.
struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
    Image() = default;
    Image(int w, int h, Color fill = colors::white) : width(w), height(h) {
        ICHSEG_CHECK(w > 0 && h > 0 && static_cast<int64_t>(w) * h <= (int64_t(1) << 28),
                     "Image: unsupported size ", w, "x", h);
        rgb.resize(static_cast<std::size_t>(w) * h * 3);
        for (std::size_t i = 0; i < rgb.size(); i += 3) {
            rgb[i] = fill.r;
            rgb[i + 1] = fill.g;
            rgb[i + 2] = fill.b;
        }
    }
    Color at(int x, int y) const {
        ICHSEG_CHECK(x >= 0 && y >= 0 && x < width && y < height, "Image::at: pixel (", x, ", ", y,
                     ") outside ", width, "x", height);
        const std::size_t o = (static_cast<std::size_t>(y) * width + x) * 3;
        return Color{rgb[o], rgb[o + 1], rgb[o + 2]};
    }
};

enum class HAlign { left, center, right };
enum class VAlign { top, middle, baseline, bottom };

/// Text appearance: `size` = cap height in pixels (font cells are size/7 px).
struct TextStyle {
    double size = 14;
    Color color = colors::text;
    HAlign halign = HAlign::left;
    VAlign valign = VAlign::baseline;
    bool bold = false;
    bool vertical = false;  ///< rotated 90° counter-clockwise (reads bottom to top), for y-axis labels
};

/// Drawing operations on an Image. Every call clips to the image.
class Canvas {
public:
    explicit Canvas(int w, int h, Color bg = colors::white) : img_(w, h, bg) {}
    int width() const { return img_.width; }
    int height() const { return img_.height; }
    const Image& image() const { return img_; }
    Image& image() { return img_; }

    /// Blend colour c into pixel (x, y) with opacity a in [0, 1].
    void blend(int x, int y, Color c, double a) {
        if (x < 0 || y < 0 || x >= img_.width || y >= img_.height || !(a > 0)) return;
        a = std::min(a, 1.0);
        uint8_t* p = img_.rgb.data() + (static_cast<std::size_t>(y) * img_.width + x) * 3;
        p[0] = static_cast<uint8_t>(std::lround(p[0] + (c.r - p[0]) * a));
        p[1] = static_cast<uint8_t>(std::lround(p[1] + (c.g - p[1]) * a));
        p[2] = static_cast<uint8_t>(std::lround(p[2] + (c.b - p[2]) * a));
    }

    /// Filled axis-aligned rectangle [x0, x1) × [y0, y1) with fractional edges anti-aliased.
    void fill_rect(double x0, double y0, double x1, double y1, Color c, double alpha = 1) {
        if (x1 < x0) std::swap(x0, x1);
        if (y1 < y0) std::swap(y0, y1);
        const int ix0 = std::max(0, static_cast<int>(std::floor(x0))),
                  ix1 = std::min(img_.width, static_cast<int>(std::ceil(x1)));
        const int iy0 = std::max(0, static_cast<int>(std::floor(y0))),
                  iy1 = std::min(img_.height, static_cast<int>(std::ceil(y1)));
        for (int y = iy0; y < iy1; ++y) {
            const double cy = std::min<double>(y + 1, y1) - std::max<double>(y, y0);
            for (int x = ix0; x < ix1; ++x) {
                const double cx = std::min<double>(x + 1, x1) - std::max<double>(x, x0);
                blend(x, y, c, alpha * cx * cy);
            }
        }
    }

    /// Rectangle outline of the given line width, drawn inside [x0, x1) × [y0, y1).
    void stroke_rect(double x0, double y0, double x1, double y1, Color c, double width = 1, double alpha = 1) {
        fill_rect(x0, y0, x1, y0 + width, c, alpha);
        fill_rect(x0, y1 - width, x1, y1, c, alpha);
        fill_rect(x0, y0 + width, x0 + width, y1 - width, c, alpha);
        fill_rect(x1 - width, y0 + width, x1, y1 - width, c, alpha);
    }

    /// Anti-aliased line segment of the given width with round caps (coverage from the distance to the segment).
    void line(double x0, double y0, double x1, double y1, Color c, double width = 1, double alpha = 1) {
        const double hw = width / 2;
        const int bx0 = std::max(0, static_cast<int>(std::floor(std::min(x0, x1) - hw - 1)));
        const int bx1 = std::min(img_.width - 1, static_cast<int>(std::ceil(std::max(x0, x1) + hw + 1)));
        const int by0 = std::max(0, static_cast<int>(std::floor(std::min(y0, y1) - hw - 1)));
        const int by1 = std::min(img_.height - 1, static_cast<int>(std::ceil(std::max(y0, y1) + hw + 1)));
        const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
        for (int y = by0; y <= by1; ++y)
            for (int x = bx0; x <= bx1; ++x) {
                const double px = x + 0.5 - x0, py = y + 0.5 - y0;
                const double t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
                const double ex = px - t * dx, ey = py - t * dy;
                const double cov = std::clamp(hw + 0.5 - std::sqrt(ex * ex + ey * ey), 0.0, 1.0);
                if (cov > 0) blend(x, y, c, alpha * cov);
            }
    }

    /// Connected line segments through the points (x[i], y[i]).
    void polyline(const std::vector<double>& x, const std::vector<double>& y, Color c, double width = 1,
                  double alpha = 1) {
        ICHSEG_CHECK(x.size() == y.size(), "Canvas::polyline: ", x.size(), " x but ", y.size(), " y coordinates");
        for (std::size_t i = 1; i < x.size(); ++i) line(x[i - 1], y[i - 1], x[i], y[i], c, width, alpha);
    }

    /// Filled anti-aliased disc.
    void fill_circle(double cx, double cy, double r, Color c, double alpha = 1) {
        blend_around(cx, cy, r, c, alpha,
                     [&](double dx, double dy) { return std::clamp(r + 0.5 - std::hypot(dx, dy), 0.0, 1.0); });
    }

    /// Anti-aliased circle outline (ring of the given width centred on radius r).
    void stroke_circle(double cx, double cy, double r, Color c, double width = 1, double alpha = 1) {
        const double ro = r + width / 2, ri = std::max(0.0, r - width / 2);
        blend_around(cx, cy, ro, c, alpha, [&](double dx, double dy) {
            const double d = std::hypot(dx, dy);
            return std::clamp(ro + 0.5 - d, 0.0, 1.0) * std::clamp(d - ri + 0.5, 0.0, 1.0);
        });
    }

    enum class Marker { circle, open_circle, square, diamond };

    /// A marker of the given radius centred at (cx, cy).
    void marker(Marker m, double cx, double cy, double r, Color c, double alpha = 1) {
        switch (m) {
            case Marker::circle: fill_circle(cx, cy, r, c, alpha); break;
            case Marker::open_circle: stroke_circle(cx, cy, r, c, std::max(1.0, r / 3), alpha); break;
            case Marker::square: fill_rect(cx - r, cy - r, cx + r, cy + r, c, alpha); break;
            case Marker::diamond:
                blend_around(cx, cy, r, c, alpha, [&](double dx, double dy) {
                    const double d = (std::abs(dx) + std::abs(dy)) / std::sqrt(2.0);
                    return std::clamp(r / std::sqrt(2.0) + 0.5 - d, 0.0, 1.0);
                });
                break;
        }
    }

    // ---- text ------------------------------------------------------------------------------------------------

    /// Width in pixels of a single-line string at cap height `size` (along the reading direction).
    static double text_width(const std::string& s, double size, bool bold = false) {
        if (s.empty()) return 0;
        const double cell = size / font::kCapHeight;
        return cell * (font::kAdvance * static_cast<double>(s.size()) - 1) + (bold ? bold_offset(size) : 0);
    }

    /// Draw a single line of text anchored at (x, y) according to the style's alignment. Returns the width.
    double text(double x, double y, const std::string& s, const TextStyle& st) {
        if (s.empty()) return 0;
        const double cell = st.size / font::kCapHeight;
        const double w = text_width(s, st.size, st.bold);
        // Offsets along (u = reading direction, v = downwards in glyph space) of the glyph-space origin
        // (top-left of the first glyph's cap box) relative to the anchor.
        double u0 = 0, v0 = 0;
        if (st.halign == HAlign::center) u0 = -w / 2;
        if (st.halign == HAlign::right) u0 = -w;
        switch (st.valign) {
            case VAlign::top: v0 = 0; break;
            case VAlign::middle: v0 = -st.size / 2; break;
            case VAlign::baseline: v0 = -st.size; break;
            case VAlign::bottom: v0 = -cell * font::kGlyphHeight; break;
        }
        // Accumulate coverage in a local buffer (so touching cells do not double-blend), then blend once.
        const double ext_u = w + 2, ext_v = cell * font::kGlyphHeight + 2;
        double bx0, by0, bw, bh;
        if (!st.vertical) {
            bx0 = std::floor(x + u0) - 1;
            by0 = std::floor(y + v0) - 1;
            bw = ext_u + 2;
            bh = ext_v + 2;
        } else {  // u runs up the page (-y), v runs to the right (+x)
            bx0 = std::floor(x + v0) - 1;
            by0 = std::floor(y - u0 - w) - 1;
            bw = ext_v + 2;
            bh = ext_u + 2;
        }
        const int W = static_cast<int>(std::ceil(bw)) + 1, H = static_cast<int>(std::ceil(bh)) + 1;
        std::vector<float> cov(static_cast<std::size_t>(W) * H, 0.f);
        auto add_rect = [&](double rx0, double ry0, double rx1, double ry1) {  // page coords
            rx0 -= bx0;
            rx1 -= bx0;
            ry0 -= by0;
            ry1 -= by0;
            const int ix0 = std::max(0, static_cast<int>(std::floor(rx0))),
                      ix1 = std::min(W, static_cast<int>(std::ceil(rx1)));
            const int iy0 = std::max(0, static_cast<int>(std::floor(ry0))),
                      iy1 = std::min(H, static_cast<int>(std::ceil(ry1)));
            for (int yy = iy0; yy < iy1; ++yy) {
                const double cy = std::min<double>(yy + 1, ry1) - std::max<double>(yy, ry0);
                for (int xx = ix0; xx < ix1; ++xx) {
                    const double cx = std::min<double>(xx + 1, rx1) - std::max<double>(xx, rx0);
                    cov[static_cast<std::size_t>(yy) * W + xx] += static_cast<float>(cx * cy);
                }
            }
        };
        const int passes = st.bold ? 2 : 1;
        for (int pass = 0; pass < passes; ++pass) {
            const double shift = pass == 1 ? bold_offset(st.size) : 0;
            for (std::size_t k = 0; k < s.size(); ++k) {
                const auto& g = font::glyph(s[k]);
                const double gu = u0 + shift + cell * font::kAdvance * static_cast<double>(k);
                for (int row = 0; row < font::kGlyphHeight; ++row)
                    for (int c = 0; c < font::kGlyphWidth; ++c) {
                        if (!(g[row] & (1u << (font::kGlyphWidth - 1 - c)))) continue;
                        const double ua = gu + c * cell, ub = ua + cell;    // along the text
                        const double va = v0 + row * cell, vb = va + cell;  // across (down in glyph space)
                        if (!st.vertical)
                            add_rect(x + ua, y + va, x + ub, y + vb);
                        else
                            add_rect(x + va, y - ub, x + vb, y - ua);
                    }
            }
        }
        const int ox = static_cast<int>(bx0), oy = static_cast<int>(by0);
        for (int yy = 0; yy < H; ++yy)
            for (int xx = 0; xx < W; ++xx) {
                const float c = cov[static_cast<std::size_t>(yy) * W + xx];
                if (c > 0) blend(ox + xx, oy + yy, st.color, std::min(1.0f, c));
            }
        return w;
    }

private:
    /// Blend `c` into every pixel within `reach` + 1 of (cx, cy) with coverage `coverage(dx, dy)` in [0, 1] of the
    /// pixel whose centre is (dx, dy) from (cx, cy) (the shared loop of the round and diamond shapes).
    template <class Coverage>
    void blend_around(double cx, double cy, double reach, Color c, double alpha, Coverage coverage) {
        const int x0 = std::max(0, static_cast<int>(std::floor(cx - reach - 1))),
                  x1 = std::min(img_.width - 1, static_cast<int>(std::ceil(cx + reach + 1)));
        const int y0 = std::max(0, static_cast<int>(std::floor(cy - reach - 1))),
                  y1 = std::min(img_.height - 1, static_cast<int>(std::ceil(cy + reach + 1)));
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x) {
                const double cov = coverage(x + 0.5 - cx, y + 0.5 - cy);
                if (cov > 0) blend(x, y, c, alpha * cov);
            }
    }

    static double bold_offset(double size) { return std::max(1.0, std::round(size / 14.0)); }
    Image img_;
};

}  // namespace ichseg::render
