/// @file metrics.hpp
/// @brief Volume-level segmentation metrics (SPEC §8): TP / FP / FN summed over a volume's slices at threshold
/// 0.5, then Dice = (2TP+1)/(2TP+FP+FN+1), Precision = (TP+1)/(TP+FP+1), Recall = (TP+1)/(TP+FN+1); an
/// accumulator fed slice by slice (with an optional intracranial-cavity mask), per-volume records with ICH
/// subtypes, and mean ± sd summaries over subsets of volumes (all, ICH only, one subtype).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/eval/stats.hpp"
#include "ichseg/io/labels.hpp"

namespace ichseg::eval {

// ---- ICH subtypes ----------------------------------------------------------------------------------------------

/// The five ICH subtypes as bits of a mask (a volume may hold several). Order = the paper's Figure 5 order.
enum Subtype : uint32_t { EDH = 1u << 0, IPH = 1u << 1, IVH = 1u << 2, SAH = 1u << 3, SDH = 1u << 4 };

/// The subtype bits of a volume's (or slice's) labels: bit s where `labels.subtype[s]` is 1 (io::IchSubtype
/// order == Subtype order).
inline uint32_t subtype_bits(const io::IchLabels& labels) {
    static_assert(static_cast<int>(io::IchSubtype::EDH) == 0 && static_cast<int>(io::IchSubtype::SDH) == 4 &&
                      SDH == 1u << 4,
                  "io::IchSubtype and eval::Subtype must list the subtypes in the same order");
    uint32_t b = 0;
    for (int s = 0; s < io::kNumSubtypes; ++s)
        if (labels.subtype[static_cast<size_t>(s)] == 1) b |= 1u << s;
    return b;
}

/// One row of the subtype table: its bit, its abbreviation and its full name.
struct SubtypeInfo {
    uint32_t bit;
    const char* abbrev;
    const char* name;
};

/// EDH, IPH, IVH, SAH, SDH with their names, in that order.
inline const std::array<SubtypeInfo, 5>& subtypes() {
    static const std::array<SubtypeInfo, 5> t{{{EDH, "EDH", "epidural"},
                                               {IPH, "IPH", "intraparenchymal"},
                                               {IVH, "IVH", "intraventricular"},
                                               {SAH, "SAH", "subarachnoid"},
                                               {SDH, "SDH", "subdural"}}};
    return t;
}

// ---- confusion counts and the three metrics ------------------------------------------------------------------

/// Pixel counts of one slice or one volume.
struct ConfusionCounts {
    int64_t tp = 0, fp = 0, fn = 0, tn = 0;
    ConfusionCounts& operator+=(const ConfusionCounts& o) {
        tp += o.tp;
        fp += o.fp;
        fn += o.fn;
        tn += o.tn;
        return *this;
    }
    int64_t n_pred() const { return tp + fp; }  ///< predicted positive pixels
    int64_t n_ref() const { return tp + fn; }   ///< reference positive pixels
};

/// The smoothing constant of SPEC §8 (ε = 1 in numerator and denominator).
inline constexpr double kMetricEpsilon = 1.0;

inline double dice(const ConfusionCounts& c) {
    return (2.0 * c.tp + kMetricEpsilon) / (2.0 * c.tp + c.fp + c.fn + kMetricEpsilon);
}
inline double precision(const ConfusionCounts& c) {
    return (c.tp + kMetricEpsilon) / (static_cast<double>(c.tp + c.fp) + kMetricEpsilon);
}
inline double recall(const ConfusionCounts& c) {
    return (c.tp + kMetricEpsilon) / (static_cast<double>(c.tp + c.fn) + kMetricEpsilon);
}
/// IoU with the same ε (reported in summary.json for nnU-Net compatibility; not a paper metric).
inline double iou(const ConfusionCounts& c) {
    return (c.tp + kMetricEpsilon) / (static_cast<double>(c.tp + c.fp + c.fn) + kMetricEpsilon);
}

/// The metrics compared in the paper.
enum class Metric { dice, precision, recall };

inline const std::array<Metric, 3>& all_metrics() {
    static const std::array<Metric, 3> m{Metric::dice, Metric::precision, Metric::recall};
    return m;
}

/// "Dice", "Precision", "Recall" (the keys used in CSV, summary.json and figures).
inline const char* metric_name(Metric m) {
    switch (m) {
        case Metric::dice: return "Dice";
        case Metric::precision: return "Precision";
        case Metric::recall: return "Recall";
    }
    return "?";
}

inline double metric_value(const ConfusionCounts& c, Metric m) {
    switch (m) {
        case Metric::dice: return dice(c);
        case Metric::precision: return precision(c);
        case Metric::recall: return recall(c);
    }
    return std::nan("");
}

/// Counts of one slice (or any flat array of n pixels): predicted positive when prob >= threshold (the authors'
/// `pred >= 0.5`) and, when `icm` is given, icm != 0 (predictions outside the intracranial cavity are set to 0);
/// reference positive when mask > 0.
template <class P, class M, class I = uint8_t>
ConfusionCounts count_slice(const P* prob, const M* mask, std::size_t n, const I* icm = nullptr,
                            double threshold = 0.5) {
    ICHSEG_CHECK(n == 0 || (prob && mask), "count_slice: null probability or mask pointer for ", n, " pixels");
    ConfusionCounts c;
    for (std::size_t i = 0; i < n; ++i) {
        const bool pred = static_cast<double>(prob[i]) >= threshold && (icm == nullptr || icm[i] != I(0));
        const bool ref = mask[i] > M(0);
        c.tp += pred && ref;
        c.fp += pred && !ref;
        c.fn += !pred && ref;
        c.tn += !pred && !ref;
    }
    return c;
}

// ---- per-volume records ----------------------------------------------------------------------------------------

/// Everything the evaluation keeps about one test volume of one method.
struct VolumeResult {
    std::string case_id;       ///< volume identifier (e.g. "049" or a CQ500 name)
    int fold = -1;             ///< test fold the volume belonged to (-1: unknown)
    bool has_ich = false;      ///< reference label: the volume contains ICH
    uint32_t subtypes = 0;     ///< bit mask of Subtype present in the volume
    int64_t n_slices = 0;      ///< slices accumulated
    ConfusionCounts counts;    ///< summed over the volume's slices

    double dice() const { return eval::dice(counts); }
    double precision() const { return eval::precision(counts); }
    double recall() const { return eval::recall(counts); }
    double metric(Metric m) const { return metric_value(counts, m); }
    bool has_subtype(uint32_t bit) const { return (subtypes & bit) != 0; }
};

/// Accumulates one volume slice by slice. `has_ich` defaults to "the reference has a positive pixel" (the
/// authors' `label = max(mask)`), unless set explicitly from the dataset's labels with set_has_ich().
class VolumeAccumulator {
public:
    explicit VolumeAccumulator(std::string case_id, int fold = -1, double threshold = 0.5)
        : threshold_(threshold) {
        r_.case_id = std::move(case_id);
        r_.fold = fold;
        ICHSEG_CHECK(threshold > 0 && threshold < 1, "VolumeAccumulator(", r_.case_id,
                     "): threshold must lie in (0, 1), got ", threshold);
    }

    /// Add one slice of n pixels: sigmoid probabilities, reference mask (> 0 is positive), optional ICM mask
    /// (!= 0 is inside the cavity; predictions outside are zeroed).
    template <class P, class M, class I = uint8_t>
    void add_slice(const P* prob, const M* mask, std::size_t n, const I* icm = nullptr) {
        ICHSEG_CHECK(n > 0, "VolumeAccumulator(", r_.case_id, "): empty slice");
        if (slice_pixels_ == 0) slice_pixels_ = n;
        ICHSEG_CHECK(n == slice_pixels_, "VolumeAccumulator(", r_.case_id, "): slice ", r_.n_slices, " has ", n,
                     " pixels but earlier slices had ", slice_pixels_);
        add_counts(count_slice(prob, mask, n, icm, threshold_));
    }

    /// std::vector convenience; sizes must agree.
    template <class P, class M>
    void add_slice(const std::vector<P>& prob, const std::vector<M>& mask) {
        ICHSEG_CHECK(prob.size() == mask.size(), "VolumeAccumulator(", r_.case_id, "): slice ", r_.n_slices,
                     " has ", prob.size(), " probabilities but ", mask.size(), " mask pixels");
        add_slice(prob.data(), mask.data(), prob.size(), static_cast<const uint8_t*>(nullptr));
    }
    template <class P, class M, class I>
    void add_slice(const std::vector<P>& prob, const std::vector<M>& mask, const std::vector<I>& icm) {
        ICHSEG_CHECK(prob.size() == mask.size() && prob.size() == icm.size(), "VolumeAccumulator(", r_.case_id,
                     "): slice ", r_.n_slices, " sizes differ: ", prob.size(), " probabilities, ", mask.size(),
                     " mask pixels, ", icm.size(), " ICM pixels");
        add_slice(prob.data(), mask.data(), prob.size(), icm.data());
    }

    /// Add counts computed elsewhere (e.g. on the GPU) as one slice.
    void add_counts(const ConfusionCounts& c) {
        ICHSEG_CHECK(c.tp >= 0 && c.fp >= 0 && c.fn >= 0 && c.tn >= 0, "VolumeAccumulator(", r_.case_id,
                     "): negative counts TP=", c.tp, " FP=", c.fp, " FN=", c.fn, " TN=", c.tn);
        r_.counts += c;
        ++r_.n_slices;
    }

    void set_has_ich(bool v) {
        has_ich_set_ = true;
        r_.has_ich = v;
    }
    void set_subtypes(uint32_t bits) {
        ICHSEG_CHECK((bits & ~uint32_t(31)) == 0, "VolumeAccumulator(", r_.case_id, "): unknown subtype bits ",
                     bits);
        r_.subtypes = bits;
    }
    const ConfusionCounts& counts() const { return r_.counts; }

    /// The volume's record. has_ich = set value, else reference positive pixels > 0; subtypes imply ICH.
    VolumeResult finish() const {
        VolumeResult r = r_;
        if (!has_ich_set_) r.has_ich = r.counts.n_ref() > 0 || r.subtypes != 0;
        return r;
    }

private:
    VolumeResult r_;
    double threshold_;
    std::size_t slice_pixels_ = 0;
    bool has_ich_set_ = false;
};

// ---- subsets and summaries -------------------------------------------------------------------------------------

/// Predicate selecting volumes (the subsets of Table 3 and Figure 3).
using VolumeFilter = std::function<bool(const VolumeResult&)>;

inline VolumeFilter all_volumes() {
    return [](const VolumeResult&) { return true; };
}
inline VolumeFilter ich_volumes() {
    return [](const VolumeResult& v) { return v.has_ich; };
}
inline VolumeFilter non_ich_volumes() {
    return [](const VolumeResult& v) { return !v.has_ich; };
}
inline VolumeFilter with_subtype(uint32_t bit) {
    return [bit](const VolumeResult& v) { return v.has_subtype(bit); };
}

/// Values of one metric over the selected volumes, in record order.
inline std::vector<double> metric_values(const std::vector<VolumeResult>& volumes, Metric m,
                                         const VolumeFilter& keep = all_volumes()) {
    std::vector<double> out;
    for (const auto& v : volumes)
        if (keep(v)) out.push_back(v.metric(m));
    return out;
}

/// mean ± sd of Dice, Precision and Recall over one subset.
struct MetricSummary {
    Summary dice, precision, recall;
    const Summary& operator[](Metric m) const {
        return m == Metric::dice ? dice : (m == Metric::precision ? precision : recall);
    }
    std::size_t n() const { return dice.n; }
};

/// Summaries of the three metrics over the selected volumes (sd with divisor n - ddof; default sample sd).
inline MetricSummary summarize_volumes(const std::vector<VolumeResult>& volumes,
                                       const VolumeFilter& keep = all_volumes(), int ddof = 1) {
    MetricSummary s;
    s.dice = summarize(metric_values(volumes, Metric::dice, keep), ddof);
    s.precision = summarize(metric_values(volumes, Metric::precision, keep), ddof);
    s.recall = summarize(metric_values(volumes, Metric::recall, keep), ddof);
    return s;
}

/// The per-volume results of one method on one dataset (all test folds pooled).
struct MethodResults {
    std::string method;
    std::vector<VolumeResult> volumes;
};

/// Pairwise Welch tests of one metric between methods, over the selected volumes.
inline PairwiseTests pairwise_welch(const std::vector<MethodResults>& methods, Metric m,
                                    const VolumeFilter& keep = all_volumes()) {
    std::vector<std::string> names;
    std::vector<std::vector<double>> samples;
    for (const auto& r : methods) {
        names.push_back(r.method);
        samples.push_back(metric_values(r.volumes, m, keep));
    }
    return pairwise_welch(names, samples);
}

}  // namespace ichseg::eval
