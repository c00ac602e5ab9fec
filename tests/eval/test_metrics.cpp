/// @file test_metrics.cpp (tests)
/// @brief Volume metrics against a hand computation: threshold 0.5 inclusive, counts summed over slices, ε = 1,
/// the intracranial-cavity mask zeroing predictions, empty volumes; subsets, subtypes, summaries.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/eval/metrics.hpp"
#include "support/errors.hpp"

using namespace ichseg;
using namespace ichseg::eval;

namespace {
// Two 8-pixel "slices". Predicted positive = prob >= 0.5 (the authors' `pred >= 0.5`).
const std::vector<float> prob1{0.9f, 0.5f, 0.49f, 0.1f, 0.7f, 0.2f, 0.95f, 0.6f};
const std::vector<uint8_t> mask1{1, 1, 1, 0, 0, 0, 1, 0};
//   pred1 = 1 1 0 0 1 0 1 1  ->  TP {0,1,6} = 3, FP {4,7} = 2, FN {2} = 1, TN {3,5} = 2
const std::vector<float> prob2{0.8f, 0.3f, 0.55f, 0.05f, 0.5f, 0.0f, 0.2f, 0.99f};
const std::vector<uint8_t> mask2{0, 1, 1, 0, 0, 0, 0, 1};
//   pred2 = 1 0 1 0 1 0 0 1  ->  TP {2,7} = 2, FP {0,4} = 2, FN {1} = 1, TN {3,5,6} = 3
const std::vector<uint8_t> icm1{1, 1, 1, 1, 0, 1, 1, 0};  // removes predictions 4 and 7 (both FP)
const std::vector<uint8_t> icm2{0, 1, 1, 1, 1, 1, 1, 1};  // removes prediction 0 (FP)
}  // namespace

TEST_CASE("slice counts by hand, threshold 0.5 inclusive", "[eval][metrics]") {
    const ConfusionCounts c1 = count_slice(prob1.data(), mask1.data(), prob1.size());
    CHECK(c1.tp == 3);
    CHECK(c1.fp == 2);
    CHECK(c1.fn == 1);
    CHECK(c1.tn == 2);
    const ConfusionCounts c2 = count_slice(prob2.data(), mask2.data(), prob2.size());
    CHECK(c2.tp == 2);
    CHECK(c2.fp == 2);
    CHECK(c2.fn == 1);
    CHECK(c2.tn == 3);
}

TEST_CASE("volume Dice / Precision / Recall by hand (counts summed over slices, eps = 1)", "[eval][metrics]") {
    VolumeAccumulator acc("049", 3);
    acc.add_slice(prob1, mask1);
    acc.add_slice(prob2, mask2);
    const VolumeResult v = acc.finish();
    // TP = 5, FP = 4, FN = 2, TN = 5
    CHECK(v.counts.tp == 5);
    CHECK(v.counts.fp == 4);
    CHECK(v.counts.fn == 2);
    CHECK(v.counts.tn == 5);
    CHECK(v.n_slices == 2);
    CHECK(v.case_id == "049");
    CHECK(v.fold == 3);
    CHECK(v.has_ich);  // reference has positive pixels
    // Dice = (2*5+1)/(2*5+4+2+1) = 11/17, Precision = 6/10, Recall = 6/8. Exact: both sides are one correctly
    // rounded division of the same small integers.
    CHECK(v.dice() == 11.0 / 17.0);
    CHECK(v.precision() == 6.0 / 10.0);
    CHECK(v.recall() == 6.0 / 8.0);
    CHECK(v.metric(Metric::dice) == v.dice());
    // Averaging per-slice Dice would give (7/10 + 5/8)/2 = 0.6625, not 11/17 = 0.647: volume sums are used.
    CHECK(v.dice() != Approx((7.0 / 10 + 5.0 / 8) / 2));
}

TEST_CASE("the ICM zeroes predictions outside the cavity", "[eval][metrics]") {
    VolumeAccumulator acc("icm");
    acc.add_slice(prob1, mask1, icm1);
    acc.add_slice(prob2, mask2, icm2);
    const VolumeResult v = acc.finish();
    // slice 1: TP 3, FP 0, FN 1, TN 4; slice 2: TP 2, FP 1, FN 1, TN 4
    CHECK(v.counts.tp == 5);
    CHECK(v.counts.fp == 1);
    CHECK(v.counts.fn == 2);
    CHECK(v.counts.tn == 8);
    CHECK(v.dice() == 11.0 / 14.0);  // exact, as above
    CHECK(v.precision() == 6.0 / 7.0);
    CHECK(v.recall() == 6.0 / 8.0);
    // an ICM can only remove predictions: precision here cannot drop, recall cannot rise
    VolumeAccumulator plain("plain");
    plain.add_slice(prob1, mask1);
    plain.add_slice(prob2, mask2);
    CHECK(v.precision() >= plain.finish().precision());
    CHECK(v.recall() <= plain.finish().recall());
}

TEST_CASE("volumes without ICH: eps = 1 gives 1 without predictions, decays with false positives", "[eval][metrics]") {
    const std::vector<float> none(8, 0.1f), three{0.9f, 0.9f, 0.9f, 0, 0, 0, 0, 0};
    const std::vector<uint8_t> empty(8, 0);
    VolumeAccumulator a("clean"), b("fp3");
    a.add_slice(none, empty);
    b.add_slice(three, empty);
    const VolumeResult va = a.finish(), vb = b.finish();
    CHECK_FALSE(va.has_ich);
    CHECK(va.dice() == 1.0);
    CHECK(va.precision() == 1.0);
    CHECK(va.recall() == 1.0);
    CHECK(vb.dice() == 1.0 / 4.0);  // (0+1)/(0+3+0+1)
    CHECK(vb.precision() == 1.0 / 4.0);
    CHECK(vb.recall() == 1.0);
}

TEST_CASE("counts added directly, float masks, explicit labels", "[eval][metrics]") {
    VolumeAccumulator acc("gpu");
    acc.add_counts({10, 5, 5, 100});
    acc.add_counts({0, 1, 0, 50});
    acc.set_has_ich(false);  // dataset label wins over the mask
    acc.set_subtypes(0);
    const VolumeResult v = acc.finish();
    CHECK(v.n_slices == 2);
    CHECK_FALSE(v.has_ich);
    CHECK(v.dice() == 21.0 / 32.0);  // TP 10, FP 6, FN 5: (20+1)/(20+6+5+1), exact
    // float masks are positive where > 0
    const std::vector<float> p{0.7f, 0.7f}, m{1.0f, 0.0f};
    const ConfusionCounts c = count_slice(p.data(), m.data(), 2);
    CHECK(c.tp == 1);
    CHECK(c.fp == 1);
    // subtypes imply ICH when has_ich is not set
    VolumeAccumulator s("sub");
    s.add_counts({0, 0, 0, 10});
    s.set_subtypes(IPH | SDH);
    CHECK(s.finish().has_ich);
    CHECK(s.finish().has_subtype(SDH));
    CHECK_FALSE(s.finish().has_subtype(EDH));
}

TEST_CASE("accumulator rejects bad input with the case id in the message", "[eval][metrics]") {
    VolumeAccumulator acc("case-17");
    acc.add_slice(prob1, mask1);
    const std::vector<float> short_prob(4, 0.f);
    const std::vector<uint8_t> short_mask(4, 0);
    ICHSEG_REQUIRE_ERROR(acc.add_slice(short_prob, short_mask), {"case-17", "4 pixels", "earlier slices had 8"});
    ICHSEG_REQUIRE_ERROR(acc.add_slice(prob1, short_mask), {"case-17", "8 probabilities", "4 mask pixels"});
    ICHSEG_REQUIRE_ERROR(acc.add_counts({-1, 0, 0, 0}), {"case-17", "negative counts"});
    ICHSEG_REQUIRE_ERROR(acc.set_subtypes(64), {"case-17", "unknown subtype bits"});
    ICHSEG_REQUIRE_ERROR(VolumeAccumulator("x", 0, 1.5), {"threshold", "1.5"});
}

TEST_CASE("subsets and summaries over volumes", "[eval][metrics]") {
    std::vector<VolumeResult> vols(4);
    // Dice values: ICH 1/2 (IPH), ICH 3/4 (IPH+SDH), non-ICH 1, non-ICH 1/3
    vols[0].has_ich = true;
    vols[0].subtypes = IPH;
    vols[0].counts = {1, 1, 2, 0};  // (2+1)/(2+1+2+1) = 1/2
    vols[1].has_ich = true;
    vols[1].subtypes = IPH | SDH;
    vols[1].counts = {4, 2, 1, 0};  // (8+1)/(8+2+1+1) = 9/12 = 3/4
    vols[2].counts = {0, 0, 0, 5};  // 1
    vols[3].counts = {0, 2, 0, 5};  // 1/3
    CHECK(metric_values(vols, Metric::dice) == std::vector<double>{0.5, 0.75, 1.0, 1.0 / 3.0});
    CHECK(metric_values(vols, Metric::dice, ich_volumes()) == std::vector<double>{0.5, 0.75});
    CHECK(metric_values(vols, Metric::dice, non_ich_volumes()) == std::vector<double>{1.0, 1.0 / 3.0});
    CHECK(metric_values(vols, Metric::dice, with_subtype(SDH)) == std::vector<double>{0.75});
    CHECK(metric_values(vols, Metric::dice, with_subtype(EDH)).empty());
    const MetricSummary s = summarize_volumes(vols, ich_volumes());
    CHECK(s.n() == 2);
    // mean 0.625, sample sd = |0.75-0.5|/sqrt(2); a handful of roundings -> 1e-14 relative
    CHECK(s.dice.mean == Approx(0.625).epsilon(1e-14));
    CHECK(s.dice.sd == Approx(0.25 / std::sqrt(2.0)).epsilon(1e-14));
    CHECK(s[Metric::dice].mean == s.dice.mean);
    CHECK(std::string(metric_name(Metric::precision)) == "Precision");
    CHECK(subtypes().size() == 5);
    CHECK(std::string(subtypes()[1].abbrev) == "IPH");
}
