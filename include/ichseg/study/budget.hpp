/// @file budget.hpp (study)
/// @brief The label-budget experiment (beyond the paper): for budgets of labelled training volumes (2, 4, 8, 16,
/// all), the baselines and the six transferred models are fine-tuned on a random subset of each fold's training
/// volumes, repeated over several draws of the subset, and evaluated on the fold's usual test volumes.
///
/// * The subset of a (dataset, fold, budget, draw) is drawn once, stratified on "volume has ICH" (the fold's
///   share of ICH volumes, at least one ICH volume), with a seed of its own: every method of that draw trains on
///   the same volumes (a paired design), and the Mixed-recipe methods on the same Mixed slices.
/// * Schedule "steps" (default): a budget model takes as many optimiser steps as the same method's model on all of
///   the fold's training volumes (the epochs are scaled up, the per-epoch learning-rate decay scaled down so that
///   the final learning rate is the same), as label-efficiency studies do (e.g. Chaitanya et al. 2020, whose local
///   contrastive loss the study uses, fine-tune limited-annotation models for a fixed number of iterations);
///   schedule "epochs" keeps the epochs, so a small budget also means few steps.
/// * Budget "all" (0) is the main study's fold models: no extra units.
/// * Per method and budget: each test volume's Dice is averaged over the draws (its expected Dice when the labels
///   are a random subset of that size); the curve is the mean of those over all test volumes of all folds, the
///   band its 95% t-interval (over volumes), and the Welch test compares those per-volume values of a method
///   with Mixed's (as the paper's Figure 4 compares methods over volumes). The spread between draws is reported
///   separately (sd of the draws' mean Dice).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "ichseg/data/random.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/eval/stats.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/study/config.hpp"

namespace ichseg::study {

/// Epochs and learning-rate decay of one budget model.
struct BudgetSchedule {
    StageSpec stage;
    double lr_decay = 0;
};

/// Batches per epoch of the segmentation loader (study/training.hpp: drop_last only for a last batch of one).
inline int64_t segmentation_batches(int64_t n, int64_t batch) {
    if (n <= 0) return 0;
    return n % batch == 1 && n > 1 ? n / batch : (n + batch - 1) / batch;
}

/// `schedule` "steps": as many optimiser steps as `full` on `n_full` slices; "epochs": `full` unchanged.
inline BudgetSchedule budget_schedule(const std::string& schedule, const StageSpec& full, double lr_decay,
                                      int64_t n_full, int64_t n_budget) {
    BudgetSchedule s{full, lr_decay};
    if (schedule == "epochs") return s;
    ICHSEG_CHECK(schedule == "steps", "label_budget.schedule must be steps or epochs, got '", schedule, "'");
    const int64_t steps = static_cast<int64_t>(full.epochs) * segmentation_batches(n_full, full.batch_size);
    const int64_t per = std::max<int64_t>(1, segmentation_batches(n_budget, full.batch_size));
    s.stage.epochs = static_cast<int>(std::max<int64_t>(full.epochs, (steps + per - 1) / per));
    s.lr_decay = std::pow(lr_decay, static_cast<double>(full.epochs) / s.stage.epochs);
    return s;
}

/// `budget` of the fold's training cases, stratified on has_ich (at least one ICH case when there is one),
/// drawn with `seed`; sorted. The whole training set when the budget is not smaller.
inline std::vector<int64_t> draw_budget_cases(const std::vector<int64_t>& train, const std::vector<bool>& has_ich,
                                              int64_t budget, uint64_t seed) {
    ICHSEG_CHECK(budget >= 1, "label budget: the budget must be >= 1 volume, got ", budget);
    if (budget >= static_cast<int64_t>(train.size())) return train;
    std::vector<int64_t> ich, non;
    for (int64_t c : train) (has_ich.at(static_cast<size_t>(c)) ? ich : non).push_back(c);
    const double share = static_cast<double>(ich.size()) / static_cast<double>(train.size());
    int64_t n_ich = static_cast<int64_t>(std::llround(share * static_cast<double>(budget)));
    n_ich = std::min<int64_t>(std::max<int64_t>(n_ich, ich.empty() ? 0 : 1), std::min<int64_t>(budget, ich.size()));
    int64_t n_non = budget - n_ich;
    if (n_non > static_cast<int64_t>(non.size())) {
        n_non = static_cast<int64_t>(non.size());
        n_ich = budget - n_non;
    }
    data::Rng rng(seed, data::stream_id(0xb0d6e7, 1));
    auto take = [&](std::vector<int64_t> v, int64_t n, std::vector<int64_t>& out) {
        for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i)
            std::swap(v[static_cast<size_t>(i)], v[static_cast<size_t>(rng.randint(0, i))]);
        out.insert(out.end(), v.begin(), v.begin() + n);
    };
    std::vector<int64_t> out;
    take(ich, n_ich, out);
    take(non, n_non, out);
    std::sort(out.begin(), out.end());
    return out;
}

/// t quantile: the x with P(T <= x) = q for Student's t with df degrees of freedom (bisection on the CDF).
inline double student_t_quantile(double q, double df) {
    ICHSEG_CHECK(q > 0 && q < 1 && df > 0, "student_t_quantile: q in (0, 1) and df > 0 required");
    double lo = -1e3, hi = 1e3;
    for (int i = 0; i < 200; ++i) {
        const double mid = (lo + hi) / 2;
        (eval::student_t_cdf(mid, df) < q ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

/// Results of one (dataset, method, budget): per draw, the test volumes of all folds.
struct BudgetCell {
    std::string dataset, method;
    int64_t budget = 0;                                  ///< 0: all training volumes
    double train_volumes = 0;                            ///< mean over folds and draws of the labelled volumes
    std::vector<std::vector<eval::VolumeResult>> draws;  ///< per draw: every test volume of every fold
};

/// One point of a curve.
struct BudgetPoint {
    std::string dataset, method;
    int64_t budget = 0;
    double train_volumes = 0;
    int draws = 0;
    size_t volumes = 0;
    double mean = std::numeric_limits<double>::quiet_NaN();  ///< mean over volumes of the draw-averaged Dice
    double ci_lo = mean, ci_hi = mean;                       ///< 95% t-interval of that mean
    double sd_volumes = mean;                                ///< sd over volumes of the draw-averaged Dice
    double sd_draws = mean;                                  ///< sd over draws of each draw's mean Dice
    double p_vs_mixed = mean;                                ///< Welch test against Mixed at the same budget
    double diff_vs_mixed = mean;                             ///< mean - Mixed's mean
};

/// Each volume's Dice averaged over the draws (volumes matched by fold and case id), in a stable order.
inline std::vector<double> draw_averaged_dice(const BudgetCell& c) {
    std::map<std::pair<int, std::string>, std::pair<double, int>> acc;
    for (const auto& d : c.draws)
        for (const eval::VolumeResult& v : d) {
            auto& a = acc[{v.fold, v.case_id}];
            a.first += v.dice();
            a.second += 1;
        }
    std::vector<double> out;
    for (const auto& [k, a] : acc) out.push_back(a.first / a.second);
    return out;
}

/// The curve points with their bands and the Welch tests against Mixed (method "mixed") of the same dataset and
/// budget.
inline std::vector<BudgetPoint> summarize_budget(const std::vector<BudgetCell>& cells, double confidence = 0.95) {
    std::vector<BudgetPoint> pts;
    std::map<std::pair<std::string, int64_t>, std::vector<double>> mixed;
    for (const BudgetCell& c : cells)
        if (c.method == "mixed") mixed[{c.dataset, c.budget}] = draw_averaged_dice(c);
    for (const BudgetCell& c : cells) {
        BudgetPoint p;
        p.dataset = c.dataset;
        p.method = c.method;
        p.budget = c.budget;
        p.train_volumes = c.train_volumes;
        p.draws = static_cast<int>(c.draws.size());
        const std::vector<double> v = draw_averaged_dice(c);
        p.volumes = v.size();
        const eval::Summary s = eval::summarize(v);
        p.mean = s.mean;
        p.sd_volumes = s.sd;
        if (v.size() >= 2) {
            const double h = student_t_quantile(0.5 + confidence / 2, static_cast<double>(v.size() - 1)) * s.sd /
                             std::sqrt(static_cast<double>(v.size()));
            p.ci_lo = s.mean - h;
            p.ci_hi = s.mean + h;
        }
        std::vector<double> draw_means;
        for (const auto& d : c.draws) {
            std::vector<double> dv;
            for (const auto& r : d) dv.push_back(r.dice());
            draw_means.push_back(eval::mean(dv));
        }
        p.sd_draws = eval::summarize(draw_means).sd;
        auto it = mixed.find({c.dataset, c.budget});
        if (c.method != "mixed" && it != mixed.end()) {
            const eval::WelchResult w = eval::welch_ttest(v, it->second);
            p.p_vs_mixed = w.p;
            p.diff_vs_mixed = w.mean_a - w.mean_b;
        }
        pts.push_back(p);
    }
    return pts;
}

/// The CSV of the curves: one row per dataset, method and budget.
inline std::string budget_csv(const std::vector<BudgetPoint>& pts) {
    std::string s = "dataset,method,budget,train_volumes,draws,volumes,dice_mean,dice_ci95_lo,dice_ci95_hi,"
                    "dice_sd_volumes,dice_sd_draws,diff_vs_mixed,welch_p_vs_mixed\n";
    auto num = [](double x) { return std::isnan(x) ? std::string() : io::format("%.6g", x); };
    for (const BudgetPoint& p : pts)
        s += p.dataset + "," + p.method + "," + (p.budget == 0 ? std::string("all") : std::to_string(p.budget)) + "," +
             io::format("%.2f", p.train_volumes) + "," + std::to_string(p.draws) + "," + std::to_string(p.volumes) +
             "," + num(p.mean) + "," + num(p.ci_lo) + "," + num(p.ci_hi) + "," + num(p.sd_volumes) + "," +
             num(p.sd_draws) + "," + num(p.diff_vs_mixed) + "," + num(p.p_vs_mixed) + "\n";
    return s;
}

}  // namespace ichseg::study
