/// @file budget_figure.hpp
/// @brief The label-budget figure as PNG (study/budget.hpp): mean volume Dice against the number of labelled
/// training volumes (log2 axis). A first panel shows every method's means; then one panel per method shows it
/// against the reference (Mixed), each with its confidence band as a translucent area (eight overlapping bands in
/// one panel cannot be read). The "all volumes" point is a square; points where the method differs from the
/// reference (Welch p < 0.05) are filled diamonds.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/render/canvas.hpp"
#include "ichseg/render/plot.hpp"
#include "ichseg/render/png.hpp"

namespace ichseg::eval {

struct BudgetCurvePoint {
    double volumes = 0;        ///< labelled training volumes (x)
    double mean = 0;           ///< mean volume Dice in [0, 1]
    double lo = 0, hi = 0;     ///< band (NaN: none)
    bool all = false;          ///< the "all training volumes" point
    bool differs = false;      ///< significantly different from the reference method
};

struct BudgetCurve {
    std::string label;
    std::vector<BudgetCurvePoint> points;
};

struct BudgetFigureSpec {
    std::string title;
    std::vector<BudgetCurve> curves;
    std::string y_label = "Mean volume Dice [%]";
    std::string x_label = "Labelled training volumes (log scale)";
};

namespace detail {

/// One panel: x = log2(volumes) over [lx0, lx1], y = Dice in % over [0, 100].
inline void budget_panel(render::Canvas& cv, const render::Rect& px, double lx0, double lx1, const std::string& title,
                         const std::vector<std::pair<const BudgetCurve*, render::Color>>& curves, bool bands,
                         double font) {
    using namespace render;
    Axes ax;
    ax.px = px;
    ax.xmin = lx0;
    ax.xmax = lx1;
    ax.ymin = 0;
    ax.ymax = 100;
    draw_y_axis(cv, ax, nice_ticks(0, 100, 5), "", font);
    for (double e = std::ceil(lx0); e <= lx1; e += 1) {
        const double x = std::round(ax.X(e));
        cv.fill_rect(x, ax.px.y0, x + 1, ax.px.y1, colors::grid);
        cv.fill_rect(x, ax.px.y1, x + 1, ax.px.y1 + 5, colors::axis);
        cv.text(x + 0.5, ax.px.y1 + 8, io::format("%.0f", std::pow(2.0, e)),
                TextStyle{font, colors::text, HAlign::center, VAlign::top});
    }
    TextStyle tt{font * 1.1, colors::text, HAlign::center, VAlign::baseline};
    tt.bold = true;
    cv.text(ax.px.cx(), ax.px.y0 - 8, title, tt);
    for (const auto& [curve, col] : curves) {
        std::vector<BudgetCurvePoint> pts = curve->points;
        std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.volumes < b.volumes; });
        if (bands)  // vertical 1-px strips between the linearly interpolated lower and upper limits
            for (size_t k = 0; k + 1 < pts.size(); ++k) {
                const auto &a = pts[k], &b = pts[k + 1];
                if (!std::isfinite(a.lo) || !std::isfinite(b.lo)) continue;
                const double xa = ax.X(std::log2(a.volumes)), xb = ax.X(std::log2(b.volumes));
                for (double x = std::floor(xa); x < xb; x += 1) {
                    const double t = std::clamp((x + 0.5 - xa) / std::max(1e-9, xb - xa), 0.0, 1.0);
                    const double lo = std::max(0.0, (a.lo + t * (b.lo - a.lo)) * 100);
                    const double hi = std::min(100.0, (a.hi + t * (b.hi - a.hi)) * 100);
                    cv.fill_rect(x, ax.Y(hi), x + 1, ax.Y(lo), col, 0.18);
                }
            }
        std::vector<double> xs, ys;
        for (const auto& p : pts) {
            xs.push_back(ax.X(std::log2(p.volumes)));
            ys.push_back(ax.Y(p.mean * 100));
        }
        cv.polyline(xs, ys, col, 2.2);
        for (size_t k = 0; k < pts.size(); ++k) {
            const auto m = pts[k].all ? Canvas::Marker::square
                                      : pts[k].differs ? Canvas::Marker::diamond : Canvas::Marker::circle;
            cv.marker(m, xs[k], ys[k], pts[k].differs || pts[k].all ? 5.5 : 4, col);
        }
    }
    draw_frame(cv, ax);
}

}  // namespace detail

/// A grid of panels: the first shows every curve's means; then one panel per curve other than the reference
/// (`reference`, e.g. "U-Net mixed"), that curve and the reference with their bands.
inline render::Image render_budget_figure(const BudgetFigureSpec& spec, const std::string& reference = "U-Net mixed") {
    using namespace render;
    ICHSEG_CHECK(!spec.curves.empty(), "render_budget_figure(", spec.title, "): no curve");
    double xmin = 1e300, xmax = 0;
    const BudgetCurve* ref = nullptr;
    for (const auto& c : spec.curves) {
        if (c.label == reference) ref = &c;
        for (const auto& p : c.points) {
            ICHSEG_CHECK(p.volumes > 0 && std::isfinite(p.mean), "render_budget_figure(", spec.title, "): point of '",
                         c.label, "' at ", p.volumes, " volumes has no finite mean");
            xmin = std::min(xmin, p.volumes);
            xmax = std::max(xmax, p.volumes);
        }
    }
    const double lx0 = std::floor(std::log2(xmin)) - 0.3, lx1 = std::ceil(std::log2(std::max(xmax, 2 * xmin))) + 0.3;
    const double font = 12;
    std::vector<size_t> others;
    for (size_t i = 0; i < spec.curves.size(); ++i)
        if (&spec.curves[i] != ref) others.push_back(i);
    const size_t panels = 1 + (ref ? others.size() : 0);
    const size_t cols = std::min<size_t>(4, panels), rows = (panels + cols - 1) / cols;
    const double pw = 300, ph = 230, gx = 70, gy = 80, left = 80, top = 90;
    std::vector<LegendItem> items;  // the reference in dark grey; the others in the palette without its grey (7)
    for (size_t i = 0, k = 0; i < spec.curves.size(); ++i) {
        if (&spec.curves[i] == ref) {
            items.push_back({spec.curves[i].label, colors::dark_grey, true});
            continue;
        }
        const size_t colour = k < 7 ? k : k + 1;
        ++k;
        items.push_back({spec.curves[i].label, palette(colour), true});
    }
    const auto [lw, lh] = legend_size(items, font, "Method");
    const int W = static_cast<int>(left + cols * pw + (cols - 1) * gx + 40 + std::max(lw, 230.0) + 30);
    const int H = static_cast<int>(top + rows * ph + (rows - 1) * gy + 90);
    Canvas cv(W, H);
    TextStyle ts{font * 1.6, colors::text, HAlign::center, VAlign::baseline};
    ts.bold = true;
    cv.text(W / 2.0, 36, spec.title, ts);
    auto panel_rect = [&](size_t k) {
        const double x0 = left + static_cast<double>(k % cols) * (pw + gx), y0 = top + static_cast<double>(k / cols) * (ph + gy);
        return Rect{x0, y0, x0 + pw, y0 + ph};
    };
    std::vector<std::pair<const BudgetCurve*, Color>> all;
    for (size_t i = 0; i < spec.curves.size(); ++i) all.push_back({&spec.curves[i], items[i].color});
    detail::budget_panel(cv, panel_rect(0), lx0, lx1, "All methods (means)", all, false, font);
    if (ref)
        for (size_t k = 0; k < others.size(); ++k) {
            const size_t i = others[k];
            detail::budget_panel(cv, panel_rect(k + 1), lx0, lx1, spec.curves[i].label,
                                 {{ref, colors::dark_grey}, {&spec.curves[i], items[i].color}}, true, font);
        }
    TextStyle yl{font * 1.1, colors::text, HAlign::center, VAlign::bottom};
    yl.vertical = true;
    cv.text(24, top + (rows * ph + (rows - 1) * gy) / 2, spec.y_label, yl);
    cv.text(left + (cols * pw + (cols - 1) * gx) / 2, H - 30, spec.x_label,
            TextStyle{font * 1.1, colors::text, HAlign::center, VAlign::top});
    const double lx = left + cols * pw + (cols - 1) * gx + 40;
    draw_legend(cv, lx, top, items, font, "Method");
    const std::vector<std::string> notes{"panels 2-" + std::to_string(panels) + ": the method (colour)",
                                         "and " + reference + " (grey)", "bands: 95% CI of the mean",
                                         "over test volumes", "diamond: Welch p < 0.05",
                                         "against " + reference, "square: all volumes"};
    double ny = top + lh + 14;
    for (const std::string& n : notes) {
        cv.text(lx, ny, n, TextStyle{font * 0.95, colors::dark_grey, HAlign::left, VAlign::top});
        ny += font * 1.6;
    }
    return cv.image();
}

inline void write_budget_figure(const std::string& path, const BudgetFigureSpec& spec) {
    render::write_png(path, render_budget_figure(spec));
}

}  // namespace ichseg::eval
