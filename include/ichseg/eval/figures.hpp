/// @file figures.hpp
/// @brief The paper's figures as PNG: Figure 3 (box plots of per-volume Dice per method, grouped by ICH volumes
/// and ICH subtype), Figure 4 (Welch-test p-value heatmaps, one panel per metric, annotated), Figure 5 (t-SNE of
/// the pooled bottleneck coloured by ICH presence, with one small panel per subtype). Each figure exists as a
/// generic renderer returning an Image (e.g. `render_grouped_boxplot`) and as a `write_figure*` convenience that
/// takes the evaluation's records and writes the PNG atomically.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/eval/stats.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/render/canvas.hpp"
#include "ichseg/render/plot.hpp"
#include "ichseg/render/png.hpp"

namespace ichseg::eval {

// The drawing vocabulary of the figures: the raster layer (render/) and the text formatter (io/text.hpp).
using io::format;
using render::Axes;
using render::Canvas;
using render::Color;
using render::draw_frame;
using render::draw_legend;
using render::draw_x_axis;
using render::draw_y_axis;
using render::HAlign;
using render::Image;
using render::legend_size;
using render::LegendItem;
using render::nice_ticks;
using render::palette;
using render::Rect;
using render::TextStyle;
using render::VAlign;
using render::viridis;
using render::write_png;
namespace colors = render::colors;

// =================================================================================================================
// Figure 3: grouped box plots
// =================================================================================================================

/// One group of boxes (e.g. "IPH"): one sample per series (method), same order as the spec's `series`.
struct BoxplotGroup {
    std::string label;
    std::vector<std::vector<double>> values;
};

struct GroupedBoxplotSpec {
    std::string title;
    std::string y_label = "Volume Dice [-]";
    std::vector<std::string> series;  ///< legend entries, one colour each
    std::vector<BoxplotGroup> groups;
    double ymin = 0, ymax = 1;
    double whis = 1.5;
    bool show_mean = true;    ///< white dot at the mean
    bool show_counts = true;  ///< "n = ..." under each group label
    int height = 760;
};

/// Box plots of several series side by side in each group, colours from palette(), legend at the right.
inline Image render_grouped_boxplot(const GroupedBoxplotSpec& spec) {
    const std::size_t S = spec.series.size(), G = spec.groups.size();
    ICHSEG_CHECK(S > 0 && G > 0, "render_grouped_boxplot(", spec.title, "): need at least one series and group");
    ICHSEG_CHECK(spec.ymax > spec.ymin, "render_grouped_boxplot(", spec.title, "): empty y range [", spec.ymin,
                 ", ", spec.ymax, "]");
    for (const auto& g : spec.groups)
        ICHSEG_CHECK(g.values.size() == S, "render_grouped_boxplot(", spec.title, "): group '", g.label, "' has ",
                     g.values.size(), " samples for ", S, " series");
    const double font = 14, box_w = S > 6 ? 15 : 24, box_gap = 5, group_pad = 28;
    const double group_w = S * box_w + (S - 1) * box_gap + 2 * group_pad;
    std::vector<LegendItem> legend;
    for (std::size_t s = 0; s < S; ++s) legend.push_back({spec.series[s], palette(s)});
    const auto [lw, lh] = legend_size(legend, font, "Method");
    const double left = 100, top = 70, right = lw + 40, bottom = spec.show_counts ? 86 : 64;
    const int W = static_cast<int>(std::ceil(left + G * group_w + right));
    const int H = std::max(spec.height, static_cast<int>(top + lh + 40));
    Canvas cv(W, H);
    Axes ax;
    ax.px = {left, top, left + G * group_w, H - bottom};
    ax.xmin = 0;
    ax.xmax = static_cast<double>(G);
    ax.ymin = spec.ymin;
    ax.ymax = spec.ymax;
    for (std::size_t g = 0; g < G; ++g)  // alternate light bands to separate the groups
        if (g % 2 == 1) cv.fill_rect(ax.X(g), ax.px.y0, ax.X(g + 1), ax.px.y1, Color{246, 246, 246});
    draw_y_axis(cv, ax, nice_ticks(spec.ymin, spec.ymax, 6), spec.y_label, font);
    for (std::size_t g = 0; g < G; ++g) {
        const auto& grp = spec.groups[g];
        std::size_t n_max = 0;
        for (std::size_t s = 0; s < S; ++s) {
            const BoxStats b = box_stats(grp.values[s], spec.whis);
            n_max = std::max(n_max, b.n);
            if (b.n == 0) continue;
            const Color c = palette(s);
            const double x0 = std::round(ax.X(g) + group_pad + s * (box_w + box_gap)), x1 = x0 + box_w,
                         xc = (x0 + x1) / 2;
            auto Y = [&](double v) { return std::round(ax.Y(std::clamp(v, spec.ymin, spec.ymax))); };
            // whiskers and caps
            cv.fill_rect(std::floor(xc), Y(b.whisker_hi), std::floor(xc) + 1, Y(b.q3), colors::dark_grey);
            cv.fill_rect(std::floor(xc), Y(b.q1), std::floor(xc) + 1, Y(b.whisker_lo) + 1, colors::dark_grey);
            cv.fill_rect(x0 + box_w / 4, Y(b.whisker_hi), x1 - box_w / 4, Y(b.whisker_hi) + 1, colors::dark_grey);
            cv.fill_rect(x0 + box_w / 4, Y(b.whisker_lo), x1 - box_w / 4, Y(b.whisker_lo) + 1, colors::dark_grey);
            // box (at least 2 px tall so a zero-IQR box stays visible)
            double yb0 = Y(b.q3), yb1 = Y(b.q1) + 1;
            if (yb1 - yb0 < 2) yb1 = yb0 + 2;
            cv.fill_rect(x0, yb0, x1, yb1, c, 0.85);
            cv.stroke_rect(x0, yb0, x1, yb1, colors::dark_grey, 1);
            cv.fill_rect(x0, Y(b.median) - 1, x1, Y(b.median) + 1, colors::black);
            if (spec.show_mean) {
                cv.fill_circle(xc, ax.Y(b.mean), 2.8, colors::white);
                cv.stroke_circle(xc, ax.Y(b.mean), 2.8, colors::black, 1);
            }
            for (double o : b.outliers) cv.stroke_circle(xc, ax.Y(o), 3, c, 1.5);
        }
        TextStyle st{font, colors::text, HAlign::center, VAlign::top};
        st.bold = true;
        cv.text(ax.X(g + 0.5), ax.px.y1 + 12, grp.label, st);
        if (spec.show_counts)
            cv.text(ax.X(g + 0.5), ax.px.y1 + 12 + font * 1.8, format("n = %zu", n_max),
                    TextStyle{font * 0.9, colors::dark_grey, HAlign::center, VAlign::top});
    }
    draw_frame(cv, ax);
    TextStyle ts{font * 1.45, colors::text, HAlign::center, VAlign::baseline};
    ts.bold = true;
    cv.text(ax.px.cx(), top - 28, spec.title, ts);
    draw_legend(cv, ax.px.x1 + 22, ax.px.y0, legend, font, "Method");
    return cv.image();
}

/// Figure 3 groups from the evaluation records: "ICH volumes", then EDH, IPH, IVH, SAH, SDH (and optionally
/// "All volumes" first), one sample of per-volume values of `metric` per method.
inline GroupedBoxplotSpec figure3_spec(const std::string& title, const std::vector<MethodResults>& methods,
                                       bool include_all_volumes = false, Metric metric = Metric::dice) {
    GroupedBoxplotSpec spec;
    spec.title = title;
    spec.y_label = std::string("Volume ") + metric_name(metric) + " [-]";
    for (const auto& m : methods) spec.series.push_back(m.method);
    auto add = [&](const std::string& label, const VolumeFilter& f) {
        BoxplotGroup g{label, {}};
        for (const auto& m : methods) g.values.push_back(metric_values(m.volumes, metric, f));
        spec.groups.push_back(std::move(g));
    };
    if (include_all_volumes) add("All volumes", all_volumes());
    add("ICH volumes", ich_volumes());
    for (const auto& st : subtypes()) add(st.abbrev, with_subtype(st.bit));
    return spec;
}

/// Write Figure 3 for one dataset.
inline void write_figure3(const std::string& path, const std::string& title, const std::vector<MethodResults>& methods,
                          bool include_all_volumes = false) {
    write_png(path, render_grouped_boxplot(figure3_spec(title, methods, include_all_volumes)));
}

// =================================================================================================================
// Figure 4: p-value heatmaps
// =================================================================================================================

/// One heatmap: a square matrix of p-values (rows/columns = the spec's names), e.g. one metric.
struct PValuePanel {
    std::string title;
    std::vector<std::vector<double>> p;
};

struct PValueHeatmapSpec {
    std::string title;
    std::vector<std::string> names;
    std::vector<PValuePanel> panels;
    double p_floor = 1e-4;  ///< colour scale is log10(p) on [p_floor, 1]
    double alpha = 0.05;    ///< significance level: annotations of p < alpha are bold
    double cell = 66;       ///< cell size in pixels (66 fits "0.049" in bold at the crisp 14 px font)
};

/// Cell annotation of a p-value: "0.43", "0.012", "<.001", "n/a".
inline std::string format_pvalue(double p) {
    if (!std::isfinite(p)) return "n/a";
    if (p < 0.001) return "<.001";
    if (p < 0.1) return format("%.3f", p);
    return format("%.2f", p);
}

/// Colour of a p-value on the heatmap scale (viridis on log10 p: p = 1 dark, p <= p_floor bright).
inline Color pvalue_color(double p, double p_floor) {
    if (!std::isfinite(p)) return colors::light_grey;
    const double t = std::log10(std::max(p, p_floor)) / std::log10(p_floor);
    return viridis(std::clamp(t, 0.0, 1.0));
}

inline Image render_pvalue_heatmaps(const PValueHeatmapSpec& spec) {
    const std::size_t M = spec.names.size(), P = spec.panels.size();
    ICHSEG_CHECK(M >= 2 && P >= 1, "render_pvalue_heatmaps(", spec.title, "): need >= 2 names and >= 1 panel, got ",
                 M, " and ", P);
    ICHSEG_CHECK(spec.p_floor > 0 && spec.p_floor < 1, "render_pvalue_heatmaps: p_floor must lie in (0, 1), got ",
                 spec.p_floor);
    for (const auto& pn : spec.panels) {
        ICHSEG_CHECK(pn.p.size() == M, "render_pvalue_heatmaps(", spec.title, "): panel '", pn.title, "' has ",
                     pn.p.size(), " rows for ", M, " names");
        for (const auto& row : pn.p)
            ICHSEG_CHECK(row.size() == M, "render_pvalue_heatmaps(", spec.title, "): panel '", pn.title,
                         "' has a row of ", row.size(), " values for ", M, " names");
    }
    const double font = 14, cell = spec.cell, cell_font = std::min(14.0, std::floor((cell - 4) / 4.3));
    double name_w = 0;
    for (const auto& n : spec.names) name_w = std::max(name_w, Canvas::text_width(n, font));
    const double panel_w = cell * M, gap = 40, left = name_w + 30, top = 110, col_label_h = name_w + 24;
    const double cbar_w = 24, right = 200;
    const int W = static_cast<int>(std::ceil(left + P * panel_w + (P - 1) * gap + right));
    const int H = static_cast<int>(std::ceil(top + panel_w + col_label_h + 20));
    Canvas cv(W, H);
    TextStyle ts{font * 1.45, colors::text, HAlign::center, VAlign::baseline};
    ts.bold = true;
    cv.text(W / 2.0, 44, spec.title, ts);
    cv.text(W / 2.0, 72, "Two-sided Welch t-test p-values between methods (row vs column)",
            TextStyle{font, colors::dark_grey, HAlign::center, VAlign::baseline});
    for (std::size_t k = 0; k < P; ++k) {
        const double px0 = std::round(left + k * (panel_w + gap)), py0 = top;
        TextStyle pt{font * 1.15, colors::text, HAlign::center, VAlign::baseline};
        pt.bold = true;
        cv.text(px0 + panel_w / 2, py0 - 12, spec.panels[k].title, pt);
        for (std::size_t i = 0; i < M; ++i)
            for (std::size_t j = 0; j < M; ++j) {
                const double x0 = px0 + j * cell, y0 = py0 + i * cell;
                if (i == j) {
                    cv.fill_rect(x0, y0, x0 + cell, y0 + cell, Color{235, 235, 235});
                    continue;
                }
                const double p = spec.panels[k].p[i][j];
                const Color c = pvalue_color(p, spec.p_floor);
                cv.fill_rect(x0, y0, x0 + cell, y0 + cell, c);
                const bool sig = std::isfinite(p) && p < spec.alpha;
                TextStyle ct{cell_font, c.luminance() > 0.5 ? colors::black : colors::white, HAlign::center,
                             VAlign::middle};
                ct.bold = sig;
                cv.text(x0 + cell / 2, y0 + cell / 2, format_pvalue(p), ct);
            }
        for (std::size_t i = 0; i <= M; ++i) {  // cell grid
            cv.fill_rect(px0 + i * cell, py0, px0 + i * cell + 1, py0 + panel_w, colors::white);
            cv.fill_rect(px0, py0 + i * cell, px0 + panel_w, py0 + i * cell + 1, colors::white);
        }
        for (std::size_t i = 0; i < M; ++i) {  // column labels, rotated
            TextStyle cl{font, colors::text, HAlign::right, VAlign::middle};
            cl.vertical = true;
            cv.text(px0 + (i + 0.5) * cell, py0 + panel_w + 10, spec.names[i], cl);
        }
        if (k == 0)
            for (std::size_t i = 0; i < M; ++i)
                cv.text(px0 - 10, py0 + (i + 0.5) * cell, spec.names[i],
                        TextStyle{font, colors::text, HAlign::right, VAlign::middle});
    }
    // colour bar on a log scale
    const double cx0 = std::round(left + P * panel_w + (P - 1) * gap + 30), cy0 = top, cy1 = top + panel_w;
    const double lf = std::log10(spec.p_floor);
    for (int y = static_cast<int>(cy0); y < static_cast<int>(cy1); ++y) {
        const double t = (y + 0.5 - cy0) / (cy1 - cy0);  // top = p_floor (bright), bottom = 1
        cv.fill_rect(cx0, y, cx0 + cbar_w, y + 1, viridis(1 - t));
    }
    cv.stroke_rect(cx0 - 1, cy0 - 1, cx0 + cbar_w + 1, cy1 + 1, colors::axis, 1);
    for (double p : {1.0, 0.1, spec.alpha, 0.01, 0.001, 1e-4, 1e-5, 1e-6}) {
        if (p < spec.p_floor * 0.999) continue;
        const double y = std::round(cy0 + (1 - std::log10(p) / lf) * (cy1 - cy0));
        cv.fill_rect(cx0 + cbar_w, y, cx0 + cbar_w + 6, y + 1, colors::axis);
        std::string lab = p >= 0.01 ? format("%g", p) : format("1e%d", static_cast<int>(std::lround(std::log10(p))));
        if (p == spec.alpha) cv.fill_rect(cx0 - 4, y, cx0 + cbar_w + 6, y + 2, colors::white);
        cv.text(cx0 + cbar_w + 10, y + 0.5, lab, TextStyle{font * 0.9, colors::text, HAlign::left, VAlign::middle});
    }
    TextStyle cb{font, colors::text, HAlign::left, VAlign::baseline};
    cb.bold = true;
    cv.text(cx0, cy0 - 12, "p-value", cb);
    cv.text(cx0, cy1 + 12, format("bold: p < %g", spec.alpha),
            TextStyle{font * 0.9, colors::dark_grey, HAlign::left, VAlign::top});
    return cv.image();
}

/// Figure 4 for one dataset: pairwise Welch tests of Dice, Precision and Recall between the methods over the
/// selected volumes, one panel per metric.
inline PValueHeatmapSpec figure4_spec(const std::string& title, const std::vector<MethodResults>& methods,
                                      const VolumeFilter& keep = all_volumes()) {
    PValueHeatmapSpec spec;
    spec.title = title;
    for (const auto& m : methods) spec.names.push_back(m.method);
    for (Metric m : all_metrics()) spec.panels.push_back({metric_name(m), pairwise_welch(methods, m, keep).p});
    return spec;
}

inline void write_figure4(const std::string& path, const std::string& title, const std::vector<MethodResults>& methods,
                          const VolumeFilter& keep = all_volumes()) {
    write_png(path, render_pvalue_heatmaps(figure4_spec(title, methods, keep)));
}

// =================================================================================================================
// Figure 5: t-SNE scatter plots
// =================================================================================================================

/// Data of one t-SNE figure: the 2-D embedding (n × 2 row-major) and per point its labels.
struct TsneFigureSpec {
    std::string title;
    std::vector<double> xy;
    std::vector<bool> has_ich;
    std::vector<uint32_t> subtypes;  ///< Subtype bits per point (may be empty: no subtype panels)
    Color ich_color = Color::hex(0xe34a33), no_ich_color = Color::hex(0x2ca25f);
    Color present_color = Color::hex(0xf28e2b), absent_color = Color{205, 205, 205};
    double point_radius = 0;  ///< 0 = automatic from n
    double point_alpha = 0.55;
};

namespace detail {
/// Equal-aspect axes covering the points with 5% padding inside a square pixel rectangle.
inline Axes tsne_axes(const std::vector<double>& xy, Rect px) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (std::size_t i = 0; i + 1 < xy.size(); i += 2) {
        x0 = std::min(x0, xy[i]);
        x1 = std::max(x1, xy[i]);
        y0 = std::min(y0, xy[i + 1]);
        y1 = std::max(y1, xy[i + 1]);
    }
    const double span = std::max({x1 - x0, y1 - y0, 1e-12}) * 1.1;
    const double aspect = px.width() / px.height();
    Axes ax;
    ax.px = px;
    const double sx = aspect >= 1 ? span * aspect : span, sy = aspect >= 1 ? span : span / aspect;
    ax.xmin = (x0 + x1) / 2 - sx / 2;
    ax.xmax = (x0 + x1) / 2 + sx / 2;
    ax.ymin = (y0 + y1) / 2 - sy / 2;
    ax.ymax = (y0 + y1) / 2 + sy / 2;
    return ax;
}
}  // namespace detail

inline Image render_tsne_figure(const TsneFigureSpec& spec) {
    const std::size_t n = spec.xy.size() / 2;
    ICHSEG_CHECK(n > 0 && spec.xy.size() == 2 * n, "render_tsne_figure(", spec.title,
                 "): the embedding needs n × 2 coordinates, got ", spec.xy.size(), " values");
    ICHSEG_CHECK(spec.has_ich.size() == n, "render_tsne_figure(", spec.title, "): ", spec.has_ich.size(),
                 " ICH labels for ", n, " points");
    ICHSEG_CHECK(spec.subtypes.empty() || spec.subtypes.size() == n, "render_tsne_figure(", spec.title, "): ",
                 spec.subtypes.size(), " subtype labels for ", n, " points");
    for (double v : spec.xy)
        ICHSEG_CHECK(std::isfinite(v), "render_tsne_figure(", spec.title, "): non-finite embedding coordinate");
    const bool sub = !spec.subtypes.empty();
    const double font = 14;
    const double r = spec.point_radius > 0 ? spec.point_radius : (n > 3000 ? 1.8 : n > 800 ? 2.4 : 3.2);
    const double small = 250, gap = 34, left = 60;
    const int W = static_cast<int>(left * 2 + 5 * small + 4 * gap);
    const double main = 560, top = 80;
    const int H = static_cast<int>(top + main + 40 + (sub ? small + 120 : 20));
    Canvas cv(W, H);
    TextStyle ts{font * 1.45, colors::text, HAlign::center, VAlign::baseline};
    ts.bold = true;
    cv.text(W / 2.0, 44, spec.title, ts);

    // main panel: ICH vs no ICH, drawn in a fixed shuffled order so neither class hides the other
    const double mx0 = std::round((W - main) / 2 - 60);
    Axes ax = detail::tsne_axes(spec.xy, {mx0, top, mx0 + main, top + main});
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i) {
        const std::size_t j = random_u32(0, 0x66696735ull /* "fig5" */, i) % i;
        std::swap(order[i - 1], order[j]);
    }
    std::size_t n_ich = 0;
    for (std::size_t i : order) {
        n_ich += spec.has_ich[i];
        cv.fill_circle(ax.X(spec.xy[2 * i]), ax.Y(spec.xy[2 * i + 1]), r,
                       spec.has_ich[i] ? spec.ich_color : spec.no_ich_color, spec.point_alpha);
    }
    draw_frame(cv, ax);
    cv.text(ax.px.cx(), ax.px.y1 + 10, "t-SNE 1", TextStyle{font, colors::text, HAlign::center, VAlign::top});
    TextStyle yl{font, colors::text, HAlign::center, VAlign::bottom};
    yl.vertical = true;
    cv.text(ax.px.x0 - 10, ax.px.cy(), "t-SNE 2", yl);
    draw_legend(cv, ax.px.x1 + 24, ax.px.y0,
                {{format("No ICH (n = %zu)", n - n_ich), spec.no_ich_color, true},
                 {format("ICH (n = %zu)", n_ich), spec.ich_color, true}},
                font, "Slice label");

    if (sub) {  // one panel per subtype: absent in grey first, present in colour on top
        const double sy0 = top + main + 70;
        for (std::size_t k = 0; k < subtypes().size(); ++k) {
            const auto& st = subtypes()[k];
            const double sx0 = left + k * (small + gap);
            Axes sa = detail::tsne_axes(spec.xy, {sx0, sy0, sx0 + small, sy0 + small});
            std::size_t cnt = 0;
            for (std::size_t i = 0; i < n; ++i)
                if (!(spec.subtypes[i] & st.bit))
                    cv.fill_circle(sa.X(spec.xy[2 * i]), sa.Y(spec.xy[2 * i + 1]), r * 0.8, spec.absent_color,
                                   spec.point_alpha);
            for (std::size_t i = 0; i < n; ++i)
                if (spec.subtypes[i] & st.bit) {
                    ++cnt;
                    cv.fill_circle(sa.X(spec.xy[2 * i]), sa.Y(spec.xy[2 * i + 1]), r * 0.8, spec.present_color,
                                   std::min(1.0, spec.point_alpha + 0.2));
                }
            draw_frame(cv, sa);
            TextStyle pt{font, colors::text, HAlign::center, VAlign::baseline};
            pt.bold = true;
            cv.text(sa.px.cx(), sa.px.y0 - 10, format("%s (n = %zu)", st.abbrev, cnt), pt);
        }
        const double ly = sy0 + small + 24;
        const std::vector<LegendItem> items{{"type present", spec.present_color, true},
                                            {"type absent", spec.absent_color, true}};
        // a one-row legend under the subtype panels
        double total = 0;
        for (const auto& it : items) total += font * 1.2 + Canvas::text_width(it.label, font) + 40;
        double x = W / 2.0 - (total - 40) / 2;
        for (const auto& it : items) {
            cv.fill_circle(x, ly + font / 2, font * 0.42, it.color);
            x += font * 1.2;
            x += cv.text(x, ly + font / 2, it.label, TextStyle{font, colors::text, HAlign::left, VAlign::middle}) + 40;
        }
        cv.text(W / 2.0, ly + font * 2.6, "EDH epidural, IPH intraparenchymal, IVH intraventricular, "
                                          "SAH subarachnoid, SDH subdural",
                TextStyle{font * 0.9, colors::dark_grey, HAlign::center, VAlign::top});
    }
    return cv.image();
}

inline void write_figure5(const std::string& path, const TsneFigureSpec& spec) {
    write_png(path, render_tsne_figure(spec));
}

}  // namespace ichseg::eval
