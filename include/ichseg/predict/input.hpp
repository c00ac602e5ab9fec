/// @file input.hpp (predict; needs ichseg::io)
/// @brief What the prediction program reads: one case from a NIfTI file or a DICOM folder (choosing the axial CT
/// series and saying which), and the list of cases of a batch folder. Everything that is left out is reported;
/// everything that would make a wrong mask is an error (docs/predict.md §5).
///
/// DICOM folder (all files below it, recursively):
///  * files DCMTK cannot parse, and image files without PixelData, are "unreadable": an error naming them unless
///    `skip_unreadable` (a damaged slice of the series would otherwise be missing from the volume);
///  * other DICOM objects (SR, presentation states, dose reports, multi-frame or colour images) are ignored and
///    listed;
///  * images of more than one patient (PatientID) are an error: one case per folder (use a batch folder, whose
///    subfolders are cases); CT series of more than one study are an error unless `series_uid` chooses one;
///  * non-CT series (MR, ...) are ignored and listed; no CT series at all is the error "not a CT";
///  * candidate series: CT, axial (slice normal within 30 degrees of the head-foot axis); the series rule of
///    io/datasets/cq500.hpp chooses among them (no contrast, soft-tissue kernel, complete geometry, step closest to
///    5 mm or the thinnest with `prefer_thin`, most slices, smaller UID); `series_uid` overrides it;
///  * inside the chosen series, localizer / scout images and images of another orientation or size are dropped
///    (dicom.hpp) and listed; missing slices and uneven spacing are errors unless allowed;
///  * `strict`: anything left out (dropped images, ignored objects, other candidate series) is an error.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ichseg/io/datasets/cq500.hpp"
#include "ichseg/io/dicom.hpp"
#include "ichseg/io/inspect.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::predict {

struct InputOptions {
    std::string series_uid;             ///< choose this SeriesInstanceUID (DICOM folders)
    bool prefer_thin = false;           ///< series rule step 5: thinnest instead of closest to 5 mm
    bool allow_missing_slices = false;  ///< read a series with gaps (the mask then has the gaps too)
    bool allow_uneven_spacing = false;
    bool skip_unreadable = false;       ///< ignore unreadable files instead of failing
    bool strict = false;                ///< anything left out of the chosen series is an error
};

/// One case, read.
struct LoadedInput {
    io::Volume ct;
    std::string format;                  ///< "nifti" | "dicom"
    std::string summary;                 ///< one line for the user: what was read
    std::vector<std::string> notes;      ///< what was left out / warnings (each one line)
    io::DicomSeries series;              ///< the chosen series (DICOM only; for DICOM SEG)
    nlohmann::json details;              ///< JSON for the report: series chosen, candidates, left out
};

namespace detail {

inline bool is_nifti_path(const std::string& p) {
    return io::detail::ends_with(p, ".nii") || io::detail::ends_with(p, ".nii.gz");
}

inline std::string strip_nifti_ext(std::string n) {
    if (io::detail::ends_with(n, ".nii.gz")) n.resize(n.size() - 7);
    else if (io::detail::ends_with(n, ".nii")) n.resize(n.size() - 4);
    return n;
}

inline std::string short_list(const std::vector<std::string>& v, size_t max_items = 5) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < max_items; ++i) s += (i ? "; " : "") + v[i];
    if (v.size() > max_items) s += "; ... (" + std::to_string(v.size()) + " in all)";
    return s;
}

inline bool is_unreadable_reason(const std::string& r) {
    return r.find("not a readable DICOM file") != std::string::npos || r.find("no PixelData") != std::string::npos ||
           r.find("no such file") != std::string::npos;
}

inline std::string fmt_step(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
}

}  // namespace detail

/// Read a NIfTI file (HU; scl_slope / scl_inter applied).
inline LoadedInput load_nifti_input(const std::string& path) {
    LoadedInput in;
    io::NiftiHeaderInfo h;
    in.ct = io::read_nifti(path, {}, &h);
    in.format = "nifti";
    in.summary = "NIfTI " + path + " (" + std::to_string(in.ct.nx()) + " x " + std::to_string(in.ct.ny()) + " x " +
                 std::to_string(in.ct.nz()) + ", " + h.datatype_name + ")";
    for (const auto& w : in.ct.source.warnings) in.notes.push_back(w);
    in.details = {{"format", h.compressed ? "nifti-gz" : "nifti"},
                  {"path", path},
                  {"datatype", h.datatype_name},
                  {"qform_code", h.qform_code},
                  {"sform_code", h.sform_code},
                  {"warnings", in.ct.source.warnings}};
    return in;
}

/// Read one case from a DICOM folder (see the file comment for the rules).
inline LoadedInput load_dicom_input(const std::string& folder, const InputOptions& opt = {}) {
    io::ScanOptions so;
    so.dicom.require_ct = false;  // see every series, to say what was ignored (and "not a CT")
    so.series.allow_missing_slices = opt.allow_missing_slices;
    so.series.allow_uneven_spacing = opt.allow_uneven_spacing;
    std::vector<io::Skipped> skipped;
    const io::LogLevel prev = io::log_level();
    io::set_log_level(io::LogLevel::error);  // the scan logs every skip at warn: they are reported below instead
    std::vector<io::DicomSeries> all;
    try {
        all = io::scan_dicom_folder(folder, so, &skipped);
    } catch (...) {
        io::set_log_level(prev);
        throw;
    }
    io::set_log_level(prev);

    LoadedInput in;
    in.format = "dicom";
    std::vector<std::string> unreadable, ignored;
    for (const auto& s : skipped) {
        if (detail::is_unreadable_reason(s.reason)) unreadable.push_back(s.path + ": " + s.reason);
        else ignored.push_back(s.path + ": " + s.reason);
    }
    if (all.empty() && unreadable.empty() && ignored.empty()) fail(folder, ": no DICOM file found in the folder");
    if (!unreadable.empty() && !opt.skip_unreadable)
        fail(folder, ": ", unreadable.size(), " unreadable file(s) in the input folder: ", detail::short_list(unreadable),
             ". A damaged file may be a slice of the series; remove the files or pass --skip-unreadable to ignore them");

    // Patients and studies.
    std::set<std::string> patients, ct_studies;
    for (const auto& s : all)
        if (!s.patient_id.empty()) patients.insert(s.patient_id);
    if (patients.size() > 1) {
        std::vector<std::string> p(patients.begin(), patients.end());
        fail(folder, ": the folder holds images of ", patients.size(), " patients (PatientID ", detail::short_list(p),
             "): one case per folder. Pass a batch folder whose subfolders are the cases (--batch), or separate them");
    }
    std::vector<io::DicomSeries> ct, not_ct;
    for (auto& s : all) (s.modality == "CT" ? ct : not_ct).push_back(std::move(s));
    for (const auto& s : not_ct)
        ignored.push_back("series " + s.series_uid + " ('" + s.series_description + "', modality " +
                          (s.modality.empty() ? std::string("(missing)") : s.modality) + ", " +
                          std::to_string(s.size()) + " images): not CT");
    if (ct.empty()) {
        std::set<std::string> mods;
        for (const auto& s : not_ct) mods.insert(s.modality.empty() ? "(missing)" : s.modality);
        std::string m;
        for (const auto& x : mods) m += (m.empty() ? "" : ", ") + x;
        if (!not_ct.empty())
            fail(folder, ": not a CT: the folder holds ", m, " images only (", not_ct.size(),
                 " series); ichseg segments hemorrhage in CT");
        fail(folder, ": no usable DICOM CT image (", ignored.size() + unreadable.size(), " file(s) left out: ",
             detail::short_list(!ignored.empty() ? ignored : unreadable), ")");
    }
    for (const auto& s : ct) ct_studies.insert(s.study_uid);

    // Candidates.
    std::vector<io::DicomSeries> cand;
    std::vector<std::string> rejected;
    for (auto& s : ct) {
        const auto nrm = s.slices.empty() ? std::array<double, 3>{0, 0, 1} : s.slices[0].normal();
        std::string why;
        if (!opt.series_uid.empty() && s.series_uid != opt.series_uid) why = "not the series asked for";
        else if (std::fabs(nrm[2]) < std::cos(30.0 * 3.14159265358979 / 180)) why = "not axial (localizer or reformat)";
        else if (s.duplicate_positions) why = s.geometry_problem;
        if (!why.empty()) {
            rejected.push_back("series " + s.series_uid + " ('" + s.series_description + "', " +
                               std::to_string(s.size()) + " images): " + why);
            continue;
        }
        cand.push_back(std::move(s));
    }
    if (cand.empty()) {
        if (!opt.series_uid.empty())
            fail(folder, ": series ", opt.series_uid, " is not a usable axial CT series of this folder (",
                 detail::short_list(rejected), ")");
        fail(folder, ": no axial CT series in the folder (", detail::short_list(rejected), ")");
    }
    if (opt.series_uid.empty() && ct_studies.size() > 1) {
        std::vector<std::string> c;
        for (const auto& s : cand)
            c.push_back(s.series_uid + " ('" + s.series_description + "', study " + s.study_uid + ")");
        fail(folder, ": the folder holds CT series of ", ct_studies.size(),
             " different studies: choose one with --series <SeriesInstanceUID>: ", detail::short_list(c, 10));
    }
    size_t best = 0;
    for (size_t i = 1; i < cand.size(); ++i) {
        const auto a = io::Cq500Dataset::series_rank(cand[i], opt.prefer_thin),
                   b = io::Cq500Dataset::series_rank(cand[best], opt.prefer_thin);
        if (a < b || (a == b && cand[i].series_uid < cand[best].series_uid)) best = i;
    }
    io::DicomSeries& chosen = cand[best];
    std::vector<std::string> others;
    for (size_t i = 0; i < cand.size(); ++i)
        if (i != best)
            others.push_back("series " + cand[i].series_uid + " ('" + cand[i].series_description + "', " +
                             std::to_string(cand[i].size()) + " slices, step " + detail::fmt_step(cand[i].step) + " mm)");
    std::vector<std::string> dropped;
    for (const auto& d : chosen.dropped) dropped.push_back(d.path + ": " + d.reason);
    if (opt.strict) {
        std::vector<std::string> left;
        for (const auto& d : dropped) left.push_back("dropped " + d);
        for (const auto& o : others) left.push_back("other candidate " + o);
        for (const auto& r : rejected) left.push_back(r);
        for (const auto& i : ignored) left.push_back("ignored " + i);
        for (const auto& u : unreadable) left.push_back("unreadable " + u);
        if (!left.empty())
            fail(folder, ": --strict: ", left.size(), " item(s) of the folder would be left out (strict mode needs a folder "
                 "with exactly one axial CT series and nothing else): ", detail::short_list(left, 8));
    }
    io::SeriesReadOptions ro = so.series;
    ro.dicom.require_ct = true;
    try {
        in.ct = io::read_dicom_series(chosen, ro);
    } catch (const Error& e) {
        // The reader names the library option; say which program option that is.
        std::string m = e.what();
        if (m.find("allow_missing_slices") != std::string::npos) m += "; ichseg_predict: --allow-missing-slices";
        if (m.find("allow_uneven_spacing") != std::string::npos) m += "; ichseg_predict: --allow-uneven-spacing";
        throw Error(m);
    }
    in.series = chosen;
    const std::string rule = opt.series_uid.empty()
                                 ? (opt.prefer_thin ? "rule: non-contrast, soft kernel, complete, thinnest, most slices"
                                                    : "rule: non-contrast, soft kernel, complete, closest to 5 mm, most slices")
                                 : "chosen with --series";
    in.summary = "DICOM series " + chosen.series_uid + " ('" + chosen.series_description + "', " +
                 std::to_string(chosen.size()) + " slices of " + std::to_string(in.ct.nx()) + " x " +
                 std::to_string(in.ct.ny()) + ", step " + detail::fmt_step(chosen.step) + " mm) chosen among " +
                 std::to_string(cand.size()) + " axial CT series (" + rule + ")";
    for (const auto& o : others) in.notes.push_back("not used: other candidate " + o);
    for (const auto& r : rejected) in.notes.push_back("not used: " + r);
    for (const auto& d : dropped) in.notes.push_back("dropped from the chosen series: " + d);
    for (const auto& i : ignored) in.notes.push_back("ignored: " + i);
    for (const auto& u : unreadable) in.notes.push_back("unreadable, skipped: " + u);
    if (!chosen.geometry_problem.empty()) in.notes.push_back("geometry: " + chosen.geometry_problem);
    nlohmann::json cj = nlohmann::json::array();
    for (const auto& s : cand) cj.push_back(io::series_json(s));
    in.details = {{"format", "dicom"},
                  {"folder", folder},
                  {"series", io::series_json(chosen)},
                  {"series_rule", rule},
                  {"candidates", cj},
                  {"patient_id", chosen.patient_id},
                  {"study_uid", chosen.study_uid},
                  {"left_out", in.notes}};
    return in;
}

/// A NIfTI file or a DICOM folder.
inline LoadedInput load_input(const std::string& path, const InputOptions& opt = {}) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail(path, ": no such file or folder");
    if (std::filesystem::is_directory(path, ec)) return load_dicom_input(path, opt);
    if (detail::is_nifti_path(path)) return load_nifti_input(path);
    fail(path, ": not a NIfTI file (.nii, .nii.gz) or a folder of DICOM files; for DICOM pass the folder that holds "
               "the series, not one file");
}

/// A case of a run: an id (the output name stem) and the input path.
struct CaseInput {
    std::string id;
    std::string path;
};

/// The output stem of an input: NIfTI file name without .nii / .nii.gz, or the folder's name; characters other
/// than letters, digits, '.', '-' and '_' become '_'.
inline std::string case_id_of(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p = fs::path(path);
    if (fs::is_directory(p, ec)) {
        const fs::path c = fs::weakly_canonical(p, ec);
        if (!ec && !c.filename().empty()) p = c;
        while (!p.empty() && p.filename().empty()) p = p.parent_path();
    }
    std::string n = detail::strip_nifti_ext(p.filename().string());
    for (char& c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
    if (n.empty() || n == "." || n == "..") n = "case";
    return n;
}

/// True for files ichseg_predict writes (so that a batch folder used as output is not read back as input).
inline bool is_prediction_output(const std::string& name) {
    for (const char* s : {"_seg.nii.gz", "_seg.nii", "_prob.nii.gz", "_cavity.nii.gz"})
        if (io::detail::ends_with(name, s)) return true;
    return false;
}

/// Expand the command-line inputs into cases. A NIfTI file is a case; a folder is one DICOM case, unless
/// `batch` is set or the folder holds NIfTI files at its top level: then each NIfTI file and each subfolder of it
/// is a case (files named like prediction outputs are skipped). Duplicate ids are an error.
inline std::vector<CaseInput> find_cases(const std::vector<std::string>& inputs, bool batch,
                                         std::vector<std::string>* notes = nullptr) {
    namespace fs = std::filesystem;
    std::vector<CaseInput> cases;
    for (const auto& in : inputs) {
        std::error_code ec;
        if (!fs::exists(in, ec)) fail(in, ": no such file or folder");
        if (!fs::is_directory(in, ec)) {
            if (!detail::is_nifti_path(in))
                fail(in, ": not a NIfTI file (.nii, .nii.gz) or a folder; for DICOM pass the folder of the series");
            cases.push_back({case_id_of(in), in});
            continue;
        }
        std::vector<std::string> nifti, dirs;
        for (fs::directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.empty() || name[0] == '.') continue;
            std::error_code e2;
            if (it->is_directory(e2)) dirs.push_back(it->path().string());
            else if (detail::is_nifti_path(name)) {
                if (is_prediction_output(name)) {
                    if (notes) notes->push_back(it->path().string() + ": looks like a prediction output, not read as a case");
                    continue;
                }
                nifti.push_back(it->path().string());
            }
        }
        if (ec) fail(in, ": cannot list the folder: ", ec.message());
        if (!batch && nifti.empty()) {
            cases.push_back({case_id_of(in), in});
            continue;
        }
        std::sort(nifti.begin(), nifti.end());
        std::sort(dirs.begin(), dirs.end());
        for (const auto& f : nifti) cases.push_back({case_id_of(f), f});
        for (const auto& d : dirs) cases.push_back({case_id_of(d), d});
        if (nifti.empty() && dirs.empty()) fail(in, ": batch folder without NIfTI files or subfolders");
    }
    std::map<std::string, std::string> seen;
    for (const auto& c : cases) {
        auto it = seen.find(c.id);
        if (it != seen.end())
            fail("two inputs give the same output name '", c.id, "': ", it->second, " and ", c.path,
                 "; rename one or run them separately");
        seen[c.id] = c.path;
    }
    return cases;
}

}  // namespace ichseg::predict
