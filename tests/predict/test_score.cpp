// Scoring on the independent phantom family (predict/score.hpp, ichseg_score): the volume set, the per-volume
// numbers through the Segmenter against exactly known masks, the summary statistics, and the program's outputs
// and volume cache.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ichseg/predict/score.hpp"
#include "predict/predict_test_util.hpp"

using namespace ichseg;

TEST_CASE("score set: healthy share, every subtype, deterministic ids", "[predict][score]") {
    predict::ScoreOptions o;
    o.count = 20;
    const auto a = predict::score_set(o), b = predict::score_set(o);
    REQUIRE(a.size() == 20);
    int healthy = 0, mix = 0;
    std::map<uint32_t, int> forced;
    std::set<std::string> ids;
    std::set<uint64_t> seeds;
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].id == b[i].id);
        CHECK(a[i].seed == b[i].seed);
        ids.insert(a[i].id);
        seeds.insert(a[i].seed);
        if (a[i].healthy) {
            ++healthy;
            CHECK(a[i].subtypes == 0);
            CHECK(a[i].id.find("healthy") != std::string::npos);
        } else if (a[i].subtypes == 0) {
            ++mix;
            CHECK(a[i].id.find("mix") != std::string::npos);
        } else {
            ++forced[a[i].subtypes];
        }
    }
    CHECK(healthy == 6);
    CHECK(ids.size() == 20);
    CHECK(seeds.size() == 20);
    CHECK(mix == 4);                 // every third of the 14 hemorrhage volumes
    CHECK(forced.size() == 5);       // all five subtypes
    for (const auto& [bits, n] : forced) CHECK(n == 2);
    o.seed = 16;
    CHECK(predict::score_set(o)[0].seed != a[0].seed);
    o.count = 0;
    CHECK_THROWS(predict::score_set(o));
}

TEST_CASE("score summary: means, sd and medians as computed by hand", "[predict][score]") {
    std::vector<predict::VolumeScore> v(5);
    const double dice[5] = {0.2, 0.6, 1.0, 0.9, 0.95};
    const double ml[5] = {3, 4, 0.5, 2.0, 9.0};
    const bool ich[5] = {true, true, false, false, false};
    for (int i = 0; i < 5; ++i) {
        v[i].dice = dice[i];
        v[i].pred_ml = ml[i];
        v[i].has_ich = ich[i];
        v[i].labels = io::IchLabels::negative();
        if (ich[i]) {
            v[i].labels.any = 1;
            v[i].labels.subtype[static_cast<size_t>(i == 0 ? 1 : 4)] = 1;  // IPH, SDH
        }
    }
    const predict::ScoreSummary s = predict::summarize(v);
    CHECK(s.volumes == 5);
    CHECK(s.ich_volumes == 2);
    CHECK(s.healthy_volumes == 3);
    CHECK(s.mean_dice_ich == Approx(0.4));
    CHECK(s.sd_dice_ich == Approx(std::sqrt(0.08)));  // (0.2 - 0.4)^2 + (0.6 - 0.4)^2, over n - 1 = 1
    CHECK(s.median_ml_healthy == Approx(2.0));        // of 0.5, 2.0, 9.0
    CHECK(s.max_ml_healthy == Approx(9.0));
    CHECK(s.mean_dice_all == Approx((0.2 + 0.6 + 1.0 + 0.9 + 0.95) / 5));
    CHECK(s.mean_dice_subtype[1] == Approx(0.2));
    CHECK(s.mean_dice_subtype[4] == Approx(0.6));
    CHECK(std::isnan(s.mean_dice_subtype[0]));
    CHECK_FALSE(s.has_plain);
    CHECK(predict::summary_line("m", s).find("ICH-volume Dice 0.400 +- 0.283 (n = 2), healthy median 2.00 mL") !=
          std::string::npos);
}

TEST_CASE("score a volume: the Segmenter's mask against known ground truth, with and without the ICM",
          "[predict][score]") {
    // the band phantom at the model's input size: the band model's mask is exactly the blood (tests/predict/
    // test_segmenter.cpp), so Dice = 1 and the volumes agree; a half-hit truth gives the Dice of its counts
    const test::BandPhantom b = test::band_phantom(64, 5, {3.0, 3.0, 5.0});
    predict::ScoringVolume v;
    v.ct = b.ct;
    v.ich = b.blood;
    v.brain = b.blood;
    v.brain.voxels = b.blood.voxels.clone();  // a Mask copy shares its voxels: fill a copy of its own
    v.brain.voxels.fill_(1);
    v.labels = io::IchLabels::negative();
    v.labels.any = 1;
    v.truth_ml = predict::detail::mask_ml(b.blood);
    Segmenter seg(test::band_ich_model());
    predict::VolumeScore s = predict::score_volume(seg, v, "band");
    CHECK(s.counts.fp == 0);
    CHECK(s.counts.fn == 0);
    CHECK(s.counts.tp > 100);
    CHECK(s.dice == Approx(1.0));
    CHECK(s.pred_ml == Approx(s.truth_ml).epsilon(1e-9));
    CHECK_FALSE(s.has_plain);
    // truth with a second blob the model cannot see (brain HU): FN = its voxels
    predict::ScoringVolume w = v;
    w.ich.voxels = b.blood.voxels.clone();
    int64_t added = 0;
    for (int64_t i = 0; i < 64 * 64; ++i)
        if (!w.ich.voxels.data()[i] && b.ct.voxels.data()[i] == 35.f && added < 50) w.ich.voxels.data()[i] = 1, ++added;
    const predict::VolumeScore s2 = predict::score_volume(seg, w, "band+50");
    CHECK(s2.counts.fn == 50);
    CHECK(s2.dice == Approx((2.0 * s2.counts.tp + 1) / (2.0 * s2.counts.tp + 50 + 1)));
    // with ICM models: constant 0.99 (everything cavity) changes nothing; the plain numbers are reported too
    test::TempDir dir;
    test::write_constant_model(dir / "t.safetensors", 0.99, "cavity", 0, 600);
    test::write_constant_model(dir / "b.safetensors", 0.99, "cavity", 150, 650);
    Segmenter seg_icm(test::band_ich_model(), dir / "t.safetensors", dir / "b.safetensors");
    const predict::VolumeScore s3 = predict::score_volume(seg_icm, v, "band icm");
    CHECK(s3.has_plain);
    CHECK(s3.dice == Approx(1.0));
    CHECK(s3.dice_plain == Approx(1.0));
    CHECK(s3.cavity_dice == Approx(1.0));  // all cavity predicted, all cavity true
    CHECK_FALSE(seg_icm.options().keep_plain_mask);  // options restored
    // an ICM that finds nothing removes every prediction: plain Dice stays 1, Dice with the ICM drops
    test::write_constant_model(dir / "t0.safetensors", 0.01, "cavity", 0, 600);
    test::write_constant_model(dir / "b0.safetensors", 0.01, "cavity", 150, 650);
    Segmenter seg_none(test::band_ich_model(), dir / "t0.safetensors", dir / "b0.safetensors");
    const predict::VolumeScore s4 = predict::score_volume(seg_none, v, "band no cavity");
    CHECK(s4.counts.tp == 0);
    CHECK(s4.pred_ml == 0);
    CHECK(s4.dice_plain == Approx(1.0));
    CHECK(s4.dice < 0.01);
}

#ifdef ICHSEG_SCORE_BIN
TEST_CASE("ichseg_score: JSON and CSV agree, kept volumes are reused with the same numbers",
          "[predict][score][program]") {
    test::TempDir dir;
    const std::string model = test::band_ich_model();
    auto run = [&](const std::string& out, std::vector<std::string> extra = {}) {
        std::vector<std::string> a{ICHSEG_SCORE_BIN, "-m", model, "-o", out, "--count", "4", "--size", "64",
                                   "--slices", "4", "--volumes", dir / "vol", "--threads", "2"};
        a.insert(a.end(), extra.begin(), extra.end());
        return test::run_program(a);
    };
    const test::ProgramRun r1 = run(dir / "s1");
    INFO(r1.output);
    REQUIRE(r1.status == 0);
    CHECK(r1.output.find("ICH-volume Dice") != std::string::npos);
    const nlohmann::json j = io::read_json_file(dir / "s1/score.json");
    REQUIRE(j["models"].size() == 1);
    const auto& vols = j["models"][0]["volumes"];
    REQUIRE(vols.size() == 4);
    double sum = 0;
    int n = 0;
    for (const auto& v : vols)
        if (v["has_ich"].get<bool>()) sum += v["dice"].get<double>(), ++n;
    REQUIRE(n > 0);
    CHECK(j["models"][0]["summary"]["mean_dice_ich_volumes"].get<double>() == Approx(sum / n));
    std::ifstream f1(dir / "s1/score_volumes.csv");
    std::stringstream c1;
    c1 << f1.rdbuf();
    const std::string csv1 = c1.str();  // one string: str() returns a new copy on every call
    CHECK(std::count(csv1.begin(), csv1.end(), '\n') == 5);  // header + 4 volumes
    CHECK(std::filesystem::exists(dir / "vol/manifest.json"));
    // the same run again reads the kept volumes: identical CSV; existing outputs need --overwrite
    const test::ProgramRun r2 = run(dir / "s2");
    REQUIRE(r2.status == 0);
    std::ifstream f2(dir / "s2/score_volumes.csv");
    std::stringstream c2;
    c2 << f2.rdbuf();
    CHECK(c2.str() == c1.str());
    const test::ProgramRun r3 = run(dir / "s2");
    CHECK(r3.status == 1);
    CHECK(r3.output.find("exist already") != std::string::npos);
    // other options with the same volume folder are refused
    const test::ProgramRun r4 = run(dir / "s4", {"--seed", "99"});
    CHECK(r4.status == 1);
    CHECK(r4.output.find("other options") != std::string::npos);
}
#endif
