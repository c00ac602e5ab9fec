/// @file plot.hpp
/// @brief Plot building blocks on top of canvas.hpp: data-to-pixel axes, "nice" tick positions and labels,
/// axis drawing with grid lines, legends.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/render/canvas.hpp"

namespace ichseg::render {

/// Pixel rectangle [x0, x1) × [y0, y1).
struct Rect {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    double width() const { return x1 - x0; }
    double height() const { return y1 - y0; }
    double cx() const { return (x0 + x1) / 2; }
    double cy() const { return (y0 + y1) / 2; }
};

/// A plotting area: pixel rectangle plus the data range it shows (y up).
struct Axes {
    Rect px;
    double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    double X(double x) const { return px.x0 + (x - xmin) / (xmax - xmin) * px.width(); }
    double Y(double y) const { return px.y1 - (y - ymin) / (ymax - ymin) * px.height(); }
};

/// Tick positions at multiples of 1, 2 or 5 × 10^k covering [lo, hi] with about `target` ticks.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 6) {
    ICHSEG_CHECK(std::isfinite(lo) && std::isfinite(hi) && hi > lo, "nice_ticks: invalid range [", lo, ", ", hi,
                 "]");
    const double raw = (hi - lo) / std::max(1, target - 1);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw * 0.999) {
            step = m * mag;
            break;
        }
    std::vector<double> t;
    const double k0 = std::ceil(lo / step - 1e-9);
    for (int i = 0;; ++i) {
        const double v = (k0 + i) * step;  // multiplied, not accumulated: no drift
        if (v > hi + step * 1e-9) break;
        t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    }
    return t;
}

/// A tick label with just enough decimals for the spacing of the ticks.
inline std::string tick_label(double v, double step) {
    int dec = 0;
    while (dec < 6 && std::abs(step * std::pow(10.0, dec) - std::round(step * std::pow(10.0, dec))) > 1e-6) ++dec;
    return io::format("%.*f", dec, v);
}

/// Left y axis: ticks, tick labels, optional horizontal grid, and a rotated axis label.
inline void draw_y_axis(Canvas& cv, const Axes& ax, const std::vector<double>& ticks, const std::string& label,
                        double font = 13, bool grid = true) {
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
    double widest = 0;
    for (double t : ticks) {
        const double y = std::round(ax.Y(t));
        if (grid) cv.fill_rect(ax.px.x0, y, ax.px.x1, y + 1, colors::grid);
        cv.fill_rect(ax.px.x0 - 6, y, ax.px.x0, y + 1, colors::axis);
        TextStyle st{font, colors::text, HAlign::right, VAlign::middle};
        widest = std::max(widest, cv.text(ax.px.x0 - 10, y + 0.5, tick_label(t, step), st));
    }
    if (!label.empty()) {
        TextStyle st{font * 1.1, colors::text, HAlign::center, VAlign::bottom};
        st.vertical = true;
        cv.text(ax.px.x0 - 18 - widest - font * 1.3, ax.px.cy(), label, st);
    }
}

/// Bottom x axis with numeric ticks and a label below.
inline void draw_x_axis(Canvas& cv, const Axes& ax, const std::vector<double>& ticks, const std::string& label,
                        double font = 13, bool grid = true) {
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
    for (double t : ticks) {
        const double x = std::round(ax.X(t));
        if (grid) cv.fill_rect(x, ax.px.y0, x + 1, ax.px.y1, colors::grid);
        cv.fill_rect(x, ax.px.y1, x + 1, ax.px.y1 + 6, colors::axis);
        cv.text(x + 0.5, ax.px.y1 + 10, tick_label(t, step), TextStyle{font, colors::text, HAlign::center, VAlign::top});
    }
    if (!label.empty())
        cv.text(ax.px.cx(), ax.px.y1 + 18 + font * 1.6, label,
                TextStyle{font * 1.1, colors::text, HAlign::center, VAlign::top});
}

/// The frame around an axes area (1 px, dark grey).
inline void draw_frame(Canvas& cv, const Axes& ax) {
    cv.stroke_rect(std::round(ax.px.x0) - 1, std::round(ax.px.y0) - 1, std::round(ax.px.x1) + 1,
                   std::round(ax.px.y1) + 1, colors::axis, 1);
}

/// One legend entry: a colour swatch (filled box or marker) and its label.
struct LegendItem {
    std::string label;
    Color color;
    bool marker = false;  ///< round marker instead of a filled box
};

/// Size in pixels of a legend box laid out in one column (title optional).
inline std::pair<double, double> legend_size(const std::vector<LegendItem>& items, double font,
                                             const std::string& title = "") {
    double w = title.empty() ? 0 : Canvas::text_width(title, font, true);
    for (const auto& it : items) w = std::max(w, font * 1.6 + Canvas::text_width(it.label, font));
    const double line = font * 1.9;
    const double h = line * static_cast<double>(items.size()) + (title.empty() ? 0 : line);
    return {w + font * 1.6, h + font * 0.8};
}

/// Legend box with its top-left corner at (x, y).
inline void draw_legend(Canvas& cv, double x, double y, const std::vector<LegendItem>& items, double font,
                        const std::string& title = "") {
    const auto [w, h] = legend_size(items, font, title);
    cv.fill_rect(x, y, x + w, y + h, colors::white);
    cv.stroke_rect(x, y, x + w, y + h, colors::light_grey, 1);
    const double line = font * 1.9;
    double cy = y + font * 0.4 + line / 2;
    if (!title.empty()) {
        TextStyle st{font, colors::text, HAlign::left, VAlign::middle};
        st.bold = true;
        cv.text(x + font * 0.8, cy, title, st);
        cy += line;
    }
    for (const auto& it : items) {
        const double sx = x + font * 0.8, s = font;
        if (it.marker)
            cv.fill_circle(sx + s / 2, cy, s * 0.42, it.color);
        else {
            cv.fill_rect(std::round(sx), std::round(cy - s / 2), std::round(sx + s), std::round(cy + s / 2), it.color);
            cv.stroke_rect(std::round(sx), std::round(cy - s / 2), std::round(sx + s), std::round(cy + s / 2),
                           colors::dark_grey, 1);
        }
        cv.text(sx + s * 1.6, cy, it.label, TextStyle{font, colors::text, HAlign::left, VAlign::middle});
        cy += line;
    }
}

}  // namespace ichseg::render
