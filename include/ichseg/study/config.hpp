/// @file config.hpp (study)
/// @brief Every setting of the reproduction (SPEC §5-8) in one struct, with three built-in profiles:
///  * `paper`: the published hyper-parameters (256 px, U-Net base width 32 / depth 5, epochs and batch sizes of
///    SPEC §5), meant for a GPU and the real datasets;
///  * `quick`: the same protocol (10 / 5 volume-level folds, Mixed 2:1 drawn once per fold, alpha 0.2, threshold
///    0.5, eps 1, all six pretext tasks, ICM) at 64 px with a narrow U-Net (base width 8, depth 4), few epochs
///    and few phantoms, so that the 120 fold trainings run on a 2-core CPU in about 20 minutes;
///  * `tiny`: a miniature of the same code path for the tests (2 folds, 32 px).
/// A JSON file may override any subset of the keys; unknown keys and bad values are errors naming the key and
/// the file.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "ichseg/core/error.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/nn/unet.hpp"

namespace ichseg::study {

/// Epochs and batch size of one training stage (SPEC §5 table).
struct StageSpec {
    int epochs = 1;
    int64_t batch_size = 16;
};

struct StudyConfig {
    std::string profile = "paper";
    uint64_t seed = 20230101;
    int threads = 0;              ///< compute threads (0 = all cores)
    int loader_threads = 2;       ///< batch-building threads
    Precision precision = Precision::FP32;  ///< "fp32" | "bf16": product precision of training and evaluation

    // Networks (SPEC §3)
    int64_t input_size = 256;
    nn::UNetConfig unet{};        ///< in/out channels and sigmoid are fixed by each stage

    // Optimisation (SPEC §5)
    double lr = 1e-3;
    double weight_decay = 1e-6;
    double lr_decay = 0.96;
    bool augment = true;          ///< SPEC §2 segmentation augmentation during training
    int64_t checkpoint_every = 0; ///< also checkpoint every N batches (0: at epoch ends only)

    StageSpec icm_tissue{50, 20}, icm_bone{50, 16};
    StageSpec physionet_supervised{100, 16};
    StageSpec segcq500_supervised{40, 32};
    StageSpec context_restoration{50, 32};
    StageSpec global_contrastive{50, 60};
    StageSpec local_contrastive{50, 24};
    StageSpec classification{50, 64};   ///< binary and both multi-label variants

    // Protocol (SPEC §6-8)
    int physionet_folds = 10;
    int segcq500_folds = 5;
    double mixed_ratio = 2.0;
    double alpha = 0.2;
    double threshold = 0.5;
    int64_t pretext_validation = 5000;
    int64_t context_swaps = 20;
    int64_t context_patch = 20;         ///< side of the swapped patches at input_size
    double contrastive_tau = 0.1;
    int64_t local_cell = 3;
    int64_t local_regions = 20;
    double tsne_perplexity = 30;
    int tsne_iterations = 1000;

    // Phantom generation (--generate-phantoms)
    int64_t phantom_size = 256;
    int64_t phantom_slices = 24;
    double phantom_spacing = 5.0;
    int64_t phantom_physionet = 75;
    int64_t phantom_segcq500 = 51;
    int64_t phantom_icm = 20;           ///< volumes with cavity masks for the ICM U-Nets
    int64_t phantom_rsna_studies = 100;
    int64_t phantom_rsna_slices = 24;
    double phantom_ich_fraction = 0.5;  ///< PhysioNet and RSNA share of ICH volumes
    double phantom_fov = 0;             ///< reconstruction field of view (mm); 0 = random U(210, 250) per volume
    double phantom_lesion_scale = 1.0;  ///< data::PhantomParams::lesion_scale (1 = clinical size ranges)

    /// The U-Net of a stage: width / depth / factor / dropout from the config.
    nn::UNetConfig unet_config(bool sigmoid = true) const {
        nn::UNetConfig c = unet;
        c.in_channels = 1;
        c.out_channels = 1;
        c.output_sigmoid = sigmoid;
        return c;
    }
    int64_t bottleneck_width() const { return unet.width(unet.depth - 1); }
    /// Decoder blocks of the local-contrastive partial U-Net: all but the last (paper: 3 of 4).
    int64_t local_decoder_blocks() const { return unet.depth - 2; }

    void validate(const std::string& where = "config") const;
};

// ---- JSON ------------------------------------------------------------------------------------------------------

namespace detail {

inline nlohmann::json stage_json(const StageSpec& s) { return {{"epochs", s.epochs}, {"batch_size", s.batch_size}}; }

/// Read `key` of object `j` into `v`, naming the key and the source on a type error.
template <class V>
void read_key(const nlohmann::json& j, const std::string& key, V& v, const std::string& where) {
    if (!j.contains(key)) return;
    try {
        v = j.at(key).get<V>();
    } catch (const nlohmann::json::exception&) {
        fail(where, ": key '", key, "' has the wrong type (", j.at(key).dump(), ")");
    }
}

inline void check_keys(const nlohmann::json& j, const nlohmann::json& known, const std::string& where,
                       const std::string& prefix) {
    ICHSEG_CHECK(j.is_object(), where, ": '", prefix.empty() ? std::string("(top level)") : prefix,
                 "' must be a JSON object, got ", j.dump());
    for (auto it = j.begin(); it != j.end(); ++it)
        ICHSEG_CHECK(known.contains(it.key()), where, ": unknown key '", prefix + it.key(), "'");
}

}  // namespace detail

inline nlohmann::json to_json(const StudyConfig& c) {
    using nlohmann::json;
    return json{{"profile", c.profile},
                {"seed", c.seed},
                {"threads", c.threads},
                {"loader_threads", c.loader_threads},
                {"precision", precision_name(c.precision)},
                {"input_size", c.input_size},
                {"unet",
                 {{"base_width", c.unet.base_width},
                  {"depth", c.unet.depth},
                  {"mid_channels_factor", c.unet.mid_channels_factor},
                  {"dropout", c.unet.dropout}}},
                {"lr", c.lr},
                {"weight_decay", c.weight_decay},
                {"lr_decay", c.lr_decay},
                {"augment", c.augment},
                {"checkpoint_every", c.checkpoint_every},
                {"stages",
                 {{"icm_tissue", detail::stage_json(c.icm_tissue)},
                  {"icm_bone", detail::stage_json(c.icm_bone)},
                  {"physionet_supervised", detail::stage_json(c.physionet_supervised)},
                  {"segcq500_supervised", detail::stage_json(c.segcq500_supervised)},
                  {"context_restoration", detail::stage_json(c.context_restoration)},
                  {"global_contrastive", detail::stage_json(c.global_contrastive)},
                  {"local_contrastive", detail::stage_json(c.local_contrastive)},
                  {"classification", detail::stage_json(c.classification)}}},
                {"physionet_folds", c.physionet_folds},
                {"segcq500_folds", c.segcq500_folds},
                {"mixed_ratio", c.mixed_ratio},
                {"alpha", c.alpha},
                {"threshold", c.threshold},
                {"pretext_validation", c.pretext_validation},
                {"context_swaps", c.context_swaps},
                {"context_patch", c.context_patch},
                {"contrastive_tau", c.contrastive_tau},
                {"local_cell", c.local_cell},
                {"local_regions", c.local_regions},
                {"tsne_perplexity", c.tsne_perplexity},
                {"tsne_iterations", c.tsne_iterations},
                {"phantoms",
                 {{"size", c.phantom_size},
                  {"slices", c.phantom_slices},
                  {"spacing", c.phantom_spacing},
                  {"physionet", c.phantom_physionet},
                  {"segcq500", c.phantom_segcq500},
                  {"icm", c.phantom_icm},
                  {"rsna_studies", c.phantom_rsna_studies},
                  {"rsna_slices", c.phantom_rsna_slices},
                  {"ich_fraction", c.phantom_ich_fraction},
                  {"fov", c.phantom_fov},
                  {"lesion_scale", c.phantom_lesion_scale}}}};
}

/// Overlay the keys present in `j` onto `c`; `where` names the source (file) in error messages.
inline void apply_json(StudyConfig& c, const nlohmann::json& j, const std::string& where) {
    const nlohmann::json known = to_json(c);
    detail::check_keys(j, known, where, "");
    using detail::read_key;
    read_key(j, "profile", c.profile, where);
    read_key(j, "seed", c.seed, where);
    read_key(j, "threads", c.threads, where);
    read_key(j, "loader_threads", c.loader_threads, where);
    if (j.contains("precision")) {
        std::string prec;
        read_key(j, "precision", prec, where);
        c.precision = parse_precision(prec, (where + ": key 'precision'").c_str());
    }
    read_key(j, "input_size", c.input_size, where);
    if (j.contains("unet")) {
        const auto& u = j.at("unet");
        detail::check_keys(u, known.at("unet"), where, "unet.");
        read_key(u, "base_width", c.unet.base_width, where);
        read_key(u, "depth", c.unet.depth, where);
        read_key(u, "mid_channels_factor", c.unet.mid_channels_factor, where);
        read_key(u, "dropout", c.unet.dropout, where);
    }
    read_key(j, "lr", c.lr, where);
    read_key(j, "weight_decay", c.weight_decay, where);
    read_key(j, "lr_decay", c.lr_decay, where);
    read_key(j, "augment", c.augment, where);
    read_key(j, "checkpoint_every", c.checkpoint_every, where);
    if (j.contains("stages")) {
        const auto& s = j.at("stages");
        detail::check_keys(s, known.at("stages"), where, "stages.");
        const std::pair<const char*, StageSpec*> stages[] = {
            {"icm_tissue", &c.icm_tissue},
            {"icm_bone", &c.icm_bone},
            {"physionet_supervised", &c.physionet_supervised},
            {"segcq500_supervised", &c.segcq500_supervised},
            {"context_restoration", &c.context_restoration},
            {"global_contrastive", &c.global_contrastive},
            {"local_contrastive", &c.local_contrastive},
            {"classification", &c.classification}};
        for (const auto& [name, spec] : stages) {
            if (!s.contains(name)) continue;
            const std::string p = std::string("stages.") + name + ".";
            detail::check_keys(s.at(name), known.at("stages").at(name), where, p);
            read_key(s.at(name), "epochs", spec->epochs, where + " (" + p + "epochs)");
            read_key(s.at(name), "batch_size", spec->batch_size, where + " (" + p + "batch_size)");
        }
    }
    read_key(j, "physionet_folds", c.physionet_folds, where);
    read_key(j, "segcq500_folds", c.segcq500_folds, where);
    read_key(j, "mixed_ratio", c.mixed_ratio, where);
    read_key(j, "alpha", c.alpha, where);
    read_key(j, "threshold", c.threshold, where);
    read_key(j, "pretext_validation", c.pretext_validation, where);
    read_key(j, "context_swaps", c.context_swaps, where);
    read_key(j, "context_patch", c.context_patch, where);
    read_key(j, "contrastive_tau", c.contrastive_tau, where);
    read_key(j, "local_cell", c.local_cell, where);
    read_key(j, "local_regions", c.local_regions, where);
    read_key(j, "tsne_perplexity", c.tsne_perplexity, where);
    read_key(j, "tsne_iterations", c.tsne_iterations, where);
    if (j.contains("phantoms")) {
        const auto& p = j.at("phantoms");
        detail::check_keys(p, known.at("phantoms"), where, "phantoms.");
        read_key(p, "size", c.phantom_size, where);
        read_key(p, "slices", c.phantom_slices, where);
        read_key(p, "spacing", c.phantom_spacing, where);
        read_key(p, "physionet", c.phantom_physionet, where);
        read_key(p, "segcq500", c.phantom_segcq500, where);
        read_key(p, "icm", c.phantom_icm, where);
        read_key(p, "rsna_studies", c.phantom_rsna_studies, where);
        read_key(p, "rsna_slices", c.phantom_rsna_slices, where);
        read_key(p, "ich_fraction", c.phantom_ich_fraction, where);
        read_key(p, "fov", c.phantom_fov, where);
        read_key(p, "lesion_scale", c.phantom_lesion_scale, where);
    }
}

inline void StudyConfig::validate(const std::string& where) const {
    auto need = [&](bool ok, const std::string& key, const auto& value, const char* rule) {
        if (!ok) {
            std::ostringstream os;
            os << value;
            fail(where, ": '", key, "' = ", os.str(), " is invalid (", rule, ")");
        }
    };
    need(profile == "paper" || profile == "quick" || profile == "tiny", "profile", profile, "paper, quick or tiny");
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
    const std::pair<const char*, const StageSpec*> stages[] = {
        {"icm_tissue", &icm_tissue},
        {"icm_bone", &icm_bone},
        {"physionet_supervised", &physionet_supervised},
        {"segcq500_supervised", &segcq500_supervised},
        {"context_restoration", &context_restoration},
        {"global_contrastive", &global_contrastive},
        {"local_contrastive", &local_contrastive},
        {"classification", &classification}};
    for (const auto& [name, s] : stages) {
        need(s->epochs >= 1, std::string("stages.") + name + ".epochs", s->epochs, ">= 1");
        need(s->batch_size >= 2, std::string("stages.") + name + ".batch_size", s->batch_size,
             ">= 2 (batch norm and the contrastive losses need two samples)");
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

/// A built-in profile: "paper", "quick" or "tiny".
inline StudyConfig profile_config(const std::string& name) {
    StudyConfig c;  // paper defaults
    if (name == "paper") return c;
    if (name == "quick") {
        c.profile = "quick";
        c.input_size = 64;
        c.unet.base_width = 8;
        c.unet.depth = 4;
        c.lr = 5e-3;  // few epochs: a larger step (docs/deviations.md)
        c.augment = false;  // ~100 steps per model: augmentation slowed convergence (docs/deviations.md)
        c.icm_tissue = {12, 8};
        c.icm_bone = {12, 8};
        c.physionet_supervised = {8, 8};
        c.segcq500_supervised = {8, 8};
        c.context_restoration = {2, 16};
        c.global_contrastive = {2, 16};
        c.local_contrastive = {2, 16};
        c.classification = {2, 16};
        c.pretext_validation = 100;
        c.context_patch = 5;
        c.tsne_iterations = 500;
        // 64 px over a 200 mm field of view (3.1 mm pixels), 6 slices of 5 mm (the PhysioNet spacing), hemorrhages
        // twice their clinical size (SAH: twice as thick, so that it spans a 3.1 mm pixel) and 30 PhysioNet-layout
        // volumes, so that each fold trains on ~13 ICH volumes (docs/deviations.md)
        c.phantom_size = 64;
        c.phantom_slices = 6;
        c.phantom_spacing = 5.0;
        c.phantom_fov = 200;
        c.phantom_lesion_scale = 2.0;
        c.phantom_physionet = 30;
        c.phantom_segcq500 = 6;
        c.phantom_icm = 12;
        c.phantom_rsna_studies = 20;
        c.phantom_rsna_slices = 10;
        return c;
    }
    if (name == "tiny") {
        c.profile = "tiny";
        c.input_size = 32;
        c.unet.base_width = 4;
        c.unet.depth = 3;
        c.icm_tissue = {1, 8};
        c.icm_bone = {1, 8};
        c.physionet_supervised = {2, 8};
        c.segcq500_supervised = {2, 8};
        c.context_restoration = {1, 8};
        c.global_contrastive = {1, 8};
        c.local_contrastive = {1, 8};
        c.classification = {1, 8};
        c.physionet_folds = 2;
        c.segcq500_folds = 2;
        c.pretext_validation = 24;
        c.context_patch = 3;
        c.context_swaps = 4;
        c.local_regions = 4;
        c.tsne_perplexity = 5;
        c.tsne_iterations = 300;
        c.phantom_size = 32;
        c.phantom_slices = 6;
        c.phantom_spacing = 10.0;
        c.phantom_physionet = 4;
        c.phantom_segcq500 = 3;
        c.phantom_icm = 2;
        c.phantom_rsna_studies = 4;
        c.phantom_rsna_slices = 6;
        return c;
    }
    fail("unknown profile '", name, "' (expected paper, quick or tiny)");
}

/// Parse a config file: the profile named in the file (or `base_profile`) overlaid with the file's keys.
inline StudyConfig load_config(const std::string& path, const std::string& base_profile = "") {
    std::ifstream f(path);
    ICHSEG_CHECK(f.good(), path, ": cannot open the config file");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(f);
    } catch (const nlohmann::json::exception& e) {
        fail(path, ": not valid JSON: ", e.what());
    }
    ICHSEG_CHECK(j.is_object(), path, ": the config must be a JSON object");
    std::string prof = base_profile.empty() ? "paper" : base_profile;
    if (j.contains("profile")) {
        ICHSEG_CHECK(j.at("profile").is_string(), path, ": key 'profile' must be a string");
        prof = j.at("profile").get<std::string>();
        ICHSEG_CHECK(prof == "paper" || prof == "quick" || prof == "tiny", path, ": key 'profile' = '", prof,
                     "' is invalid (paper, quick or tiny)");
    }
    StudyConfig c = profile_config(prof);
    apply_json(c, j, path);
    c.validate(path);
    return c;
}

}  // namespace ichseg::study
