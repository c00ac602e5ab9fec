/// @file test_budget.cpp (study)
/// @brief The label-budget experiment's pieces (study/budget.hpp): the stratified draw of labelled volumes, the
/// "steps" schedule, the curve statistics (draw-averaged volume Dice, t-interval, Welch test against Mixed, the
/// spread over draws), the CSV, the figure; and the tiny profile's experiment end to end (every budget unit, the
/// CSV rows, the "all" budget read from the main study's fold results).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <set>

#include "ichseg/eval/budget_figure.hpp"
#include "ichseg/study/pipeline.hpp"
#include "study_test_util.hpp"
#include "support/disk_slices.hpp"

namespace test_study_budget {

using namespace ichseg;
namespace fs = std::filesystem;
using test::read_file;

TEST_CASE("label budget: the draw is stratified, seeded, and a subset of the training volumes", "[study][budget]") {
    std::vector<bool> has_ich(40);
    std::vector<int64_t> train;
    for (int64_t i = 0; i < 40; ++i) {
        has_ich[static_cast<size_t>(i)] = i % 4 == 0;  // 25% ICH volumes
        if (i % 5 != 0) train.push_back(i);            // 32 training volumes, 8 with ICH
    }
    std::set<std::vector<int64_t>> distinct;
    for (uint64_t seed = 1; seed <= 20; ++seed)
        for (int64_t b : {2, 4, 8, 16}) {
            const std::vector<int64_t> d = study::draw_budget_cases(train, has_ich, b, seed);
            INFO("budget " << b << " seed " << seed);
            REQUIRE(static_cast<int64_t>(d.size()) == b);
            CHECK(std::is_sorted(d.begin(), d.end()));
            CHECK(std::set<int64_t>(d.begin(), d.end()).size() == d.size());
            int64_t ich = 0;
            for (int64_t c : d) {
                CHECK(std::find(train.begin(), train.end(), c) != train.end());
                ich += has_ich[static_cast<size_t>(c)];
            }
            // the training set's share of ICH volumes (8 / 32), rounded, and at least one
            CHECK(ich == std::max<int64_t>(1, std::llround(0.25 * static_cast<double>(b))));
            CHECK(d == study::draw_budget_cases(train, has_ich, b, seed));  // deterministic
            if (b == 4) distinct.insert(d);
        }
    CHECK(distinct.size() > 10);  // the seed changes the draw
    CHECK(study::draw_budget_cases(train, has_ich, 32, 7) == train);
    CHECK(study::draw_budget_cases(train, has_ich, 99, 7) == train);
}

TEST_CASE("label budget: the steps schedule keeps the optimiser steps and the final learning rate", "[study][budget]") {
    const study::StageSpec full{8, 8};
    // 100 slices: 13 batches (the last one of 4) x 8 epochs = 104 steps
    const study::BudgetSchedule s = study::budget_schedule("steps", full, 0.96, 100, 12);
    CHECK(s.stage.batch_size == 8);
    CHECK(s.stage.epochs == 52);  // 12 slices: 2 batches per epoch -> 104 / 2
    CHECK(std::pow(s.lr_decay, s.stage.epochs) == Approx(std::pow(0.96, 8)).epsilon(1e-12));
    const study::BudgetSchedule e = study::budget_schedule("epochs", full, 0.96, 100, 12);
    CHECK(e.stage.epochs == 8);
    CHECK(e.lr_decay == 0.96);
    // never fewer epochs than the full schedule (a budget as large as the set)
    CHECK(study::budget_schedule("steps", full, 0.96, 100, 100).stage.epochs == 8);
    CHECK(study::segmentation_batches(17, 8) == 2);  // a last batch of one is dropped (batch norm)
    CHECK(study::segmentation_batches(18, 8) == 3);
}

eval::VolumeResult vol(const std::string& id, int fold, int64_t tp, int64_t fp, int64_t fn) {
    eval::VolumeResult v;
    v.case_id = id;
    v.fold = fold;
    v.counts.tp = tp;
    v.counts.fp = fp;
    v.counts.fn = fn;
    return v;
}

TEST_CASE("segmentation training: a set of one slice trains on batches of one, as segmentation_batches counts",
          "[study][budget]") {
    // A last batch of one is dropped (its batch-norm statistics would come from one image) unless it is the only
    // batch: the tiny profile's Seg-CQ500 ICH-only fold can hold a single ICH slice, which used to yield no batch.
    CHECK(study::segmentation_batches(1, 4) == 1);
    CHECK(study::segmentation_batches(5, 4) == 1);
    CHECK(study::segmentation_batches(6, 4) == 2);
    study::StudyConfig c = study::profile_config("tiny");
    c.augment = false;
    c.loader_threads = 1;
    for (const int64_t n : {int64_t(1), int64_t(5)}) {
        INFO(n << " slices");
        auto src = std::make_shared<test::DiskSlices>(n, c.input_size);
        std::vector<int64_t> idx(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
        Generator gen(7);
        nn::UNet<float> net(c.unet_config(), gen);
        study::RunSpec r;
        r.name = "one-slice";
        r.stage = {2, 4};
        r.seed = 3;
        r.progress = false;
        train::FitResult f;
        REQUIRE_NOTHROW(f = study::train_segmentation(net, c, r, src, idx, 0.2));
        REQUIRE(f.epoch_loss.size() == 2);
        CHECK(std::isfinite(f.epoch_loss[0]));
        CHECK(std::isfinite(f.epoch_loss[1]));
    }
}

TEST_CASE("label budget: curve statistics, Welch test against Mixed, CSV", "[study][budget]") {
    // Mixed: 4 volumes, two draws; a method better by a constant on each volume
    study::BudgetCell mixed, other;
    mixed.dataset = other.dataset = "physionet";
    mixed.method = "mixed";
    other.method = "binary";
    mixed.budget = other.budget = 4;
    mixed.train_volumes = other.train_volumes = 4;
    mixed.draws = {{vol("a", 0, 10, 10, 0), vol("b", 0, 5, 5, 10), vol("c", 1, 0, 3, 9), vol("d", 1, 50, 0, 2)},
                   {vol("a", 0, 12, 8, 0), vol("b", 0, 7, 3, 10), vol("c", 1, 1, 3, 9), vol("d", 1, 49, 1, 2)}};
    other.draws = {{vol("a", 0, 20, 1, 0), vol("b", 0, 15, 1, 1), vol("c", 1, 9, 1, 1), vol("d", 1, 60, 0, 0)},
                   {vol("a", 0, 20, 1, 0), vol("b", 0, 15, 1, 1), vol("c", 1, 9, 1, 1), vol("d", 1, 60, 0, 0)}};
    const std::vector<study::BudgetPoint> pts = study::summarize_budget({mixed, other});
    REQUIRE(pts.size() == 2);
    // the per-volume averages over the draws, by hand
    std::vector<double> m, o;
    for (size_t i = 0; i < 4; ++i) {
        m.push_back((mixed.draws[0][i].dice() + mixed.draws[1][i].dice()) / 2);
        o.push_back((other.draws[0][i].dice() + other.draws[1][i].dice()) / 2);
    }
    CHECK(study::draw_averaged_dice(mixed) == m);
    const eval::Summary sm = eval::summarize(m);
    CHECK(pts[0].mean == Approx(sm.mean).epsilon(1e-12));
    // 95% t-interval with 3 degrees of freedom: t = 3.182446305
    CHECK(pts[0].ci_hi - pts[0].mean == Approx(3.182446305 * sm.sd / 2).epsilon(1e-8));
    CHECK(pts[0].mean - pts[0].ci_lo == Approx(pts[0].ci_hi - pts[0].mean).epsilon(1e-12));
    CHECK(std::isnan(pts[0].p_vs_mixed));  // Mixed against itself: not tested
    const eval::WelchResult w = eval::welch_ttest(o, m);
    CHECK(pts[1].p_vs_mixed == Approx(w.p).epsilon(1e-12));
    CHECK(pts[1].diff_vs_mixed == Approx(eval::mean(o) - eval::mean(m)).epsilon(1e-12));
    CHECK(pts[1].sd_draws == Approx(0).margin(1e-15));  // both draws identical
    CHECK(pts[0].sd_draws > 0);
    CHECK(study::student_t_quantile(0.975, 10) == Approx(2.228138852).epsilon(1e-8));
    const std::string csv = study::budget_csv(pts);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 3);
    CHECK(csv.rfind("dataset,method,budget,train_volumes,draws,volumes,dice_mean,dice_ci95_lo,", 0) == 0);
    CHECK(csv.find("\nphysionet,binary,4,4.00,2,4,") != std::string::npos);

    eval::BudgetFigureSpec spec;
    spec.title = "test";
    spec.curves.push_back({"U-Net mixed", {{2, 0.2, 0.1, 0.3, false, false}, {4, 0.4, 0.3, 0.5, false, false},
                                           {27, 0.6, 0.5, 0.7, true, false}}});
    spec.curves.push_back({"Binary", {{2, 0.3, 0.2, 0.4, false, true}, {27, 0.65, 0.6, 0.7, true, false}}});
    const render::Image img = eval::render_budget_figure(spec);
    CHECK(img.width > 1000);
    const std::string png = render::encode_png(img);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
}

TEST_CASE("label budget on the tiny profile: every budget unit, the CSV and the figure", "[study][budget]") {
    const std::string dir = test::fresh_dir("study_budget", "tiny");
    study::StudyOptions o;
    o.config = study::profile_config("tiny");
    o.config.threads = 2;
    o.data_root = dir + "/data";
    o.out = dir + "/out";
    o.generate_phantoms = true;
    o.progress = false;
    o.label_budget = true;
    o.log = [](const std::string&) {};
    const study::StudyResult r = study::run_study(o);
    CHECK(r.complete);
    // tiny: budget 1 (and all) x 2 draws x 8 methods x 2 folds, PhysioNet only
    const int budget_units = 2 * 8 * 2;
    CHECK(r.units_run == 1 + 2 + 6 + 6 + 8 * 4 + 1 + budget_units + 1);
    const nlohmann::json j =
        io::read_json_file(o.out + "/results/budget/physionet/binary/n1/d0/fold0.json");
    CHECK(j.at("train_volumes").size() == 1);
    CHECK(j.at("epochs").get<int>() >= o.config.physionet_supervised.epochs);
    CHECK(j.at("plain").size() == 2);  // the fold's test volumes
    // the same labelled volume for every method of a draw (paired design)
    CHECK(io::read_json_file(o.out + "/results/budget/physionet/mixed/n1/d0/fold0.json").at("train_volumes") ==
          j.at("train_volumes"));
    const std::string csv = read_file(o.out + "/tables/label_budget.csv");
    INFO(csv);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 8 * 2);  // 8 methods x (budget 1, all)
    CHECK(csv.find("\nphysionet,mixed,all,2.00,1,4,") != std::string::npos);  // all: the 2 training volumes per fold
    CHECK(csv.find("\nphysionet,binary,1,1.00,2,4,") != std::string::npos);
    CHECK(fs::file_size(o.out + "/figures/label_budget_physionet.png") > 1000);
    // the budget "all" row is the main study's Mixed model without the ICM: its mean equals Table 3's
    // pooled PhysioNet Dice of "U-Net mixed"
    const nlohmann::json s = io::read_json_file(o.out + "/results/physionet/rows/u_net_mixed/summary.json");
    const auto pos = csv.find("\nphysionet,mixed,all,");
    std::vector<std::string> f;
    std::stringstream line(csv.substr(pos + 1, csv.find('\n', pos + 1) - pos - 1));
    for (std::string x; std::getline(line, x, ',');) f.push_back(x);
    CHECK(std::stod(f.at(6)) == Approx(s.at("ichseg").at("subsets").at("all").at("Dice").at("mean").get<double>()).epsilon(1e-5));
}

}  // namespace test_study_budget
