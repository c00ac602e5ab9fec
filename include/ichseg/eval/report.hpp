/// @file report.hpp
/// @brief Evaluation outputs, all written atomically: per-volume CSV, per-volume records as JSON (and back), an
/// nnU-Net-style `summary.json` (per-case metrics + means under label "1", plus ichseg's subset summaries), a
/// Markdown table laid out like the paper's Table 3, and p-value matrices as CSV.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/eval/metrics.hpp"
#include "ichseg/eval/stats.hpp"
#include "ichseg/io/atomic_file.hpp"
#include "ichseg/io/text.hpp"

namespace ichseg::eval {

namespace detail {
/// Shortest round-trip text of a double (17 significant digits, trailing zeros trimmed by %g).
inline std::string num(double v) {
    if (std::isnan(v)) return "nan";
    return io::format("%.17g", v);
}
}  // namespace detail

// ---- per-volume CSV --------------------------------------------------------------------------------------------

/// The per-volume CSV text. Columns: method, case_id, fold, has_ich, EDH, IPH, IVH, SAH, SDH, n_slices, TP, FP,
/// FN, TN, Dice, Precision, Recall.
inline std::string volume_csv(const std::vector<MethodResults>& methods) {
    std::ostringstream os;
    os << "method,case_id,fold,has_ich";
    for (const auto& st : subtypes()) os << ',' << st.abbrev;
    os << ",n_slices,TP,FP,FN,TN,Dice,Precision,Recall\n";
    for (const auto& m : methods)
        for (const auto& v : m.volumes) {
            os << io::csv_field(m.method) << ',' << io::csv_field(v.case_id) << ',' << v.fold << ','
               << (v.has_ich ? 1 : 0);
            for (const auto& st : subtypes()) os << ',' << (v.has_subtype(st.bit) ? 1 : 0);
            os << ',' << v.n_slices << ',' << v.counts.tp << ',' << v.counts.fp << ',' << v.counts.fn << ','
               << v.counts.tn << ',' << detail::num(v.dice()) << ',' << detail::num(v.precision()) << ','
               << detail::num(v.recall()) << '\n';
        }
    return os.str();
}

inline void write_volume_csv(const std::string& path, const std::vector<MethodResults>& methods) {
    io::write_file_atomic(path, volume_csv(methods));
}
inline void write_volume_csv(const std::string& path, const MethodResults& method) {
    write_volume_csv(path, std::vector<MethodResults>{method});
}

// ---- per-volume records as JSON ------------------------------------------------------------------------------

/// The records as a JSON array (one object per volume: case_id, fold, has_ich, subtypes, n_slices, tp, fp, fn,
/// tn), e.g. for a fold's result file.
inline nlohmann::json volumes_json(const std::vector<VolumeResult>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : v)
        a.push_back({{"case_id", r.case_id}, {"fold", r.fold}, {"has_ich", r.has_ich}, {"subtypes", r.subtypes},
                     {"n_slices", r.n_slices}, {"tp", r.counts.tp}, {"fp", r.counts.fp}, {"fn", r.counts.fn},
                     {"tn", r.counts.tn}});
    return a;
}

/// The records of `volumes_json`; `where` names the source in errors.
inline std::vector<VolumeResult> volumes_from_json(const nlohmann::json& a, const std::string& where) {
    ICHSEG_CHECK(a.is_array(), where, ": expected an array of volume records");
    std::vector<VolumeResult> out;
    try {
        for (const auto& j : a) {
            VolumeResult r;
            r.case_id = j.at("case_id").get<std::string>();
            r.fold = j.at("fold").get<int>();
            r.has_ich = j.at("has_ich").get<bool>();
            r.subtypes = j.at("subtypes").get<uint32_t>();
            r.n_slices = j.at("n_slices").get<int64_t>();
            r.counts.tp = j.at("tp").get<int64_t>();
            r.counts.fp = j.at("fp").get<int64_t>();
            r.counts.fn = j.at("fn").get<int64_t>();
            r.counts.tn = j.at("tn").get<int64_t>();
            out.push_back(r);
        }
    } catch (const nlohmann::json::exception& e) {
        fail(where, ": malformed volume record: ", e.what());
    }
    return out;
}

// ---- nnU-Net-style summary.json --------------------------------------------------------------------------------

struct SummaryOptions {
    std::string dataset;                       ///< free text, recorded
    double threshold = 0.5;                    ///< recorded (the threshold the accumulators used)
    int ddof = 1;                              ///< sd divisor n - ddof for the subset summaries
    std::vector<std::string> prediction_files; ///< optional, per volume (nnU-Net's "prediction_file")
    std::vector<std::string> reference_files;  ///< optional, per volume (nnU-Net's "reference_file")
};

/// summary.json of one method: nnU-Net v2's layout ("metric_per_case" with metrics under label "1", "mean" and
/// "foreground_mean" over all cases) with the paper's metrics (Dice, Precision, Recall; ε = 1) added to
/// nnU-Net's (Dice, IoU, TP, FP, FN, TN, n_pred, n_ref), and an "ichseg" block with mean/sd/n per subset
/// (all volumes, ICH volumes, each subtype) and the conventions used.
inline nlohmann::json summary_json(const MethodResults& r, const SummaryOptions& opt = {}) {
    using nlohmann::json;
    const std::size_t n = r.volumes.size();
    ICHSEG_CHECK(opt.prediction_files.empty() || opt.prediction_files.size() == n, "summary_json(", r.method,
                 "): ", opt.prediction_files.size(), " prediction files for ", n, " volumes");
    ICHSEG_CHECK(opt.reference_files.empty() || opt.reference_files.size() == n, "summary_json(", r.method, "): ",
                 opt.reference_files.size(), " reference files for ", n, " volumes");
    const char* keys[] = {"Dice", "Precision", "Recall", "IoU", "TP", "FP", "FN", "TN", "n_pred", "n_ref"};
    auto case_metrics = [](const VolumeResult& v) {
        const auto& c = v.counts;
        return std::vector<double>{v.dice(), v.precision(), v.recall(), iou(c), double(c.tp), double(c.fp),
                                   double(c.fn), double(c.tn), double(c.n_pred()), double(c.n_ref())};
    };
    json per_case = json::array();
    std::vector<double> sums(10, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& v = r.volumes[i];
        const auto m = case_metrics(v);
        json mj = json::object();
        for (std::size_t k = 0; k < 10; ++k) {
            sums[k] += m[k];
            if (k >= 4)
                mj[keys[k]] = static_cast<int64_t>(m[k]);
            else
                mj[keys[k]] = m[k];
        }
        json st = json::array();
        for (const auto& s : subtypes())
            if (v.has_subtype(s.bit)) st.push_back(s.abbrev);
        json cj = {{"case_id", v.case_id}, {"fold", v.fold}, {"has_ich", v.has_ich}, {"subtypes", st},
                   {"n_slices", v.n_slices}, {"metrics", {{"1", mj}}}};
        if (!opt.prediction_files.empty()) cj["prediction_file"] = opt.prediction_files[i];
        if (!opt.reference_files.empty()) cj["reference_file"] = opt.reference_files[i];
        per_case.push_back(cj);
    }
    json mean = json::object();
    for (std::size_t k = 0; k < 10; ++k) mean[keys[k]] = n ? sums[k] / static_cast<double>(n) : NAN;
    auto subset = [&](const VolumeFilter& f) {
        const MetricSummary s = summarize_volumes(r.volumes, f, opt.ddof);
        json j = json::object();
        for (Metric m : all_metrics()) j[metric_name(m)] = {{"n", s[m].n}, {"mean", s[m].mean}, {"sd", s[m].sd}};
        return j;
    };
    json subsets = {{"all", subset(all_volumes())}, {"ich", subset(ich_volumes())}};
    for (const auto& s : subtypes()) subsets[s.abbrev] = subset(with_subtype(s.bit));
    json out;
    out["metric_per_case"] = per_case;
    out["mean"] = {{"1", mean}};
    out["foreground_mean"] = mean;
    out["ichseg"] = {{"method", r.method},
                     {"dataset", opt.dataset},
                     {"threshold", opt.threshold},
                     {"epsilon", kMetricEpsilon},
                     {"metric_definitions",
                      {{"Dice", "(2TP+1)/(2TP+FP+FN+1)"},
                       {"Precision", "(TP+1)/(TP+FP+1)"},
                       {"Recall", "(TP+1)/(TP+FN+1)"},
                       {"IoU", "(TP+1)/(TP+FP+FN+1)"}}},
                     {"counts", "summed over the slices of each volume"},
                     {"sd_ddof", opt.ddof},
                     {"subsets", subsets}};
    return out;
}

inline void write_summary_json(const std::string& path, const MethodResults& r, const SummaryOptions& opt = {}) {
    io::write_file_atomic(path, summary_json(r, opt).dump(2) + "\n");
}

// ---- Table 3 ---------------------------------------------------------------------------------------------------

/// One method's row of Table 3; a missing dataset prints as "–".
struct Table3Row {
    std::string method;
    std::optional<MetricSummary> hssayeni_all, hssayeni_ich, segcq500;
};

/// Summaries for a row from the pooled test-fold records of each dataset (nullptr = not evaluated).
inline Table3Row make_table3_row(const std::string& method, const std::vector<VolumeResult>* hssayeni,
                                 const std::vector<VolumeResult>* segcq500, int ddof = 1) {
    Table3Row r;
    r.method = method;
    if (hssayeni) {
        r.hssayeni_all = summarize_volumes(*hssayeni, all_volumes(), ddof);
        r.hssayeni_ich = summarize_volumes(*hssayeni, ich_volumes(), ddof);
    }
    if (segcq500) r.segcq500 = summarize_volumes(*segcq500, all_volumes(), ddof);
    return r;
}

/// compact: the SPEC §9 layout (Dice mean ± sd; Precision and Recall means only, as the SPEC's copy of Table 3);
/// full: the paper's nine columns (Dice, Precision, Recall on all / ICH Hssayeni volumes and on Seg-CQ500), each
/// mean ± sd.
enum class Table3Layout { compact, full };

/// Markdown text of the table (values in %, 2 decimals; the highest mean of each column in bold, as the paper).
inline std::string table3_markdown(const std::vector<Table3Row>& rows, Table3Layout layout = Table3Layout::compact,
                                   int ddof = 1) {
    struct Col {
        std::string head;
        std::optional<MetricSummary> Table3Row::*subset;
        Metric metric;
        bool sd;
    };
    std::vector<Col> cols;
    using M = Metric;
    if (layout == Table3Layout::compact) {
        cols = {{"Hssayeni all: Dice [%]", &Table3Row::hssayeni_all, M::dice, true},
                {"ICH vols: Dice [%]", &Table3Row::hssayeni_ich, M::dice, true},
                {"ICH vols: Prec [%]", &Table3Row::hssayeni_ich, M::precision, false},
                {"ICH vols: Rec [%]", &Table3Row::hssayeni_ich, M::recall, false},
                {"Seg-CQ500: Dice [%]", &Table3Row::segcq500, M::dice, true},
                {"Seg-CQ500: Prec [%]", &Table3Row::segcq500, M::precision, false},
                {"Seg-CQ500: Rec [%]", &Table3Row::segcq500, M::recall, false}};
    } else {
        const std::pair<const char*, std::optional<MetricSummary> Table3Row::*> sets[] = {
            {"Hssayeni all", &Table3Row::hssayeni_all},
            {"Hssayeni ICH vols", &Table3Row::hssayeni_ich},
            {"Seg-CQ500", &Table3Row::segcq500}};
        for (const auto& [name, ptr] : sets)
            for (M m : all_metrics()) cols.push_back({std::string(name) + ": " + metric_name(m) + " [%]", ptr, m, true});
    }
    std::vector<double> best(cols.size(), -INFINITY);
    for (const auto& r : rows)
        for (std::size_t c = 0; c < cols.size(); ++c)
            if ((r.*(cols[c].subset)) && std::isfinite((*(r.*(cols[c].subset)))[cols[c].metric].mean))
                best[c] = std::max(best[c], std::round((*(r.*(cols[c].subset)))[cols[c].metric].mean * 1e4));
    std::ostringstream os;
    os << "| Method |";
    for (const auto& c : cols) os << ' ' << c.head << " |";
    os << "\n|---|";
    for (std::size_t c = 0; c < cols.size(); ++c) os << "---|";
    os << '\n';
    for (const auto& r : rows) {
        os << "| " << r.method << " |";
        for (std::size_t c = 0; c < cols.size(); ++c) {
            const auto& sub = r.*(cols[c].subset);
            if (!sub || (*sub)[cols[c].metric].n == 0) {
                os << " – |";
                continue;
            }
            const Summary& s = (*sub)[cols[c].metric];
            const bool is_best = std::round(s.mean * 1e4) == best[c] && rows.size() > 1;
            std::string mean = io::format("%.2f", 100 * s.mean);
            if (is_best) mean = "**" + mean + "**";
            os << ' ' << mean;
            if (cols[c].sd) os << (std::isfinite(s.sd) ? io::format(" ± %.2f", 100 * s.sd) : std::string(" ± –"));
            os << " |";
        }
        os << '\n';
    }
    // The volume counts behind each column group, from the first row that has them.
    std::size_t n_all = 0, n_ich = 0, n_cq = 0;
    for (const auto& r : rows) {
        if (!n_all && r.hssayeni_all) n_all = r.hssayeni_all->n();
        if (!n_ich && r.hssayeni_ich) n_ich = r.hssayeni_ich->n();
        if (!n_cq && r.segcq500) n_cq = r.segcq500->n();
    }
    os << "\nMean ± standard deviation over the volumes of all test folds (sd with divisor n - " << ddof
       << "), in %; volume metrics with ε = 1, threshold 0.5. Volumes: Hssayeni all n = " << n_all
       << ", Hssayeni ICH n = " << n_ich << ", Seg-CQ500 n = " << n_cq
       << ". The highest mean of each column is in bold.\n";
    return os.str();
}

inline void write_table3_markdown(const std::string& path, const std::vector<Table3Row>& rows,
                                  Table3Layout layout = Table3Layout::compact, int ddof = 1) {
    io::write_file_atomic(path, table3_markdown(rows, layout, ddof));
}

// ---- p-value matrices ------------------------------------------------------------------------------------------

/// A p-value matrix as CSV (first row and column = method names).
inline std::string pvalue_csv(const PairwiseTests& t) {
    std::ostringstream os;
    os << "method";
    for (const auto& n : t.names) os << ',' << io::csv_field(n);
    os << '\n';
    for (std::size_t i = 0; i < t.names.size(); ++i) {
        os << io::csv_field(t.names[i]);
        for (std::size_t j = 0; j < t.names.size(); ++j) os << ',' << detail::num(t.p[i][j]);
        os << '\n';
    }
    return os.str();
}

inline void write_pvalue_csv(const std::string& path, const PairwiseTests& t) {
    io::write_file_atomic(path, pvalue_csv(t));
}

}  // namespace ichseg::eval
