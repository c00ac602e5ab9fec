/// @file config.hpp (study)
/// @brief Every setting of the reproduction (SPEC §5-8) in one struct, and the built-in profiles. A profile is a
/// JSON file in examples/configs/ that sets every key; those files are the only place the profiles' values are
/// written: the build embeds them (cmake/IchsegProfiles.cmake generates study/builtin_profiles.hpp), so
/// `profile_config("quick")` needs no file at run time. The three profiles:
///  * `paper`: the published hyper-parameters (256 px, U-Net base width 32 / depth 5, epochs and batch sizes of
///    SPEC §5), meant for a GPU and the real datasets;
///  * `quick`: the same protocol (10 / 5 volume-level folds, Mixed 2:1 drawn once per fold, alpha 0.2, threshold
///    0.5, eps 1, all six pretext tasks, ICM) at 64 px with a narrow U-Net (base width 8, depth 4), few epochs
///    and few phantoms, so that the 120 fold trainings run on a 2-core CPU in about 20 minutes (its file says why
///    each value differs from the paper's; docs/deviations.md);
///  * `tiny`: a miniature of the same code path for the tests (2 folds, 32 px).
/// A user's JSON file names its base profile ("profile", default paper) and overrides any subset of the keys;
/// unknown keys and bad values are errors naming the key and the file. A default-constructed StudyConfig is
/// empty (zeros; it does not validate): start from `profile_config`.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/io/files.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/study/builtin_profiles.hpp"

namespace ichseg {
/// The config key "precision" as JSON: "fp32" | "bf16"; any other value is an error naming the key.
inline void to_json(nlohmann::json& j, Precision p) { j = precision_name(p); }
inline void from_json(const nlohmann::json& j, Precision& p) {
    ICHSEG_CHECK(j.is_string(), "key 'precision' must be \"fp32\" or \"bf16\", got ", j.dump());
    p = parse_precision(j.get<std::string>(), "key 'precision'");
}
}  // namespace ichseg

namespace ichseg::study {

/// Epochs and batch size of one training stage (SPEC §5 table).
struct StageSpec {
    int epochs = 0;
    int64_t batch_size = 0;
};

/// The label-budget experiment (study/budget.hpp). It runs when asked for (`ichseg_reproduce --label-budget`);
/// these keys only say which extra units exist, so they are not part of an output folder's config identity.
struct LabelBudgetSpec {
    std::vector<int64_t> budgets;        ///< labelled training volumes per model; 0 = all (the main study's models)
    int draws = 0;                       ///< random subsets per budget
    std::vector<std::string> datasets;   ///< "physionet", "segcq500"
    std::string schedule;                ///< "steps" (as many optimiser steps as with all volumes) or "epochs"
};

/// The values come from a profile (examples/configs/<profile>.json) and a user's file; the meaning of each key
/// is documented here, its value in the profile files.
struct StudyConfig {
    std::string profile;          ///< the built-in profile this config starts from
    uint64_t seed = 0;
    int threads = 0;              ///< compute threads (0 = all cores)
    int loader_threads = 0;       ///< batch-building threads
    Precision precision = Precision::FP32;  ///< "fp32" | "bf16": product precision of training and evaluation

    // Networks (SPEC §3)
    int64_t input_size = 0;       ///< network input side (pixels)
    nn::UNetConfig unet{};        ///< width / depth / factor / dropout; in/out channels and sigmoid are fixed by each stage

    // Optimisation (SPEC §5)
    double lr = 0;                ///< Adam learning rate
    double weight_decay = 0;      ///< coupled L2
    double lr_decay = 0;          ///< learning rate multiplied by this after every epoch
    bool augment = false;         ///< SPEC §2 segmentation augmentation during training
    int64_t checkpoint_every = 0; ///< also checkpoint every N batches (0: at epoch ends only)

    StageSpec icm_tissue, icm_bone;
    /// Datasets ("physionet", "segcq500") whose ICM is trained per fold on the ICM set minus that fold's test
    /// volumes (use it when <data>/icm holds volumes of that dataset, e.g. Seg-CQ500's own brain masks). The
    /// other datasets share one ICM pair trained on the whole ICM set, which must then be disjoint from them
    /// (checked: a volume the ICM trained on is never post-processed by it).
    std::vector<std::string> icm_per_fold;
    StageSpec physionet_supervised;
    StageSpec segcq500_supervised;
    StageSpec context_restoration;
    StageSpec global_contrastive;
    StageSpec local_contrastive;
    StageSpec classification;     ///< binary and both multi-label variants


    // Protocol (SPEC §6-8)
    int physionet_folds = 0;
    int segcq500_folds = 0;
    double mixed_ratio = 0;             ///< non-ICH : ICH slices of the Mixed recipe
    double alpha = 0;                   ///< Dice weight of empty-mask samples
    double threshold = 0;               ///< p >= threshold is foreground
    int64_t pretext_validation = 0;     ///< balanced validation images of the pretext set (t-SNE)
    int64_t context_swaps = 0;
    int64_t context_patch = 0;          ///< side of the swapped patches at input_size
    double contrastive_tau = 0;
    int64_t local_cell = 0;
    int64_t local_regions = 0;
    double tsne_perplexity = 0;
    int tsne_iterations = 0;
    LabelBudgetSpec label_budget;

    // Phantom generation (--generate-phantoms)
    int64_t phantom_size = 0;
    int64_t phantom_slices = 0;
    double phantom_spacing = 0;
    int64_t phantom_physionet = 0;
    int64_t phantom_segcq500 = 0;
    int64_t phantom_icm = 0;            ///< volumes with cavity masks for the ICM U-Nets
    int64_t phantom_rsna_studies = 0;
    int64_t phantom_rsna_slices = 0;
    double phantom_ich_fraction = 0;    ///< PhysioNet and RSNA share of ICH volumes
    double phantom_fov = 0;             ///< reconstruction field of view (mm); 0 = random U(210, 250) per volume
    double phantom_lesion_scale = 0;    ///< data::PhantomParams::lesion_scale (1 = clinical size ranges)
    bool phantom_slab_anywhere = false; ///< data::PhantomParams::slab_anywhere: slabs at every level of the head

    // Report
    std::string table_note;             ///< paragraph written above Table 3 (what the numbers are, and are not)

    /// The U-Net of a stage: width / depth / factor / dropout from the config.
    nn::UNetConfig unet_config(bool sigmoid = true) const {
        nn::UNetConfig c = unet;
        c.in_channels = 1;
        c.out_channels = 1;
        c.output_sigmoid = sigmoid;
        return c;
    }
    int64_t bottleneck_width() const { return unet.width(unet.depth - 1); }
    /// Whether dataset `ds` gets one ICM pair per fold (icm_per_fold) rather than the shared pair.
    bool icm_is_per_fold(const std::string& ds) const {
        return std::find(icm_per_fold.begin(), icm_per_fold.end(), ds) != icm_per_fold.end();
    }
    /// Decoder blocks of the local-contrastive partial U-Net: all but the last (paper: 3 of 4).
    int64_t local_decoder_blocks() const { return unet.depth - 2; }

    void validate(const std::string& where = "config") const;
};

// ---- JSON ------------------------------------------------------------------------------------------------------

namespace detail {

/// JSON pointer of a dotted key ("stages.icm_bone.epochs" -> /stages/icm_bone/epochs).
inline nlohmann::json::json_pointer key_pointer(const std::string& key) {
    std::string p = "/" + key;
    std::replace(p.begin(), p.end(), '.', '/');
    return nlohmann::json::json_pointer(p);
}

/// A key named "//" holds comments (a string or an array of strings) and is ignored.
inline bool is_comment_key(const std::string& k) { return k == "//"; }

/// Error naming the first key of `j` that `known` lacks (recursively: `prefix` is the path so far).
inline void check_keys(const nlohmann::json& j, const nlohmann::json& known, const std::string& where,
                       const std::string& prefix) {
    ICHSEG_CHECK(j.is_object(), where, ": '", prefix.empty() ? std::string("(top level)") : prefix,
                 "' must be a JSON object, got ", j.dump());
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (is_comment_key(it.key())) continue;
        ICHSEG_CHECK(known.contains(it.key()), where, ": unknown key '", prefix + it.key(), "'");
        if (known.at(it.key()).is_object()) check_keys(it.value(), known.at(it.key()), where, prefix + it.key() + ".");
    }
}

inline const BuiltinProfile* find_builtin_profile(const std::string& name) {
    for (const BuiltinProfile& p : kBuiltinProfiles)
        if (name == p.name) return &p;
    return nullptr;
}

}  // namespace detail

/// The names of the built-in profiles, in file-name order ("paper", "quick", "tiny").
inline std::vector<std::string> profile_names() {
    std::vector<std::string> v;
    for (const detail::BuiltinProfile& p : detail::kBuiltinProfiles) v.push_back(p.name);
    return v;
}

/// "paper, quick or tiny".
inline std::string profile_list() {
    const std::vector<std::string> v = profile_names();
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i == 0 ? "" : (i + 1 == v.size() ? " or " : ", ")) + v[i];
    return s;
}

/// Every key of the config file (dotted: nested objects) with the field that holds it: the one list that writing
/// (`to_json`), reading (`apply_json`) and the completeness check of the profiles use.
template <class Config, class F>
void for_each_key(Config& c, F&& f) {
    f("profile", c.profile);
    f("seed", c.seed);
    f("threads", c.threads);
    f("loader_threads", c.loader_threads);
    f("precision", c.precision);
    f("input_size", c.input_size);
    f("unet.base_width", c.unet.base_width);
    f("unet.depth", c.unet.depth);
    f("unet.mid_channels_factor", c.unet.mid_channels_factor);
    f("unet.dropout", c.unet.dropout);
    f("lr", c.lr);
    f("weight_decay", c.weight_decay);
    f("lr_decay", c.lr_decay);
    f("augment", c.augment);
    f("checkpoint_every", c.checkpoint_every);
    auto stage = [&](const char* name, auto& spec) {
        f(std::string("stages.") + name + ".epochs", spec.epochs);
        f(std::string("stages.") + name + ".batch_size", spec.batch_size);
    };
    stage("icm_tissue", c.icm_tissue);
    stage("icm_bone", c.icm_bone);
    f("icm_per_fold", c.icm_per_fold);
    stage("physionet_supervised", c.physionet_supervised);
    stage("segcq500_supervised", c.segcq500_supervised);
    stage("context_restoration", c.context_restoration);
    stage("global_contrastive", c.global_contrastive);
    stage("local_contrastive", c.local_contrastive);
    stage("classification", c.classification);
    f("physionet_folds", c.physionet_folds);
    f("segcq500_folds", c.segcq500_folds);
    f("mixed_ratio", c.mixed_ratio);
    f("alpha", c.alpha);
    f("threshold", c.threshold);
    f("pretext_validation", c.pretext_validation);
    f("context_swaps", c.context_swaps);
    f("context_patch", c.context_patch);
    f("contrastive_tau", c.contrastive_tau);
    f("local_cell", c.local_cell);
    f("local_regions", c.local_regions);
    f("tsne_perplexity", c.tsne_perplexity);
    f("tsne_iterations", c.tsne_iterations);
    f("label_budget.budgets", c.label_budget.budgets);
    f("label_budget.draws", c.label_budget.draws);
    f("label_budget.datasets", c.label_budget.datasets);
    f("label_budget.schedule", c.label_budget.schedule);
    f("phantoms.size", c.phantom_size);
    f("phantoms.slices", c.phantom_slices);
    f("phantoms.spacing", c.phantom_spacing);
    f("phantoms.physionet", c.phantom_physionet);
    f("phantoms.segcq500", c.phantom_segcq500);
    f("phantoms.icm", c.phantom_icm);
    f("phantoms.rsna_studies", c.phantom_rsna_studies);
    f("phantoms.rsna_slices", c.phantom_rsna_slices);
    f("phantoms.ich_fraction", c.phantom_ich_fraction);
    f("phantoms.fov", c.phantom_fov);
    f("phantoms.lesion_scale", c.phantom_lesion_scale);
    f("phantoms.slab_anywhere", c.phantom_slab_anywhere);
    f("table_note", c.table_note);
}

inline nlohmann::json to_json(const StudyConfig& c) {
    nlohmann::json j = nlohmann::json::object();
    for_each_key(c, [&](const std::string& key, const auto& v) { j[detail::key_pointer(key)] = v; });
    return j;
}

namespace detail {
/// Error naming the first key of the config that `j` does not set: a built-in profile sets them all.
inline void check_complete(const nlohmann::json& j, const std::string& where) {
    const StudyConfig c;
    for_each_key(c, [&](const std::string& key, const auto&) {
        ICHSEG_CHECK(j.contains(key_pointer(key)), where, ": a built-in profile must set every key; '", key,
                     "' is missing");
    });
}
}  // namespace detail

/// Overlay the keys present in `j` onto `c`; `where` names the source (file) in error messages.
inline void apply_json(StudyConfig& c, const nlohmann::json& j, const std::string& where) {
    detail::check_keys(j, to_json(c), where, "");
    for_each_key(c, [&](const std::string& key, auto& v) {
        const auto ptr = detail::key_pointer(key);
        if (!j.contains(ptr)) return;
        try {
            v = j.at(ptr).get<std::decay_t<decltype(v)>>();
        } catch (const nlohmann::json::exception&) {
            fail(where, ": key '", key, "' has the wrong type (", j.at(ptr).dump(), ")");
        } catch (const Error& e) {  // a value the key's own parser refuses (precision)
            fail(where, ": ", e.what());
        }
    });
}

inline void StudyConfig::validate(const std::string& where) const {
    auto need = [&](bool ok, const std::string& key, const auto& value, const char* rule) {
        if (!ok) {
            std::ostringstream os;
            os << value;
            fail(where, ": '", key, "' = ", os.str(), " is invalid (", rule, ")");
        }
    };
    need(detail::find_builtin_profile(profile) != nullptr, "profile", profile, profile_list().c_str());
    need(threads >= 0, "threads", threads, "0 = all cores, or >= 1");
    need(loader_threads >= 1, "loader_threads", loader_threads, ">= 1");
    need(unet.base_width >= 1, "unet.base_width", unet.base_width, ">= 1");
    need(unet.depth >= 3 && unet.depth <= 8, "unet.depth", unet.depth, "3..8 (the local contrastive model needs 3)");
    need(unet.mid_channels_factor == 1 || unet.mid_channels_factor == 2, "unet.mid_channels_factor",
         unet.mid_channels_factor, "1 or 2");
    need(unet.dropout >= 0 && unet.dropout < 1, "unet.dropout", unet.dropout, "[0, 1)");
    const int64_t m = int64_t(1) << (unet.depth - 1);
    need(input_size >= m && input_size % m == 0, "input_size", input_size, "a positive multiple of 2^(depth-1)");
    need(lr > 0, "lr", lr, "> 0");
    need(weight_decay >= 0, "weight_decay", weight_decay, ">= 0");
    need(lr_decay > 0 && lr_decay <= 1, "lr_decay", lr_decay, "(0, 1]");
    need(checkpoint_every >= 0, "checkpoint_every", checkpoint_every, ">= 0");
    for_each_key(*this, [&](const std::string& key, const auto& v) {  // every stage's epochs and batch size
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) {
            if (key.rfind("stages.", 0) != 0) return;
            if (key.size() > 7 && key.compare(key.size() - 7, 7, ".epochs") == 0)
                need(v >= 1, key, v, ">= 1");
            else
                need(v >= 2, key, v, ">= 2 (batch norm and the contrastive losses need two samples)");
        }
    });
    for (size_t i = 0; i < icm_per_fold.size(); ++i) {
        const std::string& d = icm_per_fold[i];
        need(d == "physionet" || d == "segcq500", "icm_per_fold", d, "dataset names: \"physionet\", \"segcq500\"");
        need(std::find(icm_per_fold.begin(), icm_per_fold.begin() + static_cast<std::ptrdiff_t>(i), d) ==
                 icm_per_fold.begin() + static_cast<std::ptrdiff_t>(i),
             "icm_per_fold", d, "each dataset once");
    }
    need(physionet_folds >= 2, "physionet_folds", physionet_folds, ">= 2");
    need(segcq500_folds >= 2, "segcq500_folds", segcq500_folds, ">= 2");
    need(mixed_ratio >= 0, "mixed_ratio", mixed_ratio, ">= 0");
    need(alpha >= 0 && alpha <= 1, "alpha", alpha, "[0, 1]");
    need(threshold > 0 && threshold < 1, "threshold", threshold, "(0, 1)");
    need(pretext_validation >= 4, "pretext_validation", pretext_validation, ">= 4 (t-SNE needs points)");
    need(context_swaps >= 1, "context_swaps", context_swaps, ">= 1");
    need(context_patch >= 1 && 2 * context_patch <= input_size, "context_patch", context_patch,
         ">= 1 and two patches must fit in input_size");
    need(contrastive_tau > 0, "contrastive_tau", contrastive_tau, "> 0");
    need(local_cell >= 1, "local_cell", local_cell, ">= 1");
    const int64_t fmap = input_size >> (unet.depth - 1 - local_decoder_blocks());
    const int64_t cells = (fmap / local_cell) * (fmap / local_cell);
    need(local_regions >= 2 && local_regions <= cells, "local_regions", local_regions,
         "2 .. the number of cells of the local feature map");
    need(tsne_perplexity > 0, "tsne_perplexity", tsne_perplexity, "> 0");
    for (int64_t b : label_budget.budgets) need(b >= 0, "label_budget.budgets", b, "volumes >= 1, or 0 for all");
    need(label_budget.draws >= 1, "label_budget.draws", label_budget.draws, ">= 1");
    for (const std::string& d : label_budget.datasets)
        need(d == "physionet" || d == "segcq500", "label_budget.datasets", d, "physionet or segcq500");
    need(label_budget.schedule == "steps" || label_budget.schedule == "epochs", "label_budget.schedule",
         label_budget.schedule, "steps or epochs");
    need(tsne_iterations >= 260, "tsne_iterations", tsne_iterations, ">= 260 (250 early-exaggeration iterations)");
    need(phantom_size >= 32, "phantoms.size", phantom_size, ">= 32");
    need(phantom_slices >= 2, "phantoms.slices", phantom_slices, ">= 2");
    need(phantom_spacing > 0, "phantoms.spacing", phantom_spacing, "> 0");
    need(phantom_physionet >= 2 * physionet_folds, "phantoms.physionet", phantom_physionet,
         ">= 2 x physionet_folds (every fold needs ICH and non-ICH volumes)");
    need(phantom_segcq500 >= segcq500_folds, "phantoms.segcq500", phantom_segcq500, ">= segcq500_folds");
    need(phantom_icm >= 2, "phantoms.icm", phantom_icm, ">= 2");
    need(phantom_rsna_studies >= 2, "phantoms.rsna_studies", phantom_rsna_studies, ">= 2");
    need(phantom_rsna_slices >= 2, "phantoms.rsna_slices", phantom_rsna_slices, ">= 2");
    need(phantom_ich_fraction > 0 && phantom_ich_fraction < 1, "phantoms.ich_fraction", phantom_ich_fraction,
         "(0, 1)");
    need(phantom_fov == 0 || (phantom_fov >= 100 && phantom_fov <= 500), "phantoms.fov", phantom_fov,
         "0 (random 210-250 mm) or 100..500 mm");
    need(phantom_lesion_scale >= 0.25 && phantom_lesion_scale <= 3, "phantoms.lesion_scale", phantom_lesion_scale,
         "0.25..3");
}

/// A built-in profile by name (examples/configs/<name>.json, embedded at build time).
inline StudyConfig profile_config(const std::string& name) {
    const detail::BuiltinProfile* p = detail::find_builtin_profile(name);
    if (!p) fail("unknown profile '", name, "' (expected ", profile_list(), ")");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(p->json);
    } catch (const nlohmann::json::exception& e) {
        fail(p->source, ": not valid JSON: ", e.what());
    }
    ICHSEG_CHECK(j.is_object(), p->source, ": the profile must be a JSON object");
    detail::check_complete(j, p->source);
    StudyConfig c;
    ICHSEG_CHECK(j.at("profile") == name, p->source, ": key 'profile' = ", j.at("profile").dump(),
                 " must name the file's own profile '", name, "'");
    apply_json(c, j, p->source);
    c.validate(p->source);
    return c;
}

/// Parse a config file: the profile named in the file (or `base_profile`) overlaid with the file's keys.
inline StudyConfig load_config(const std::string& path, const std::string& base_profile = "") {
    const nlohmann::json j = io::read_json_file(path);
    ICHSEG_CHECK(j.is_object(), path, ": the config must be a JSON object");
    std::string prof = base_profile.empty() ? "paper" : base_profile;
    if (j.contains("profile")) {
        ICHSEG_CHECK(j.at("profile").is_string(), path, ": key 'profile' must be a string");
        prof = j.at("profile").get<std::string>();
        ICHSEG_CHECK(detail::find_builtin_profile(prof) != nullptr, path, ": key 'profile' = '", prof,
                     "' is invalid (", profile_list(), ")");
    }
    StudyConfig c = profile_config(prof);
    apply_json(c, j, path);
    c.validate(path);
    return c;
}

}  // namespace ichseg::study
