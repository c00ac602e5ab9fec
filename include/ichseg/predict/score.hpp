/// @file score.hpp (predict; needs ichseg::io)
/// @brief Scoring trained models on the independent phantom family (family B, data/phantom_indep.hpp), through
/// the same `Segmenter` that `ichseg_predict` runs (so the numbers are those a user's scan would get):
///  * `score_set`: the cases of a scoring run, a pure function of the options: `count` volumes, a share of them
///    healthy, the others with hemorrhage; two in three hemorrhage volumes are forced to one subtype, cycling
///    EDH, IPH, IVH, SAH, SDH (so all five appear), the rest get family B's random mix (1-3 lesions);
///  * `load_or_make_case`: generate a case, or read it from a volume folder written by an earlier run with the
///    same options (`<dir>/manifest.json` must match), writing it there when the folder is new; CT values are
///    rounded to integer HU and the affine to float32 either way (as scanners and NIfTI headers store them), so
///    both paths give identical inputs;
///  * `score_volume`: segment one case and compare with its ground truth at native resolution: TP / FP / FN,
///    Dice = (2TP + 1) / (2TP + FP + FN + 1) (SPEC §8), precision, recall, predicted and true volume (mL); with
///    the ICM models also the scores without the ICM and the Dice of the ICM's cavity against the true cavity;
///  * `summarize`: mean +- sd of the volume Dice over the hemorrhage volumes, the median predicted volume on the
///    healthy volumes, per-subtype mean Dice; `score_json`, `score_csv_rows`, `summary_line` format them.
/// Family B is never used for training or for choosing settings (docs/design.md: the study, training and
/// evaluation layers may not include it).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ichseg/data/phantom_indep.hpp"
#include "ichseg/data/random.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/io/files.hpp"
#include "ichseg/io/nifti.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/predict/segmenter.hpp"

namespace ichseg::predict {

struct ScoreOptions {
    int64_t count = 20;             ///< volumes
    double healthy_fraction = 0.3;  ///< share of volumes without hemorrhage (rounded)
    uint64_t seed = 15;
    int64_t size = 256;             ///< in-plane matrix
    double thickness_mm = 0;        ///< 0: family B's mix (5 mm in half the cases, else 2.5 or 3.75)
    int64_t slices = 0;             ///< 0: skull base to vertex
};

/// The generator's identity in manifests: bump when family B's output changes, so cached volumes are redone.
inline constexpr const char* kFamilyBVersion = "family-B 1";

struct ScoreCase {
    std::string id;
    uint64_t seed = 0;
    bool healthy = false;
    uint32_t subtypes = 0;  ///< forced subtype bits (0: random mix, or healthy)
};

/// The cases of a scoring run (see the file comment).
inline std::vector<ScoreCase> score_set(const ScoreOptions& o) {
    ICHSEG_CHECK(o.count >= 1 && o.count <= 10000, "score_set: count ", o.count, " outside 1..10000");
    ICHSEG_CHECK(o.healthy_fraction >= 0 && o.healthy_fraction <= 1, "score_set: healthy fraction ",
                 o.healthy_fraction, " outside [0, 1]");
    const int64_t n_healthy = std::clamp<int64_t>(std::llround(o.count * o.healthy_fraction), 0, o.count);
    std::vector<int> healthy(static_cast<size_t>(o.count), 0);
    for (int64_t i = 0; i < n_healthy; ++i) healthy[static_cast<size_t>(i)] = 1;
    data::Rng rng(o.seed, data::stream_id(0x5c0e, 1));
    for (int64_t i = o.count - 1; i > 0; --i)
        std::swap(healthy[static_cast<size_t>(i)], healthy[static_cast<size_t>(rng.randint(0, i))]);
    std::vector<ScoreCase> out;
    int64_t ich_index = 0;
    static const char* names[5] = {"EDH", "IPH", "IVH", "SAH", "SDH"};
    for (int64_t i = 0; i < o.count; ++i) {
        ScoreCase c;
        c.seed = data::mix64(o.seed ^ data::stream_id(0x5c0e, 2, static_cast<uint64_t>(i)));
        c.healthy = healthy[static_cast<size_t>(i)] != 0;
        char id[32];
        if (c.healthy) {
            std::snprintf(id, sizeof id, "B%03lld_healthy", static_cast<long long>(i));
        } else {
            const int64_t k = ich_index++;
            if (k % 3 == 2) {
                std::snprintf(id, sizeof id, "B%03lld_mix", static_cast<long long>(i));
            } else {
                const int64_t forced = (k - k / 3) % 5;  // 0, 1 | 2, 3 | 4, 0 | ... over the forced cases
                c.subtypes = 1u << forced;
                std::snprintf(id, sizeof id, "B%03lld_%s", static_cast<long long>(i), names[forced]);
            }
        }
        c.id = id;
        out.push_back(c);
    }
    return out;
}

/// Family-B parameters of one case.
inline data::indep::IndepParams case_params(const ScoreCase& c, const ScoreOptions& o) {
    data::indep::IndepParams p;
    p.size = o.size;
    p.thickness_mm = o.thickness_mm;
    p.slices = o.slices;
    p.ich = c.healthy ? 0 : 1;
    p.subtypes = c.healthy ? 0 : c.subtypes;
    return p;
}

/// One scoring case with its ground truth.
struct ScoringVolume {
    io::Volume ct;  ///< integer HU
    io::Mask ich, brain;
    io::IchLabels labels;
    double truth_ml = 0;
    std::string description;
};

inline nlohmann::json score_options_json(const ScoreOptions& o) {
    return {{"generator", kFamilyBVersion}, {"count", o.count},        {"healthy_fraction", o.healthy_fraction},
            {"seed", o.seed},               {"size", o.size},          {"thickness_mm", o.thickness_mm},
            {"slices", o.slices}};
}

namespace detail {

/// printf-style formatting without a length limit.
template <class... A>
std::string fmt(const char* f, A... a) {
    const int n = std::snprintf(nullptr, 0, f, a...);
    std::string s(static_cast<size_t>(std::max(0, n)) + 1, '\0');
    std::snprintf(&s[0], s.size(), f, a...);
    s.resize(static_cast<size_t>(std::max(0, n)));
    return s;
}

inline double mask_ml(const io::Mask& m) {
    int64_t n = 0;
    const uint8_t* p = m.voxels.data();
    for (int64_t i = 0; i < m.voxels.numel(); ++i) n += p[i] != 0;
    return static_cast<double>(n) * std::fabs(m.affine.det3()) / 1000.0;
}

inline std::string subtype_list(const io::IchLabels& l) {
    std::string s;
    for (int t = 0; t < io::kNumSubtypes; ++t)
        if (l.subtype[static_cast<size_t>(t)] == 1) s += (s.empty() ? "" : "+") + std::string(io::subtype_name(static_cast<io::IchSubtype>(t)));
    return s.empty() ? "none" : s;
}

inline io::IchLabels labels_of(const io::Mask& ich, const io::Image3D<uint8_t>* bits) {
    io::IchLabels l = io::IchLabels::negative();
    for (int64_t i = 0; i < ich.voxels.numel(); ++i) {
        if (!ich.voxels.data()[i]) continue;
        l.any = 1;
        if (bits)
            for (int t = 0; t < io::kNumSubtypes; ++t)
                if (bits->voxels.data()[i] & (1u << t)) l.subtype[static_cast<size_t>(t)] = 1;
    }
    return l;
}

}  // namespace detail

/// Generate case `c`, or read it from `dir` (non-empty) when an earlier run with the same options wrote it there;
/// a new `dir` receives the case (CT int16, masks uint8, and the subtype map for the labels).
inline ScoringVolume load_or_make_case(const ScoreCase& c, const ScoreOptions& o, const std::string& dir = "") {
    ScoringVolume v;
    const std::string base = dir.empty() ? "" : dir + "/" + c.id;
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(base + "_ct.nii.gz", ec)) {
        v.ct = io::read_nifti(base + "_ct.nii.gz");
        v.ich = io::read_nifti_mask(base + "_ich.nii.gz");
        v.brain = io::read_nifti_mask(base + "_brain.nii.gz");
        const io::Volume bits = io::read_nifti(base + "_subtypes.nii.gz");  // values, not a 0/1 mask
        io::Image3D<uint8_t> b = bits.like<uint8_t>();
        for (int64_t i = 0; i < bits.voxels.numel(); ++i)
            b.voxels.data()[i] = static_cast<uint8_t>(std::lround(bits.voxels.data()[i]));
        v.labels = detail::labels_of(v.ich, &b);
        v.description = "read from " + base + "_ct.nii.gz";
    } else {
        data::indep::IndepCase k = data::indep::generate_indep_phantom(case_params(c, o), c.seed);
        float* p = k.ct.voxels.data();
        for (int64_t i = 0; i < k.ct.voxels.numel(); ++i) p[i] = std::nearbyint(p[i]);
        v.ct = std::move(k.ct);
        v.ich = std::move(k.ich);
        v.brain = std::move(k.brain);
        v.labels = k.labels;
        v.description = k.description;
        // the affine as a NIfTI header stores it (float32), so a kept volume read back is the same volume
        for (io::Affine* a : {&v.ct.affine, &v.ich.affine, &v.brain.affine}) {
            for (double& x : a->m) x = static_cast<double>(static_cast<float>(x));
        }
        v.ct.spacing = v.ich.spacing = v.brain.spacing = v.ct.affine.spacing();
        if (!dir.empty()) {
            io::write_nifti(base + "_ct.nii.gz", v.ct);
            io::write_nifti(base + "_ich.nii.gz", v.ich);
            io::write_nifti(base + "_brain.nii.gz", v.brain);
            io::Mask bits = v.ich;
            bits.voxels = k.subtype_bits.voxels;
            io::NiftiWriteOptions wo;
            wo.dtype = io::NiftiDtype::uint8;
            io::write_nifti(base + "_subtypes.nii.gz", bits, wo);
        }
    }
    v.ct.source.path = c.id;
    v.truth_ml = detail::mask_ml(v.ich);
    return v;
}

/// Prepare a volume folder: create it and its manifest, or check that its manifest was written with the same
/// options (an error naming the folder otherwise: cached volumes of other options must not be mixed in).
inline void prepare_volume_dir(const std::string& dir, const ScoreOptions& o) {
    const std::string man = dir + "/manifest.json";
    const nlohmann::json want = score_options_json(o);
    std::error_code ec;
    if (std::filesystem::exists(man, ec)) {
        const nlohmann::json have = io::read_json_file(man);
        if (have != want)
            fail(dir, ": its volumes were written with other options (", have.dump(), "; this run: ", want.dump(),
                 "): use another folder");
        return;
    }
    io::make_dirs(dir);
    io::write_file_atomic(man, want.dump(2) + "\n");
}

struct VolumeScore {
    std::string id;
    bool has_ich = false;
    std::string subtypes;          ///< "EDH+SAH", "none"
    io::IchLabels labels;
    double truth_ml = 0;
    eval::ConfusionCounts counts;  ///< with the ICM when loaded
    double pred_ml = 0, dice = 0, precision = 0, recall = 0;
    bool has_plain = false;        ///< the ICM was applied: the scores without it follow
    eval::ConfusionCounts counts_plain;
    double pred_ml_plain = 0, dice_plain = 0;
    double cavity_dice = -1;       ///< ICM cavity vs the true cavity (-1 without ICM)
    double seconds = 0;
};

inline eval::ConfusionCounts confusion(const io::Mask& pred, const io::Mask& truth) {
    ICHSEG_CHECK(pred.voxels.numel() == truth.voxels.numel(), "confusion: mask sizes differ (",
                 pred.voxels.numel(), " vs ", truth.voxels.numel(), ")");
    eval::ConfusionCounts c;
    const uint8_t* p = pred.voxels.data();
    const uint8_t* t = truth.voxels.data();
    for (int64_t i = 0; i < pred.voxels.numel(); ++i) {
        const bool a = p[i] != 0, b = t[i] != 0;
        c.tp += a && b;
        c.fp += a && !b;
        c.fn += !a && b;
        c.tn += !a && !b;
    }
    return c;
}

/// Segment `v` with `seg` (its options are left as they were) and score the result.
inline VolumeScore score_volume(Segmenter& seg, const ScoringVolume& v, const std::string& id) {
    const auto t0 = std::chrono::steady_clock::now();
    SegmenterOptions& so = seg.options();
    const bool kc = so.keep_cavity, kp = so.keep_plain_mask;
    so.keep_cavity = seg.has_icm();
    so.keep_plain_mask = seg.has_icm();
    SegmentationResult r;
    try {
        r = seg.segment(v.ct);
    } catch (...) {
        so.keep_cavity = kc;
        so.keep_plain_mask = kp;
        throw;
    }
    so.keep_cavity = kc;
    so.keep_plain_mask = kp;
    VolumeScore s;
    s.id = id;
    s.labels = v.labels;
    s.has_ich = v.labels.any == 1;
    s.subtypes = detail::subtype_list(v.labels);
    s.truth_ml = v.truth_ml;
    s.counts = confusion(r.mask, v.ich);
    s.pred_ml = r.report.volume_ml;
    s.dice = eval::dice(s.counts);
    s.precision = eval::precision(s.counts);
    s.recall = eval::recall(s.counts);
    if (seg.has_icm()) {
        s.has_plain = true;
        s.counts_plain = confusion(r.plain_mask, v.ich);
        s.pred_ml_plain = detail::mask_ml(r.plain_mask);
        s.dice_plain = eval::dice(s.counts_plain);
        const eval::ConfusionCounts cc = confusion(r.cavity, v.brain);
        s.cavity_dice = eval::dice(cc);
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
}

struct ScoreSummary {
    int64_t volumes = 0, ich_volumes = 0, healthy_volumes = 0;
    double mean_dice_ich = std::nan(""), sd_dice_ich = std::nan(""), mean_dice_all = std::nan("");
    double median_ml_healthy = std::nan(""), max_ml_healthy = std::nan("");
    bool has_plain = false;
    double mean_dice_ich_plain = std::nan(""), median_ml_healthy_plain = std::nan("");
    double mean_cavity_dice = std::nan("");
    std::array<double, 5> mean_dice_subtype{};  ///< over hemorrhage volumes containing the subtype (NaN if none)
    std::array<int64_t, 5> n_subtype{};
};

namespace detail {

inline double median(std::vector<double> v) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
inline double mean(const std::vector<double>& v) {
    if (v.empty()) return std::nan("");
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
}
inline double sd(const std::vector<double>& v) {  // sample standard deviation (n - 1)
    if (v.size() < 2) return std::nan("");
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace detail

inline ScoreSummary summarize(const std::vector<VolumeScore>& vs) {
    ScoreSummary s;
    std::vector<double> dice_ich, dice_all, ml_healthy, dice_ich_plain, ml_healthy_plain, cavity;
    std::array<std::vector<double>, 5> by_subtype;
    for (const VolumeScore& v : vs) {
        ++s.volumes;
        dice_all.push_back(v.dice);
        if (v.cavity_dice >= 0) cavity.push_back(v.cavity_dice);
        if (v.has_plain) s.has_plain = true;
        if (v.has_ich) {
            ++s.ich_volumes;
            dice_ich.push_back(v.dice);
            if (v.has_plain) dice_ich_plain.push_back(v.dice_plain);
            for (int t = 0; t < 5; ++t)
                if (v.labels.subtype[static_cast<size_t>(t)] == 1) by_subtype[static_cast<size_t>(t)].push_back(v.dice);
        } else {
            ++s.healthy_volumes;
            ml_healthy.push_back(v.pred_ml);
            if (v.has_plain) ml_healthy_plain.push_back(v.pred_ml_plain);
        }
    }
    s.mean_dice_ich = detail::mean(dice_ich);
    s.sd_dice_ich = detail::sd(dice_ich);
    s.mean_dice_all = detail::mean(dice_all);
    s.median_ml_healthy = detail::median(ml_healthy);
    s.max_ml_healthy = ml_healthy.empty() ? std::nan("") : *std::max_element(ml_healthy.begin(), ml_healthy.end());
    s.mean_dice_ich_plain = detail::mean(dice_ich_plain);
    s.median_ml_healthy_plain = detail::median(ml_healthy_plain);
    s.mean_cavity_dice = detail::mean(cavity);
    for (size_t t = 0; t < 5; ++t) {
        s.n_subtype[t] = static_cast<int64_t>(by_subtype[t].size());
        s.mean_dice_subtype[t] = detail::mean(by_subtype[t]);
    }
    return s;
}

namespace detail {
inline nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace detail

inline nlohmann::json volume_score_json(const VolumeScore& v) {
    nlohmann::json j = {{"case", v.id},
                        {"has_ich", v.has_ich},
                        {"subtypes", v.subtypes},
                        {"truth_ml", v.truth_ml},
                        {"pred_ml", v.pred_ml},
                        {"dice", v.dice},
                        {"precision", v.precision},
                        {"recall", v.recall},
                        {"tp", v.counts.tp},
                        {"fp", v.counts.fp},
                        {"fn", v.counts.fn},
                        {"seconds", v.seconds}};
    if (v.has_plain) {
        j["without_icm"] = {{"pred_ml", v.pred_ml_plain}, {"dice", v.dice_plain}, {"tp", v.counts_plain.tp},
                            {"fp", v.counts_plain.fp}, {"fn", v.counts_plain.fn}};
        j["cavity_dice"] = v.cavity_dice;
    }
    return j;
}

inline nlohmann::json summary_json(const ScoreSummary& s) {
    using detail::num;
    nlohmann::json j = {{"volumes", s.volumes},
                        {"ich_volumes", s.ich_volumes},
                        {"healthy_volumes", s.healthy_volumes},
                        {"mean_dice_ich_volumes", num(s.mean_dice_ich)},
                        {"sd_dice_ich_volumes", num(s.sd_dice_ich)},
                        {"mean_dice_all_volumes", num(s.mean_dice_all)},
                        {"median_pred_ml_healthy", num(s.median_ml_healthy)},
                        {"max_pred_ml_healthy", num(s.max_ml_healthy)}};
    nlohmann::json sub = nlohmann::json::object();
    for (int t = 0; t < 5; ++t)
        sub[io::subtype_name(static_cast<io::IchSubtype>(t))] = {{"volumes", s.n_subtype[static_cast<size_t>(t)]},
                                                                 {"mean_dice", num(s.mean_dice_subtype[static_cast<size_t>(t)])}};
    j["by_subtype"] = sub;
    if (s.has_plain) {
        j["without_icm"] = {{"mean_dice_ich_volumes", num(s.mean_dice_ich_plain)},
                            {"median_pred_ml_healthy", num(s.median_ml_healthy_plain)}};
        j["mean_cavity_dice"] = num(s.mean_cavity_dice);
    }
    return j;
}

inline std::string score_csv_header() {
    return "model,case,has_ich,subtypes,truth_ml,pred_ml,dice,precision,recall,tp,fp,fn,pred_ml_without_icm,"
           "dice_without_icm,cavity_dice\n";
}

inline std::string score_csv_row(const std::string& model, const VolumeScore& v) {
    std::string r = io::csv_field(model) + "," + io::csv_field(v.id) + "," + (v.has_ich ? "1" : "0") + "," +
                    io::csv_field(v.subtypes);
    r += detail::fmt(",%.4f,%.4f,%.6f,%.6f,%.6f,%lld,%lld,%lld", v.truth_ml, v.pred_ml, v.dice, v.precision, v.recall,
                    static_cast<long long>(v.counts.tp), static_cast<long long>(v.counts.fp),
                    static_cast<long long>(v.counts.fn));
    if (v.has_plain) r += detail::fmt(",%.4f,%.6f,%.6f", v.pred_ml_plain, v.dice_plain, v.cavity_dice);
    else r += ",,,";
    return r + "\n";
}

/// One console line: "<model>: ICH-volume Dice 0.612 +- 0.201 (n = 14), healthy median 0.00 mL (n = 6) [...]".
inline std::string summary_line(const std::string& model, const ScoreSummary& s) {
    std::string line = detail::fmt("%s: ICH-volume Dice %.3f +- %.3f (n = %lld), healthy median %.2f mL (max %.2f, n = %lld)",
                                  model.c_str(), s.mean_dice_ich, s.sd_dice_ich, static_cast<long long>(s.ich_volumes),
                                  s.median_ml_healthy, s.max_ml_healthy, static_cast<long long>(s.healthy_volumes));
    if (s.has_plain)
        line += detail::fmt("; without ICM: Dice %.3f, healthy median %.2f mL; ICM cavity Dice %.3f",
                           s.mean_dice_ich_plain, s.median_ml_healthy_plain, s.mean_cavity_dice);
    return line;
}

}  // namespace ichseg::predict
