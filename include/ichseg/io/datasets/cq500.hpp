/// @file cq500.hpp
/// @brief CQ500 (qure.ai, Chilamkurthy et al. 2018), datasets.md §1c:
/// ```
///   <root>/[any batch folders/]CQ500CT<n> CQ500CT<n>/Unknown Study/CT <SeriesDescription>/CT000000.dcm ...
///   <root>/reads.csv      name (CQ500-CT-<n>), Category, R1:ICH, R1:IPH, R1:IVH, R1:SDH, R1:EDH, R1:SAH, ... x 3 readers
/// ```
/// Patient folders are found at any depth (a folder whose name starts with "CQ500CT<n>"); every DICOM file below
/// one is read (headers only) and grouped by SeriesInstanceUID (dicom.hpp: localizers and odd-orientation images
/// dropped, slices ordered along the normal). Labels are volume-level: a finding is present when at least 2 of
/// the 3 readers marked it (the usual CQ500 ground truth); there are no slice labels and no masks.
///
/// Series-selection rule (one series per patient, logged as the case's `note`):
///  1. candidates: CT, >= `min_slices` usable images, axial (normal within 30 deg of z), no duplicate positions;
///  2. prefer series without contrast (ContrastBolusAgent empty, description without CONTRAST/POST/C+, "PRE
///     CONTRAST" and "NON CONTRAST" count as plain);
///  3. prefer a soft-tissue reconstruction (kernel / description without BONE, SHARP, LUNG, EDGE);
///  4. prefer complete geometry (no missing slice, even spacing);
///  5. prefer thin slices (`prefer_thin`, default: the smallest step; Seg-CQ500 used thin series) or the step
///     closest to 5 mm (`prefer_thin = false`, the PhysioNet-like thickness);
///  6. then more slices, then the smaller SeriesInstanceUID.
/// Patients without any candidate are skipped with the reasons; patients without a reads.csv row keep unknown
/// labels (useful for self-supervised pre-training) and a warning.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/datasets/cq500_reads.hpp"
#include "ichseg/io/dicom.hpp"

namespace ichseg::io {

struct Cq500Options {
    std::string reads_csv;      ///< default: <root>/reads.csv (searched one level down too)
    bool prefer_thin = true;    ///< series rule step 5
    int64_t min_slices = 5;
    SeriesReadOptions series;   ///< passed to read_dicom_series (missing / uneven slices refused by default)
};

class Cq500Dataset : public VolumeDataset {
public:
    explicit Cq500Dataset(const std::string& root, const Cq500Options& opt = {}) : opt_(opt) {
        using namespace detail;
        if (!is_dir(root)) fail(root, ": CQ500 folder not found");
        std::string reads = opt.reads_csv;
        if (reads.empty()) {
            reads = find_child_ci(root, "reads.csv");
            if (reads.empty())
                for (const auto& e : list_dir(root))
                    if (is_dir(join(root, e)) && !(reads = find_child_ci(join(root, e), "reads.csv")).empty()) break;
        }
        if (!reads.empty()) {
            std::vector<Skipped> bad;
            reads_ = parse_cq500_reads(read_text_file(reads), reads, &bad);
            for (auto& b : bad) skipped_.push_back(b);
        } else {
            record_skip(skipped_, root, "reads.csv not found: every patient has unknown labels");
        }
        // patient folders at any depth
        std::map<int64_t, std::string> patients;
        std::error_code ec;
        for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
             !ec && it != end; it.increment(ec)) {
            if (!it->is_directory(ec)) continue;
            const std::string name = it->path().filename().string();
            const int64_t n = cq500_number(name);
            if (n < 0) continue;
            if (patients.count(n)) {
                record_skip(skipped_, it->path().string(), "second folder for CQ500-CT-" + std::to_string(n));
            } else {
                patients[n] = it->path().string();
            }
            it.disable_recursion_pending();
        }
        if (patients.empty()) log(LogLevel::warn, root, ": no CQ500CT<n> patient folder found");
        for (const auto& kv : patients) scan_patient(kv.first, kv.second);
    }

    std::string name() const override { return "cq500"; }
    /// All usable series of case i (the chosen one is `chosen_series(i)`).
    const std::vector<DicomSeries>& series(int64_t i) const { return series_.at(static_cast<size_t>(i)); }
    const DicomSeries& chosen_series(int64_t i) const {
        return series_.at(static_cast<size_t>(i)).at(static_cast<size_t>(chosen_.at(static_cast<size_t>(i))));
    }
    const std::map<int64_t, Cq500Reads>& reads() const { return reads_; }

    LoadedCase load(int64_t i) const override {
        const CaseRef& c = case_ref(i);
        LoadedCase lc;
        lc.id = c.id;
        lc.ct = read_dicom_series(chosen_series(i), opt_.series);
        lc.labels = c.labels;
        lc.slice_labels.assign(static_cast<size_t>(lc.ct.nz()), IchLabels{});
        lc.warnings = lc.ct.source.warnings;
        return lc;
    }

    /// The rule of the file comment as a sortable key (smaller is better); exposed for tests and `inspect`.
    static std::vector<double> series_rank(const DicomSeries& s, bool prefer_thin) {
        const std::string d = detail::upper(s.series_description + " " + s.convolution_kernel);
        const bool sharp = d.find("BONE") != std::string::npos || d.find("SHARP") != std::string::npos ||
                           d.find("LUNG") != std::string::npos || d.find("EDGE") != std::string::npos;
        const double step = s.step > 0 ? s.step : 1e3;
        return {s.has_contrast ? 1.0 : 0.0, sharp ? 1.0 : 0.0, (s.missing > 0 || s.uneven) ? 1.0 : 0.0,
                prefer_thin ? step : std::fabs(step - 5.0), -static_cast<double>(s.size())};
    }

private:
    void scan_patient(int64_t n, const std::string& folder) {
        const std::string id = "CQ500-CT-" + std::to_string(n);
        ScanOptions so;
        so.dicom = opt_.series.dicom;
        so.series = opt_.series;
        std::vector<Skipped> sk;
        std::vector<DicomSeries> all;
        try {
            all = scan_dicom_folder(folder, so, &sk);
        } catch (const Error& e) {
            record_skip(skipped_, folder, e.what());
            return;
        }
        for (auto& s : sk) skipped_.push_back(s);
        std::vector<DicomSeries> ok;
        std::string reasons;
        for (auto& s : all) {
            std::string why;
            const auto nrm = s.slices.empty() ? std::array<double, 3>{0, 0, 1} : s.slices[0].normal();
            if (s.size() < opt_.min_slices) why = std::to_string(s.size()) + " usable images";
            else if (std::fabs(nrm[2]) < std::cos(30.0 * 3.14159265358979 / 180)) why = "not axial";
            else if (s.duplicate_positions) why = s.geometry_problem;
            if (!why.empty()) {
                reasons += (reasons.empty() ? "" : "; ") + ("series '" + s.series_description + "': " + why);
                continue;
            }
            ok.push_back(std::move(s));
        }
        if (ok.empty()) {
            record_skip(skipped_, folder, id + ": no usable CT series" + (reasons.empty() ? std::string() : " (" + reasons + ")"));
            return;
        }
        size_t best = 0;
        for (size_t i = 1; i < ok.size(); ++i) {
            const auto a = series_rank(ok[i], opt_.prefer_thin), b = series_rank(ok[best], opt_.prefer_thin);
            if (a < b || (a == b && ok[i].series_uid < ok[best].series_uid)) best = i;
        }
        CaseRef c;
        c.id = id;
        c.ct_path = ok[best].folder;
        c.nx = ok[best].slices[0].cols;
        c.ny = ok[best].slices[0].rows;
        c.nz = ok[best].size();
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3g", ok[best].step);
        c.note = "series '" + ok[best].series_description + "' (" + std::to_string(c.nz) + " slices, step " + buf +
                 " mm) chosen among " + std::to_string(ok.size()) + " usable series";
        log(LogLevel::info, id, ": ", c.note);
        auto r = reads_.find(n);
        if (r != reads_.end()) {
            c.labels = r->second.majority();
        } else {
            log(LogLevel::warn, id, ": no row in reads.csv: labels unknown");
        }
        cases_.push_back(std::move(c));
        chosen_.push_back(static_cast<int64_t>(best));
        series_.push_back(std::move(ok));
    }

    Cq500Options opt_;
    std::map<int64_t, Cq500Reads> reads_;
    std::vector<std::vector<DicomSeries>> series_;
    std::vector<int64_t> chosen_;
};

}  // namespace ichseg::io
