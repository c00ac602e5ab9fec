/// @file plan.hpp (study)
/// @brief The study as a plan of units: every unit of work (phantoms, an ICM net, a pretext model, a t-SNE
/// figure, one method in one fold, the report, a label-budget model, the label-budget report) with its key, the
/// keys it depends on, the files whose existence makes it done, and its estimated cost in FLOPs.
///
/// The plan is a pure function of the config, the folders and the dataset sizes: every worker that builds it
/// gets the same units in the same order (dependency order), and `ichseg_reproduce --plan` prints it with each
/// unit's state without running any. Costs are counted as direct convolution (2 FLOPs per multiply-add of every
/// conv, transposed conv and linear layer; batch norm, pooling and the losses are left out: below 2% of a
/// U-Net step), a training step as 3 forward passes (forward, input gradient, weight gradient), an evaluation as
/// one forward pass per test slice. Dataset sizes come from the data when they can be read (`DataSizes`), else
/// from the published datasets (the paper profile without data) or from the phantom settings.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/nn/unet_config.hpp"
#include "ichseg/study/budget.hpp"
#include "ichseg/study/config.hpp"
#include "ichseg/study/training.hpp"

namespace ichseg::study {

enum class UnitKind { phantoms, icm, pretext, tsne, fold, report, budget, budget_report };

inline const char* unit_kind_name(UnitKind k) {
    switch (k) {
        case UnitKind::phantoms: return "phantoms";
        case UnitKind::icm: return "icm";
        case UnitKind::pretext: return "pretext";
        case UnitKind::tsne: return "tsne";
        case UnitKind::fold: return "fold";
        case UnitKind::report: return "report";
        case UnitKind::budget: return "budget";
        case UnitKind::budget_report: return "budget_report";
    }
    return "?";
}

/// One unit of work.
struct Unit {
    std::string key;                   ///< unique; also the progress prefix and the checkpoint name (work/<key>.ckpt)
    UnitKind kind = UnitKind::report;
    std::string stage;                 ///< for the cost summary: "ICM", "pretext", "folds physionet", ...
    std::vector<std::string> deps;     ///< keys of the units whose outputs it reads
    std::vector<std::string> outputs;  ///< files (absolute) whose existence means the unit is done
    // what the unit is about (the fields its kind uses)
    std::string dataset, method;       ///< fold / budget units
    std::string net;                   ///< icm: "tissue" | "bone"; pretext / tsne: the pretext key
    int fold = -1;
    int64_t budget = 0;                ///< labelled training volumes (budget units)
    int draw = -1;
    double flops = 0;                  ///< estimated cost
};

/// Sizes the cost estimates use: per volume dataset its volumes, slices and slices with ICH; the pretext split.
struct DataSizes {
    struct Volumes {
        int64_t volumes = 0, slices = 0, ich_slices = 0;
    };
    Volumes physionet, segcq500, icm;
    int64_t pretext_train = 0, pretext_validation = 0;
    std::string source;  ///< where the numbers come from (printed with the plan)

    /// The published datasets (SPEC §1, shared/datasets.md): PhysioNet CT-ICH 75 volumes / 2,814 slices, of which
    /// 318 show ICH (the dataset's hemorrhage_diagnosis_raw_ct.csv); Seg-CQ500 51 thin-slice volumes of about 250
    /// slices, ICH on about a third of them (an assumption: the masks were not seen); the RSNA pretext split of
    /// SPEC §6 (107,933 ICH images and as many without, minus the validation images); the ICM set: the
    /// Seg-CQ500 volumes (data/icm pointed at Seg-CQ500, docs/study.md "Real data").
    static DataSizes published(const StudyConfig& c) {
        DataSizes d;
        d.physionet = {75, 2814, 318};
        d.segcq500 = {51, 51 * 250, 51 * 250 / 3};
        d.icm = {51, 51 * 250, 0};
        d.pretext_validation = c.pretext_validation;
        d.pretext_train = 2 * 107933 - c.pretext_validation;
        d.source = "the published datasets (PhysioNet CT-ICH 75 volumes / 2,814 slices / 318 with ICH; Seg-CQ500 "
                   "51 volumes of ~250 slices, ~1/3 with ICH; RSNA 2 x 107,933 balanced pretext images; ICM on "
                   "the Seg-CQ500 volumes)";
        return d;
    }
    /// The phantom settings of the config (before --generate-phantoms has written them): ICH on about a quarter
    /// of the slices of ICH volumes (a rough figure of the phantom generator).
    static DataSizes phantoms(const StudyConfig& c) {
        DataSizes d;
        auto vol = [&](int64_t n, double ich_fraction) {
            Volumes v;
            v.volumes = n;
            v.slices = n * c.phantom_slices;
            v.ich_slices = static_cast<int64_t>(std::llround(ich_fraction * static_cast<double>(v.slices) / 4));
            return v;
        };
        d.physionet = vol(c.phantom_physionet, c.phantom_ich_fraction);
        d.segcq500 = vol(c.phantom_segcq500, 1.0);
        d.icm = vol(c.phantom_icm, 0.0);
        const int64_t images = c.phantom_rsna_studies * c.phantom_rsna_slices;
        const int64_t balanced =
            2 * std::min<int64_t>(static_cast<int64_t>(std::llround(c.phantom_ich_fraction * images / 4)), images / 2);
        d.pretext_validation = std::min<int64_t>(c.pretext_validation, balanced / 2);
        d.pretext_train = std::max<int64_t>(0, balanced - d.pretext_validation);
        d.source = "the phantom settings of the config (not yet generated; ICH slices estimated)";
        return d;
    }
};

// ---- FLOP counts ------------------------------------------------------------------------------------------------

namespace cost {

/// 3x3 convolution at side s.
inline double conv3(int64_t cin, int64_t cout, double s) { return 2.0 * 9 * static_cast<double>(cin * cout) * s * s; }

/// Forward FLOPs of the encoder (all down blocks) on one s x s image.
inline double encoder(const nn::UNetConfig& u, int64_t s) {
    double f = 0;
    int64_t in = u.in_channels;
    for (int64_t i = 0; i < u.depth; ++i) {
        const double side = static_cast<double>(s >> i);
        const int64_t out = u.width(i), mid = out / u.mid_channels_factor;
        f += conv3(in, mid, side) + conv3(mid, out, side);
        in = out;
    }
    return f;
}
/// Forward FLOPs of the first `blocks` decoder blocks.
inline double decoder(const nn::UNetConfig& u, int64_t s, int64_t blocks) {
    double f = 0;
    for (int64_t j = 0; j < blocks; ++j) {
        const int64_t in = u.width(u.depth - 1 - j), c = in / 2;
        const double low = static_cast<double>(s >> (u.depth - 1 - j)), high = 2 * low;
        f += 2.0 * 4 * static_cast<double>(in * c) * low * low;  // 2x2 stride-2 transposed conv
        f += conv3(2 * c, c, high) + conv3(c, c, high);
    }
    return f;
}
/// Forward FLOPs of the whole U-Net (encoder, decoder, 1x1 head).
inline double unet(const nn::UNetConfig& u, int64_t s) {
    return encoder(u, s) + decoder(u, s, u.depth - 1) + 2.0 * static_cast<double>(u.base_width * u.out_channels * s * s);
}
inline double mlp(const std::vector<int64_t>& widths) {
    double f = 0;
    for (size_t i = 0; i + 1 < widths.size(); ++i) f += 2.0 * static_cast<double>(widths[i] * widths[i + 1]);
    return f;
}
/// A training step's FLOPs per forward FLOP (forward + input gradient + weight gradient).
inline constexpr double kTrainFactor = 3.0;

/// Images a training run processes: epochs x the batches of `n` samples (drop_last when the set allows).
inline double images(int64_t n, const StageSpec& s, bool drop_last = false) {
    if (n <= 0) return 0;
    const int64_t per_epoch = drop_last && n >= s.batch_size ? (n / s.batch_size) * s.batch_size : n;
    return static_cast<double>(s.epochs) * static_cast<double>(per_epoch);
}

/// Training FLOPs of a segmentation U-Net on n slices.
inline double segmentation(const StudyConfig& c, int64_t n, const StageSpec& s) {
    return kTrainFactor * unet(c.unet_config(), c.input_size) * images(n, s);
}

/// Training FLOPs of pretext task `p` on n images.
inline double pretext(const StudyConfig& c, Pretext p, int64_t n) {
    const nn::UNetConfig u = c.unet_config();
    const int64_t S = c.input_size;
    switch (p) {
        case Pretext::context_restoration:
            return kTrainFactor * unet(u, S) * images(n, c.context_restoration, true);
        case Pretext::global_contrastive:  // two views per sample
            return 2 * kTrainFactor * (encoder(u, S) + mlp(head_widths(c, p))) * images(n, c.global_contrastive, true);
        case Pretext::local_contrastive: {  // frozen encoder: forward only; decoder blocks + 1x1 head trained
            const int64_t nd = c.local_decoder_blocks();
            const int64_t feat = u.width(u.depth - 1 - nd);
            const double side = static_cast<double>(S >> (u.depth - 1 - nd));
            const double head = 2.0 * (feat * 2 * feat + 2 * feat * (feat / 2)) * side * side;
            return 2 * (encoder(u, S) + kTrainFactor * (decoder(u, S, nd) + head)) * images(n, c.local_contrastive, true);
        }
        default:
            return kTrainFactor * (encoder(u, S) + mlp(head_widths(c, p))) * images(n, c.classification, true);
    }
}

}  // namespace cost

// ---- the plan ---------------------------------------------------------------------------------------------------

/// What the plan is built from besides the config.
struct PlanInputs {
    std::string out;              ///< output folder
    std::string data_root;
    bool generate_phantoms = false;
    bool label_budget = false;    ///< include the label-budget experiment (config label_budget.*)
};

class Plan {
public:
    std::vector<Unit> units;

    const Unit& at(const std::string& key) const {
        auto it = index_.find(key);
        ICHSEG_CHECK(it != index_.end(), "plan: no unit '", key, "'");
        return units[it->second];
    }
    bool has(const std::string& key) const { return index_.count(key) != 0; }
    void add(Unit u) {
        ICHSEG_CHECK(!index_.count(u.key), "plan: unit '", u.key, "' defined twice");
        for (const std::string& d : u.deps)
            ICHSEG_CHECK(index_.count(d), "plan: unit '", u.key, "' depends on '", d, "', which is not defined before it");
        index_[u.key] = units.size();
        units.push_back(std::move(u));
    }
    /// Total estimated FLOPs per stage, in plan order.
    std::vector<std::pair<std::string, double>> flops_per_stage() const {
        std::vector<std::pair<std::string, double>> v;
        for (const Unit& u : units) {
            auto it = std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.first == u.stage; });
            if (it == v.end()) v.emplace_back(u.stage, u.flops);
            else it->second += u.flops;
        }
        return v;
    }

private:
    std::map<std::string, size_t> index_;
};

/// The segmentation methods trained per fold (pretext keys are the transferred models).
inline std::vector<std::string> fold_methods() {
    std::vector<std::string> m{"ich_only", "mixed"};
    for (Pretext p : all_pretexts()) m.push_back(pretext_key(p));
    return m;
}
inline bool is_transfer_method(const std::string& m) { return m != "ich_only" && m != "mixed"; }

/// One ICM U-Net of the study (SPEC §7): the shared pair (dataset empty, fold -1: trained on the whole ICM set,
/// which must be disjoint from the volumes it post-processes), or the pair of one fold of a dataset listed in
/// `icm_per_fold` (trained on the ICM set minus that fold's test volumes).
struct IcmUnit {
    std::string net;      ///< "tissue" or "bone"
    std::string dataset;  ///< "" for the shared pair
    int fold = -1;
    bool shared() const { return dataset.empty(); }
    /// Unit key, progress prefix and checkpoint stem: icm_tissue, segcq500/icm_tissue/fold0.
    std::string key() const {
        return shared() ? "icm_" + net : dataset + "/icm_" + net + "/fold" + std::to_string(fold);
    }
    /// Model file (relative to the output folder).
    std::string model() const { return "models/" + key() + ".safetensors"; }
    /// The training set (volume ids and CT fingerprints), written just before the model.
    std::string training_record() const { return "models/" + key() + ".training.json"; }
};

/// The ICM unit of `net` that post-processes fold `fold` of dataset `ds`.
inline IcmUnit icm_unit_for(const StudyConfig& c, const std::string& ds, int fold, const std::string& net) {
    return c.icm_is_per_fold(ds) ? IcmUnit{net, ds, fold} : IcmUnit{net, "", -1};
}

/// Every ICM unit of a config, in training order: the shared pair (when a dataset uses it), then the per-fold
/// pairs of the datasets in `icm_per_fold`.
inline std::vector<IcmUnit> icm_units(const StudyConfig& c) {
    std::vector<IcmUnit> u;
    if (!c.icm_is_per_fold("physionet") || !c.icm_is_per_fold("segcq500"))
        for (const char* net : {"tissue", "bone"}) u.push_back({net, "", -1});
    for (const std::string ds : {"physionet", "segcq500"}) {
        if (!c.icm_is_per_fold(ds)) continue;
        const int k = ds == "physionet" ? c.physionet_folds : c.segcq500_folds;
        for (int f = 0; f < k; ++f)
            for (const char* net : {"tissue", "bone"}) u.push_back({net, ds, f});
    }
    return u;
}

/// File names of the units' outputs (relative to the output folder).
namespace outputs {
inline std::string icm_model(const std::string& net) { return IcmUnit{net, "", -1}.model(); }
inline std::string pretext_weights(const std::string& task) { return "models/pretext/" + task + ".safetensors"; }
inline std::string tsne_png(const std::string& task) { return "figures/figure5_" + task + ".png"; }
inline std::string fold_result(const std::string& ds, const std::string& m, int k) {
    return "results/" + ds + "/" + m + "/fold" + std::to_string(k) + ".json";
}
inline std::string fold_model(const std::string& ds, const std::string& m, int k) {
    return "models/" + ds + "/" + m + "/fold" + std::to_string(k) + ".safetensors";
}
inline const char* table3() { return "tables/table3.md"; }
inline std::string budget_result(const std::string& key) { return "results/" + key + ".json"; }
inline const char* budget_csv() { return "tables/label_budget.csv"; }
}  // namespace outputs

inline std::string budget_unit_key(const std::string& ds, const std::string& m, int64_t b, int d, int k) {
    return "budget/" + ds + "/" + m + "/n" + std::to_string(b) + "/d" + std::to_string(d) + "/fold" + std::to_string(k);
}

/// The whole study as units, in dependency order; `sizes` fills the cost estimates.
inline Plan build_plan(const StudyConfig& c, const PlanInputs& in, const DataSizes& sizes) {
    Plan plan;
    auto out = [&](const std::string& rel) { return in.out + "/" + rel; };
    std::vector<std::string> base;  // what every unit that reads data depends on
    if (in.generate_phantoms) {
        Unit u;
        u.key = "phantoms";
        u.kind = UnitKind::phantoms;
        u.stage = "phantoms";
        u.outputs = {in.data_root + "/ichseg-phantoms.json"};
        plan.add(u);
        base.push_back(u.key);
    }
    for (const IcmUnit& icm : icm_units(c)) {  // the shared pair and / or one pair per fold (icm_per_fold)
        Unit u;
        u.key = icm.key();
        u.kind = UnitKind::icm;
        u.stage = "ICM";
        u.net = icm.net;
        u.dataset = icm.dataset;
        u.fold = icm.fold;
        u.deps = base;
        u.outputs = {out(icm.model())};
        // a per-fold pair leaves out about one fold's share of the ICM set (its test volumes, when they are in it)
        const int k = icm.shared() ? 0 : (icm.dataset == "physionet" ? c.physionet_folds : c.segcq500_folds);
        const int64_t n = k ? sizes.icm.slices - sizes.icm.slices / k : sizes.icm.slices;
        u.flops = cost::segmentation(c, n, icm.net == "tissue" ? c.icm_tissue : c.icm_bone);
        plan.add(u);
    }
    // the global contrastive model first: the local contrastive model starts from it
    std::vector<Pretext> order{Pretext::global_contrastive};
    for (Pretext p : all_pretexts())
        if (p != Pretext::global_contrastive) order.push_back(p);
    for (Pretext p : order) {
        Unit u;
        u.key = std::string("pretext_") + pretext_key(p);
        u.kind = UnitKind::pretext;
        u.stage = "pretext";
        u.net = pretext_key(p);
        u.deps = base;
        if (p == Pretext::local_contrastive) u.deps.push_back("pretext_global_contrastive");
        u.outputs = {out(outputs::pretext_weights(u.net))};
        u.flops = cost::pretext(c, p, sizes.pretext_train);
        plan.add(u);
    }
    for (Pretext p : all_pretexts()) {
        Unit u;
        u.key = std::string("tsne_") + pretext_key(p);
        u.kind = UnitKind::tsne;
        u.stage = "t-SNE";
        u.net = pretext_key(p);
        u.deps = {std::string("pretext_") + pretext_key(p)};
        u.outputs = {out(outputs::tsne_png(u.net))};
        const double n = static_cast<double>(sizes.pretext_validation);
        u.flops = cost::encoder(c.unet_config(), c.input_size) * n + 20.0 * n * n * c.tsne_iterations;
        plan.add(u);
    }
    auto volumes_of = [&](const std::string& ds) { return ds == "physionet" ? sizes.physionet : sizes.segcq500; };
    auto folds_of = [&](const std::string& ds) { return ds == "physionet" ? c.physionet_folds : c.segcq500_folds; };
    auto stage_of = [&](const std::string& ds) -> const StageSpec& {
        return ds == "physionet" ? c.physionet_supervised : c.segcq500_supervised;
    };
    // training slices of a method with `frac` of the dataset's volumes
    auto train_slices = [&](const std::string& ds, const std::string& m, double frac) {
        const DataSizes::Volumes v = volumes_of(ds);
        const double ich = frac * static_cast<double>(v.ich_slices), all = frac * static_cast<double>(v.slices);
        const double n = m == "ich_only" ? ich : std::min(all, ich * (1 + c.mixed_ratio));
        return static_cast<int64_t>(std::llround(n));
    };
    auto eval_flops = [&](const std::string& ds, bool icm) {
        const DataSizes::Volumes v = volumes_of(ds);
        return (icm ? 3.0 : 1.0) * cost::unet(c.unet_config(), c.input_size) * static_cast<double>(v.slices) /
               folds_of(ds);
    };
    std::vector<std::string> all_folds;
    for (const std::string ds : {"physionet", "segcq500"}) {
        const int k = folds_of(ds);
        for (int f = 0; f < k; ++f)
            for (const std::string& m : fold_methods()) {
                Unit u;
                u.key = ds + "/" + m + "/fold" + std::to_string(f);
                u.kind = UnitKind::fold;
                u.stage = "folds " + ds;
                u.dataset = ds;
                u.method = m;
                u.fold = f;
                u.deps = base;
                for (const char* net : {"tissue", "bone"}) u.deps.push_back(icm_unit_for(c, ds, f, net).key());
                if (is_transfer_method(m)) u.deps.push_back("pretext_" + m);
                u.outputs = {out(outputs::fold_result(ds, m, f))};
                u.flops = cost::segmentation(c, train_slices(ds, m, (k - 1.0) / k), stage_of(ds)) + eval_flops(ds, true);
                all_folds.push_back(u.key);
                plan.add(u);
            }
    }
    {
        Unit u;
        u.key = "report";
        u.kind = UnitKind::report;
        u.stage = "report";
        u.deps = all_folds;
        u.outputs = {out(outputs::table3())};
        plan.add(u);
    }
    if (in.label_budget && !c.label_budget.budgets.empty()) {
        std::vector<std::string> deps;
        for (const std::string& ds : c.label_budget.datasets) {
            const int k = folds_of(ds);
            const DataSizes::Volumes v = volumes_of(ds);
            for (int64_t b : c.label_budget.budgets) {
                if (b == 0) {  // all labelled volumes: the main study's fold models
                    for (int f = 0; f < k; ++f)
                        for (const std::string& m : fold_methods()) deps.push_back(ds + "/" + m + "/fold" + std::to_string(f));
                    continue;
                }
                for (int d = 0; d < c.label_budget.draws; ++d)
                    for (int f = 0; f < k; ++f)
                        for (const std::string& m : fold_methods()) {
                            Unit u;
                            u.key = budget_unit_key(ds, m, b, d, f);
                            u.kind = UnitKind::budget;
                            u.stage = "label budget " + ds;
                            u.dataset = ds;
                            u.method = m;
                            u.fold = f;
                            u.budget = b;
                            u.draw = d;
                            u.deps = base;
                            if (is_transfer_method(m)) u.deps.push_back("pretext_" + m);
                            u.outputs = {out(outputs::budget_result(u.key))};
                            const double train_frac = (k - 1.0) / k;
                            const double frac = std::min(1.0, static_cast<double>(b) / std::max<double>(1, v.volumes));
                            const int64_t n_full = train_slices(ds, m, train_frac), n_b = train_slices(ds, m, frac);
                            const BudgetSchedule s = budget_schedule(c.label_budget.schedule, stage_of(ds), c.lr_decay,
                                                                     n_full, std::max<int64_t>(n_b, 1));
                            u.flops = cost::segmentation(c, std::max<int64_t>(n_b, 1), s.stage) + eval_flops(ds, false);
                            deps.push_back(u.key);
                            plan.add(u);
                        }
            }
        }
        Unit u;
        u.key = "label_budget_report";
        u.kind = UnitKind::budget_report;
        u.stage = "label budget report";
        u.deps = deps;
        std::sort(u.deps.begin(), u.deps.end());
        u.deps.erase(std::unique(u.deps.begin(), u.deps.end()), u.deps.end());
        u.outputs = {out(outputs::budget_csv())};
        plan.add(u);
    }
    return plan;
}

}  // namespace ichseg::study
