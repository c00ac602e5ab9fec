/// @file test_figures.cpp (tests)
/// @brief Figures 3–5 and their building blocks: box-plot statistics against a hand computation (matplotlib's
/// conventions), tick choice, and the three figure functions producing valid, non-blank PNGs with the expected
/// colours. The PNGs stay in <build>/tests/eval_output/figures/ to be looked at.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "eval_test_util.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/eval/figures.hpp"
#include "ichseg/eval/tsne.hpp"
#include "ichseg/render/plot.hpp"
#include "support/errors.hpp"

using namespace ichseg;
using namespace ichseg::eval;

namespace {
const std::vector<std::string> kMethods = {"Multi-label classification (DL)", "Multi-label classification (CE)",
                                           "Binary classification", "Local contrastive", "Global contrastive",
                                           "Context restoration", "U-Net 2D mixed + ICM", "U-Net 2D mixed",
                                           "U-Net 2D ICH-only + ICM", "U-Net 2D ICH-only"};

/// 75 synthetic PhysioNet-like volumes per method (36 with ICH, subtypes spread), skill decreasing with index.
std::vector<MethodResults> synthetic_results() {
    std::vector<MethodResults> out;
    for (std::size_t m = 0; m < kMethods.size(); ++m) {
        MethodResults r{kMethods[m], {}};
        for (int v = 0; v < 75; ++v) {
            VolumeResult vr;
            vr.case_id = std::to_string(49 + v);
            vr.fold = v % 10;
            vr.has_ich = v < 36;
            if (vr.has_ich) vr.subtypes = (1u << (v % 5)) | (v % 7 == 0 ? uint32_t(IPH) : 0u);
            const double skill = 0.65 - 0.03 * static_cast<double>(m);
            const int64_t ref = vr.has_ich ? 2000 + (v * 137) % 5000 : 0;
            const double u = random_uniform(7, m * 100 + v, 0);
            const int64_t tp = static_cast<int64_t>(ref * std::clamp(skill + 0.5 * (u - 0.5), 0.0, 1.0));
            const int64_t fp = static_cast<int64_t>(3000 * (1 - skill) * random_uniform(7, m * 100 + v, 1) *
                                                    (random_uniform(7, m * 100 + v, 2) < 0.5 ? 0.01 : 1.0));
            vr.counts = {tp, fp, ref - tp, 1000000};
            vr.n_slices = 30;
            r.volumes.push_back(vr);
        }
        out.push_back(r);
    }
    return out;
}

/// Number of pixels equal to colour c.
std::size_t count_colour(const test::DecodedPng& d, Color c) {
    std::size_t n = 0;
    for (std::size_t i = 0; i + 2 < d.rgb.size(); i += 3) n += d.rgb[i] == c.r && d.rgb[i + 1] == c.g && d.rgb[i + 2] == c.b;
    return n;
}
std::size_t count_non_white(const test::DecodedPng& d) { return d.rgb.size() / 3 - count_colour(d, colors::white); }
}  // namespace

TEST_CASE("box-plot statistics as matplotlib (linear quartiles, 1.5 IQR whiskers, outliers)", "[eval][figures]") {
    // sorted: 1 2 3 4 5 6 7 8 100; positions q*(n-1) = 2, 4, 6 -> Q1 = 3, median = 5, Q3 = 7 (exact order stats)
    // IQR 4 -> fences -3 and 13: whiskers at 1 and 8, 100 is an outlier. numpy.percentile gives the same.
    const BoxStats b = box_stats({5, 3, 100, 1, 8, 2, 7, 4, 6});
    CHECK(b.n == 9);
    CHECK(b.q1 == 3);
    CHECK(b.median == 5);
    CHECK(b.q3 == 7);
    CHECK(b.whisker_lo == 1);
    CHECK(b.whisker_hi == 8);
    CHECK(b.outliers == std::vector<double>{100});
    CHECK(b.mean == Approx(136.0 / 9).epsilon(1e-15));  // one rounded division of an exact sum
    // interpolated quartiles: [0, 1, 2, 10] -> positions 0.75, 1.5, 2.25 -> 0.75, 1.5, 4.0
    const BoxStats c = box_stats({0, 1, 2, 10});
    CHECK(c.q1 == Approx(0.75).epsilon(1e-15));
    CHECK(c.median == Approx(1.5).epsilon(1e-15));
    CHECK(c.q3 == Approx(4.0).epsilon(1e-15));
    CHECK(c.outliers == std::vector<double>{10});  // upper fence 4 + 1.5*3.25 = 8.875 < 10
    CHECK(c.whisker_hi == 4.0);  // no datum between Q3 and the fence: the whisker stays at Q3 (matplotlib)
    CHECK(c.whisker_lo == 0.0);
}

TEST_CASE("nice ticks and tick labels", "[eval][figures]") {
    const auto u = nice_ticks(0, 1, 6);  // multiples of 0.2, each one rounded product k * 0.2
    REQUIRE(u.size() == 6);
    for (int k = 0; k < 6; ++k) CHECK(u[k] == k * 0.2);
    const auto t = nice_ticks(0, 100, 6);
    CHECK(t.front() == 0);
    CHECK(t.back() == 100);
    CHECK(render::tick_label(0.4, 0.2) == "0.4");
    CHECK(render::tick_label(25, 25) == "25");
    CHECK(render::tick_label(0.05, 0.05) == "0.05");
    CHECK(format_pvalue(0.43) == "0.43");
    CHECK(format_pvalue(0.0123) == "0.012");
    CHECK(format_pvalue(0.0004) == "<.001");
    CHECK(format_pvalue(NAN) == "n/a");
}

TEST_CASE("Figure 3: Dice box plots per method and subtype", "[eval][figures]") {
    const auto res = synthetic_results();
    const std::string path = test::eval_output_dir("figures") + "/figure3_hssayeni.png";
    write_figure3(path, "Volume Dice on Hssayeni et al. (synthetic results)", res);
    const test::DecodedPng d = test::decode_png(test::read_file(path));
    INFO(d.error);
    REQUIRE(d.ok);
    CHECK(d.width > 1500);
    CHECK(d.height == 760);
    CHECK(count_non_white(d) > 50000);
    // the legend swatches are solid palette colours (boxes are blended at 0.85)
    for (std::size_t s = 0; s < kMethods.size(); ++s) CHECK(count_colour(d, palette(s)) >= 100);
    const auto spec = figure3_spec("t", res);
    REQUIRE(spec.groups.size() == 6);
    CHECK(spec.groups[0].label == "ICH volumes");
    CHECK(spec.groups[0].values[0].size() == 36);
    CHECK(spec.groups[1].label == "EDH");
    CHECK(figure3_spec("t", res, true).groups[0].values[0].size() == 75);
    GroupedBoxplotSpec bad = spec;
    bad.groups[2].values.pop_back();
    ICHSEG_REQUIRE_ERROR(render_grouped_boxplot(bad), {"group 'IPH'", "9 samples for 10 series"});
}

TEST_CASE("Figure 4: p-value heatmaps, one panel per metric", "[eval][figures]") {
    const auto res = synthetic_results();
    const std::string path = test::eval_output_dir("figures") + "/figure4_hssayeni_all.png";
    write_figure4(path, "Welch t-tests on Hssayeni et al., all volumes (synthetic results)", res);
    const test::DecodedPng d = test::decode_png(test::read_file(path));
    INFO(d.error);
    REQUIRE(d.ok);
    CHECK(d.width > 2000);
    const auto spec = figure4_spec("t", res, ich_volumes());
    REQUIRE(spec.panels.size() == 3);
    CHECK(spec.panels[1].title == "Precision");
    CHECK(spec.panels[0].p[0][0] == 1.0);
    // the most different pair (best vs worst method on Dice) is significant on these data, and its cell has the
    // colour of its p-value
    CHECK(spec.panels[0].p[0][9] < 0.05);
    const auto full = figure4_spec("t", res);
    CHECK(count_colour(d, pvalue_color(full.panels[0].p[0][9], 1e-4)) > 500);
    write_figure4(test::eval_output_dir("figures") + "/figure4_hssayeni_ich.png",
                  "Welch t-tests on Hssayeni et al., ICH volumes (synthetic results)", res, ich_volumes());
    CHECK(pvalue_color(1.0, 1e-4) == viridis(0));
    CHECK(pvalue_color(1e-9, 1e-4) == viridis(1));
    CHECK(pvalue_color(NAN, 1e-4) == colors::light_grey);
}

TEST_CASE("Figure 5: t-SNE scatter coloured by ICH and subtype", "[eval][figures]") {
    // 6 groups of 64-d features: no ICH, then one group per subtype
    const int64_t n = 600, d = 64;
    std::vector<float> X(static_cast<std::size_t>(n * d));
    std::vector<bool> ich(n);
    std::vector<uint32_t> sub(n);
    for (int64_t i = 0; i < n; ++i) {
        const int c = static_cast<int>(i % 6);
        ich[i] = c > 0;
        sub[i] = c > 0 ? (1u << (c - 1)) : 0u;
        for (int64_t k = 0; k < d; ++k)
            X[i * d + k] = static_cast<float>(random_normal(3, 1, i * d + k) + (k % 6 == c ? 2.5 : 0.0));
    }
    TsneOptions opt;
    opt.iterations = 500;
    const TsneResult r = tsne(X, n, d, opt);
    TsneFigureSpec spec;
    spec.title = "Bottleneck t-SNE (synthetic features)";
    spec.xy = r.embedding;
    spec.has_ich = ich;
    spec.subtypes = sub;
    const std::string path = test::eval_output_dir("figures") + "/figure5_tsne.png";
    write_figure5(path, spec);
    const test::DecodedPng dec = test::decode_png(test::read_file(path));
    INFO(dec.error);
    REQUIRE(dec.ok);
    CHECK(count_non_white(dec) > 20000);
    CHECK(count_colour(dec, spec.ich_color) > 0);  // legend markers at full opacity
    CHECK(count_colour(dec, spec.no_ich_color) > 0);
    CHECK(count_colour(dec, spec.present_color) > 0);
    spec.has_ich.pop_back();
    ICHSEG_REQUIRE_ERROR(render_tsne_figure(spec), {"599 ICH labels for 600 points"});
}
