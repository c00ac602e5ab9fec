/// @file physionet.hpp
/// @brief PhysioNet "ct-ich" 1.3.1 (Hssayeni et al. 2020), the layout of datasets.md §1a:
/// ```
///   <root>/ct_scans/NNN.nii        (.nii.gz accepted)   CT in HU, (X, Y, Z), slices on the last axis
///   <root>/masks/NNN.nii                                 hemorrhage mask, same grid (any value > 0 = ICH)
///   <root>/hemorrhage_diagnosis_raw_ct.csv               PatientNumber, SliceNumber (1-based), Intraventricular,
///                                                        Intraparenchymal, Subarachnoid, Epidural, Subdural,
///                                                        No_Hemorrhage, Fracture_Yes_No (0/1, "1.0" accepted)
///   <root>/Patient_demographics.csv (any case)           two header rows, quoted multi-line cells, footer lines
/// ```
/// Scan: every `ct_scans/<number>.nii[.gz]` with CSV rows becomes a case; headers of CT and mask are read to check
/// their grids agree with each other and with the number of CSV rows. Left out with a logged reason: a CT without
/// mask or rows, a mask/CT shape mismatch, a row count that differs from the slice count, malformed / duplicate /
/// non-contiguous rows of a patient, CSV patients without a CT file. Patient numbers that are simply absent from
/// both (59..65 in the real data) are not reported. Slice labels: any = 1 - No_Hemorrhage (Spahr's rule), the
/// five subtypes from their columns; `load` also checks No_Hemorrhage against the mask and records disagreements
/// as warnings.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/datasets/nifti_cases.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::io {

/// One row of hemorrhage_diagnosis_raw_ct.csv.
struct PhysioNetSliceRow {
    int64_t patient = 0, slice = 0;  ///< slice is 1-based as in the file
    IchLabels labels;
    int fracture = 0;
    int no_hemorrhage = 0;
    int64_t line = 0;
};

/// Parsed diagnosis CSV: rows grouped by patient (sorted by slice), patients with bad rows listed separately.
struct PhysioNetDiagnosis {
    std::map<int64_t, std::vector<PhysioNetSliceRow>> patients;
    std::map<int64_t, std::string> bad_patients;  ///< patient -> first problem (its rows are not usable)
    std::vector<Skipped> bad_rows;                ///< rows that name no valid patient
};

/// Parse the diagnosis CSV text. Errors (naming `source`) only for a missing header / missing columns.
inline PhysioNetDiagnosis parse_physionet_diagnosis(std::string_view text, const std::string& source) {
    PhysioNetDiagnosis d;
    std::vector<std::string> header;
    int64_t c_pat = -1, c_sl = -1, c_ivh = -1, c_iph = -1, c_sah = -1, c_edh = -1, c_sdh = -1, c_no = -1, c_fr = -1;
    size_t width = 0;
    for_each_csv_record(text, source, [&](const std::vector<std::string>& f, int64_t line) {
        if (header.empty()) {
            header = f;
            c_pat = require_column(header, "PatientNumber", source);
            c_sl = require_column(header, "SliceNumber", source);
            c_ivh = require_column(header, "Intraventricular", source);
            c_iph = require_column(header, "Intraparenchymal", source);
            c_sah = require_column(header, "Subarachnoid", source);
            c_edh = require_column(header, "Epidural", source);
            c_sdh = require_column(header, "Subdural", source);
            c_no = require_column(header, "No_Hemorrhage", source);
            c_fr = find_column(header, "Fracture_Yes_No");
            width = header.size();
            return;
        }
        int64_t patient = 0;
        // bounds first: a short row must not be indexed past its fields (found by fuzzing: the record vector
        // keeps destroyed strings past size() in its capacity)
        if (f.size() <= static_cast<size_t>(c_pat) || !try_parse_int(f[static_cast<size_t>(c_pat)], patient) ||
            patient < 0) {
            d.bad_rows.push_back({source + ":" + std::to_string(line),
                                  "no valid PatientNumber ('" + (f.empty() ? std::string() : f[0]) + "')"});
            return;
        }
        if (d.bad_patients.count(patient)) return;
        try {
            if (f.size() < width)
                fail(source, ": line ", line, ": ", f.size(), " fields, the header has ", width);
            PhysioNetSliceRow r;
            r.patient = patient;
            r.line = line;
            r.slice = parse_int_cell(f[static_cast<size_t>(c_sl)], source, line, "SliceNumber");
            if (r.slice < 1) fail(source, ": line ", line, ": SliceNumber ", r.slice, " (must be >= 1)");
            r.labels[IchSubtype::IVH] = static_cast<int8_t>(parse_label_cell(f[static_cast<size_t>(c_ivh)], source, line, "Intraventricular"));
            r.labels[IchSubtype::IPH] = static_cast<int8_t>(parse_label_cell(f[static_cast<size_t>(c_iph)], source, line, "Intraparenchymal"));
            r.labels[IchSubtype::SAH] = static_cast<int8_t>(parse_label_cell(f[static_cast<size_t>(c_sah)], source, line, "Subarachnoid"));
            r.labels[IchSubtype::EDH] = static_cast<int8_t>(parse_label_cell(f[static_cast<size_t>(c_edh)], source, line, "Epidural"));
            r.labels[IchSubtype::SDH] = static_cast<int8_t>(parse_label_cell(f[static_cast<size_t>(c_sdh)], source, line, "Subdural"));
            r.no_hemorrhage = parse_label_cell(f[static_cast<size_t>(c_no)], source, line, "No_Hemorrhage");
            r.fracture = c_fr >= 0 ? parse_label_cell(f[static_cast<size_t>(c_fr)], source, line, "Fracture_Yes_No", true) : 0;
            r.labels.any = static_cast<int8_t>(1 - r.no_hemorrhage);
            d.patients[patient].push_back(r);
        } catch (const Error& e) {
            d.bad_patients[patient] = e.what();
            d.patients.erase(patient);
        }
    });
    if (header.empty()) fail(source, ": empty file (no header row)");
    // per patient: sorted, unique, contiguous 1..n
    for (auto it = d.patients.begin(); it != d.patients.end();) {
        auto& rows = it->second;
        std::stable_sort(rows.begin(), rows.end(),
                         [](const PhysioNetSliceRow& a, const PhysioNetSliceRow& b) { return a.slice < b.slice; });
        std::string problem;
        for (size_t i = 0; i < rows.size() && problem.empty(); ++i) {
            if (i > 0 && rows[i].slice == rows[i - 1].slice)
                problem = source + ": line " + std::to_string(rows[i].line) + ": duplicate row for patient " +
                          std::to_string(it->first) + " slice " + std::to_string(rows[i].slice);
            else if (rows[i].slice != static_cast<int64_t>(i) + 1)
                problem = source + ": patient " + std::to_string(it->first) + ": slice " + std::to_string(i + 1) +
                          " has no row (slices must be numbered 1..n)";
        }
        if (!problem.empty()) {
            d.bad_patients[it->first] = problem;
            it = d.patients.erase(it);
        } else {
            ++it;
        }
    }
    return d;
}

/// One row of Patient_demographics.csv.
struct PhysioNetPatientInfo {
    int64_t patient = 0;
    double age = -1;          ///< years, -1 if missing
    std::string gender;
    IchLabels labels;         ///< the radiologists' volume-level subtypes (empty cell = 0)
    int fracture = 0;
    std::string note;
};

/// Parse Patient_demographics.csv: two header rows (the second names the subtype columns 3..7), then one row per
/// patient; rows whose first cell is not a patient number (footers, notes, blank cells) are ignored.
/// Error naming `source` when the file has fewer than 10 columns or fewer than two header rows.
inline std::map<int64_t, PhysioNetPatientInfo> parse_physionet_demographics(std::string_view text,
                                                                            const std::string& source) {
    const CsvTable t = parse_csv(text, source);
    if (t.rows.size() < 2) fail(source, ": expected two header rows, found ", t.rows.size(), " rows");
    std::map<int64_t, PhysioNetPatientInfo> out;
    // subtype columns by the second header row's names, defaulting to the published order IVH IPH SAH EDH SDH
    const auto& h2 = t.rows[1];
    int64_t cols[5] = {3, 4, 5, 6, 7};  // IVH IPH SAH EDH SDH
    const char* names[5] = {"Intraventricular", "Intraparenchymal", "Subarachnoid", "Epidural", "Subdural"};
    for (int s = 0; s < 5; ++s) {
        const int64_t c = find_column(h2, names[s]);
        if (c >= 0) cols[s] = c;
    }
    const IchSubtype order[5] = {IchSubtype::IVH, IchSubtype::IPH, IchSubtype::SAH, IchSubtype::EDH, IchSubtype::SDH};
    for (size_t r = 2; r < t.rows.size(); ++r) {
        const auto& f = t.rows[r];
        int64_t pn = 0;
        if (f.empty() || !try_parse_int(f[0], pn) || pn < 0) continue;  // footer / note line
        size_t need = 10;
        for (int64_t c : cols) need = std::max(need, static_cast<size_t>(c) + 1);
        if (f.size() < need) {
            log(LogLevel::warn, source, ": line ", t.lines[r], ": patient ", pn, " row has ", f.size(),
                " fields (expected ", need, "); ignored");
            continue;
        }
        PhysioNetPatientInfo p;
        p.patient = pn;
        double age;
        if (try_parse_double(f[1], age)) p.age = age;
        p.gender = std::string(trim(f[2]));
        p.labels = IchLabels::negative();
        bool ok = true;
        for (int s = 0; s < 5; ++s) {
            const std::string_view cell = trim(f[static_cast<size_t>(cols[s])]);
            int64_t v = 0;
            if (cell.empty()) v = 0;
            else if (!try_parse_int(cell, v) || (v != 0 && v != 1)) ok = false;
            p.labels[order[s]] = static_cast<int8_t>(v);
            if (v == 1) p.labels.any = 1;
        }
        int64_t fr = 0;
        if (!trim(f[8]).empty() && !try_parse_int(f[8], fr)) ok = false;
        p.fracture = static_cast<int>(fr);
        p.note = f[9];
        if (!ok) {
            log(LogLevel::warn, source, ": line ", t.lines[r], ": patient ", pn, ": malformed label cell; ignored");
            continue;
        }
        out[pn] = p;
    }
    return out;
}

struct PhysioNetOptions {
    NiftiReadOptions nifti;
};

class PhysioNetDataset : public VolumeDataset {
public:
    explicit PhysioNetDataset(const std::string& root, const PhysioNetOptions& opt = {}) : root_(root), opt_(opt) {
        using namespace detail;
        if (!is_dir(root)) fail(root, ": PhysioNet CT-ICH root folder not found");
        const std::string ct_dir = join(root, "ct_scans"), mask_dir = join(root, "masks");
        if (!is_dir(ct_dir)) fail(root, ": no ct_scans/ folder (not a PhysioNet CT-ICH 1.3.1 tree)");
        const std::string diag = find_child_ci(root, "hemorrhage_diagnosis_raw_ct.csv");
        if (diag.empty()) fail(root, ": hemorrhage_diagnosis_raw_ct.csv not found");
        diagnosis_ = parse_physionet_diagnosis(read_text_file(diag), diag);
        for (const auto& b : diagnosis_.bad_rows) record_skip(skipped_, b.path, b.reason);
        const std::string demo = find_child_ci(root, "patient_demographics.csv");
        if (!demo.empty()) {
            try {
                demographics_ = parse_physionet_demographics(read_text_file(demo), demo);
            } catch (const Error& e) {
                record_skip(skipped_, demo, e.what());
            }
        }
        const bool have_masks = is_dir(mask_dir);
        if (!have_masks) record_skip(skipped_, mask_dir, "masks/ folder missing: no case can be used for segmentation");
        std::set<int64_t> seen;
        for (const std::string& name : list_dir(ct_dir)) {
            const std::string path = join(ct_dir, name);
            std::string stem = name;
            if (detail::ends_with(stem, ".nii.gz")) stem.resize(stem.size() - 7);
            else if (detail::ends_with(stem, ".nii")) stem.resize(stem.size() - 4);
            else {
                if (name[0] != '.') record_skip(skipped_, path, "not a .nii / .nii.gz file");
                continue;
            }
            int64_t pn = 0;
            if (stem.empty() || !std::all_of(stem.begin(), stem.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
                !try_parse_int(stem, pn)) {
                record_skip(skipped_, path, "file name is not a patient number");
                continue;
            }
            if (seen.count(pn)) {
                record_skip(skipped_, path, "second CT file for patient " + std::to_string(pn));
                continue;
            }
            seen.insert(pn);
            if (diagnosis_.bad_patients.count(pn)) {
                record_skip(skipped_, path, diagnosis_.bad_patients[pn]);
                continue;
            }
            auto rows = diagnosis_.patients.find(pn);
            if (rows == diagnosis_.patients.end()) {
                record_skip(skipped_, path, "patient " + std::to_string(pn) + " has no row in " + diag);
                continue;
            }
            std::string mask = have_masks ? find_child_ci(mask_dir, name) : std::string();
            if (mask.empty() && have_masks) {
                const std::string alt = detail::ends_with(name, ".gz") ? stem + ".nii" : stem + ".nii.gz";
                mask = find_child_ci(mask_dir, alt);
            }
            if (mask.empty()) {
                record_skip(skipped_, path, "no mask file masks/" + name);
                continue;
            }
            try {
                const NiftiHeaderInfo hc = detail::read_ct_and_mask_headers(path, mask, opt_.nifti);
                if (static_cast<int64_t>(rows->second.size()) != hc.nz())
                    fail(path, ": ", hc.nz(), " slices but ", rows->second.size(), " rows for patient ", pn, " in ", diag);
                CaseRef c = detail::nifti_case_ref(stem, path, mask, hc);
                c.labels = IchLabels::negative();
                for (const auto& r : rows->second) {
                    c.slice_labels.push_back(r.labels);
                    c.labels.merge(r.labels);
                }
                cases_.push_back(std::move(c));
                patient_numbers_.push_back(pn);
            } catch (const Error& e) {
                record_skip(skipped_, path, detail::strip_path(e.what(), path));
            }
        }
        for (const auto& kv : diagnosis_.patients)
            if (!seen.count(kv.first))
                record_skip(skipped_, diag, "patient " + std::to_string(kv.first) + " has rows but no ct_scans file");
        if (cases_.empty()) log(LogLevel::warn, root, ": PhysioNet scan found no usable case");
    }

    std::string name() const override { return "physionet-ct-ich"; }
    int64_t patient_number(int64_t i) const { return patient_numbers_.at(static_cast<size_t>(i)); }
    /// Demographics (when the file was found and parsed), by patient number.
    const std::map<int64_t, PhysioNetPatientInfo>& demographics() const { return demographics_; }
    /// Fracture flag per slice (from Fracture_Yes_No) of case i.
    std::vector<int> slice_fracture(int64_t i) const {
        std::vector<int> v;
        for (const auto& r : diagnosis_.patients.at(patient_number(i))) v.push_back(r.fracture);
        return v;
    }

    LoadedCase load(int64_t i) const override {
        const CaseRef& c = case_ref(i);
        LoadedCase lc = detail::load_ct_and_mask(c, opt_.nifti, "mask");
        if (lc.ct.nz() != static_cast<int64_t>(c.slice_labels.size()))
            fail(c.ct_path, ": ", lc.ct.nz(), " slices but ", c.slice_labels.size(), " label rows");
        lc.labels = c.labels;
        lc.slice_labels = c.slice_labels;
        const auto from_mask = detail::slice_labels_from_mask(*lc.ich);
        int64_t disagree = 0;
        std::string first;
        for (size_t k = 0; k < from_mask.size(); ++k)
            if (from_mask[k].any != lc.slice_labels[k].any) {
                if (!disagree) first = std::to_string(k + 1);
                ++disagree;
            }
        if (disagree) {
            lc.warnings.push_back(std::to_string(disagree) + " slice(s) where No_Hemorrhage disagrees with the mask (first: slice " + first + ")");
            log(LogLevel::warn, c.ct_path, ": ", lc.warnings.back());
        }
        return lc;
    }

private:
    std::string root_;
    PhysioNetOptions opt_;
    PhysioNetDiagnosis diagnosis_;
    std::map<int64_t, PhysioNetPatientInfo> demographics_;
    std::vector<int64_t> patient_numbers_;
};

}  // namespace ichseg::io
