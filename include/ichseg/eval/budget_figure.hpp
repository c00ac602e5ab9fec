/// @file budget_figure.hpp
/// @brief The label-budget figure as PNG (study/budget.hpp): mean volume Dice against the number of labelled
/// training volumes (log2 axis), one line per method with its confidence band drawn as a translucent area, the
/// "all volumes" point marked with a square, and points where the method differs from Mixed (Welch p < 0.05)
/// drawn as filled diamonds.
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
    std::string y_label = "Mean volume Dice [%] (95% CI over volumes)";
    std::string x_label = "Labelled training volumes (log scale; square: all)";
};

inline render::Image render_budget_figure(const BudgetFigureSpec& spec) {
    using namespace render;
    ICHSEG_CHECK(!spec.curves.empty(), "render_budget_figure(", spec.title, "): no curve");
    double xmin = 1e300, xmax = 0;
    for (const auto& c : spec.curves)
        for (const auto& p : c.points) {
            ICHSEG_CHECK(p.volumes > 0 && std::isfinite(p.mean), "render_budget_figure(", spec.title, "): point of '",
                         c.label, "' at ", p.volumes, " volumes has no finite mean");
            xmin = std::min(xmin, p.volumes);
            xmax = std::max(xmax, p.volumes);
        }
    const double lx0 = std::floor(std::log2(xmin)) - 0.3, lx1 = std::ceil(std::log2(std::max(xmax, 2 * xmin))) + 0.3;
    const double font = 14;
    const int W = 1200, H = 720;
    Canvas cv(W, H);
    TextStyle ts{font * 1.4, colors::text, HAlign::center, VAlign::baseline};
    ts.bold = true;
    cv.text(W / 2.0, 40, spec.title, ts);
    std::vector<LegendItem> items;
    for (size_t i = 0; i < spec.curves.size(); ++i) items.push_back({spec.curves[i].label, palette(i), true});
    const auto [lw, lh] = legend_size(items, font, "Method");
    Axes ax;
    ax.px = {100, 70, W - lw - 60, H - 90.0};
    ax.xmin = lx0;
    ax.xmax = lx1;
    ax.ymin = 0;
    ax.ymax = 100;
    draw_y_axis(cv, ax, nice_ticks(0, 100, 6), spec.y_label, font);
    // x ticks at powers of two, labelled with the volume count
    for (double e = std::ceil(lx0); e <= lx1; e += 1) {
        const double x = std::round(ax.X(e));
        cv.fill_rect(x, ax.px.y0, x + 1, ax.px.y1, colors::grid);
        cv.fill_rect(x, ax.px.y1, x + 1, ax.px.y1 + 6, colors::axis);
        cv.text(x + 0.5, ax.px.y1 + 10, io::format("%.0f", std::pow(2.0, e)),
                TextStyle{font, colors::text, HAlign::center, VAlign::top});
    }
    cv.text(ax.px.cx(), ax.px.y1 + 40, spec.x_label, TextStyle{font * 1.1, colors::text, HAlign::center, VAlign::top});
    for (size_t i = 0; i < spec.curves.size(); ++i) {
        std::vector<BudgetCurvePoint> pts = spec.curves[i].points;
        std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.volumes < b.volumes; });
        const Color col = palette(i);
        // band: vertical 1-px strips between the linearly interpolated lower and upper limits
        for (size_t k = 0; k + 1 < pts.size(); ++k) {
            const auto &a = pts[k], &b = pts[k + 1];
            if (!std::isfinite(a.lo) || !std::isfinite(b.lo)) continue;
            const double xa = ax.X(std::log2(a.volumes)), xb = ax.X(std::log2(b.volumes));
            for (double x = std::floor(xa); x < xb; x += 1) {
                const double t = std::clamp((x + 0.5 - xa) / std::max(1e-9, xb - xa), 0.0, 1.0);
                const double lo = std::max(0.0, (a.lo + t * (b.lo - a.lo)) * 100);
                const double hi = std::min(100.0, (a.hi + t * (b.hi - a.hi)) * 100);
                cv.fill_rect(x, ax.Y(hi), x + 1, ax.Y(lo), col, 0.12);
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
    draw_legend(cv, ax.px.x1 + 24, ax.px.y0, items, font, "Method");
    cv.text(ax.px.x1 + 24, ax.px.y0 + lh + 16, "diamond: Welch p < 0.05",
            TextStyle{font * 0.9, colors::dark_grey, HAlign::left, VAlign::top});
    cv.text(ax.px.x1 + 24, ax.px.y0 + lh + 36, "against U-Net mixed",
            TextStyle{font * 0.9, colors::dark_grey, HAlign::left, VAlign::top});
    return cv.image();
}

inline void write_budget_figure(const std::string& path, const BudgetFigureSpec& spec) {
    render::write_png(path, render_budget_figure(spec));
}

}  // namespace ichseg::eval
