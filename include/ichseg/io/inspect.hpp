/// @file inspect.hpp
/// @brief `inspect_path`: the user's first look at a scan, as JSON -- shape, voxel spacing, affine, orientation,
/// modality, the series chosen (for a DICOM folder, with the other candidates), HU min / max / mean and any
/// warnings. It goes through exactly the readers the training pipeline uses (read_nifti, read_dicom_slice,
/// scan_dicom_folder + the CQ500 series rule + read_dicom_series), so an error here is the error training would
/// meet; errors are thrown as ichseg::Error naming the file and the problem.
///
/// Any modality is shown (MR, PET, ... : so a user can see what a file holds and check that it decodes), with
/// `"ct": false` and a `"note"` that the pipeline takes CT only; the value statistics are then `"values"`
/// (stored x RescaleSlope + RescaleIntercept), not `"hu"`. In a folder, CT series are preferred; a non-CT series
/// is shown only when the folder holds no CT series.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ichseg/io/datasets/common.hpp"
#include "ichseg/io/datasets/cq500.hpp"
#include "ichseg/io/dicom.hpp"
#include "ichseg/io/nifti.hpp"

namespace ichseg::io {

inline nlohmann::json volume_json(const Volume& v) {
    nlohmann::json j;
    j["shape"] = {v.nx(), v.ny(), v.nz()};
    j["shape_order"] = "x (columns), y (rows), z (slices)";
    j["spacing_mm"] = {v.spacing[0], v.spacing[1], v.spacing[2]};
    nlohmann::json a = nlohmann::json::array();
    for (int r = 0; r < 4; ++r) a.push_back({v.affine(r, 0), v.affine(r, 1), v.affine(r, 2), v.affine(r, 3)});
    j["affine_ras"] = a;
    j["orientation"] = axis_codes(v.affine);
    j["sheared"] = !v.affine.is_orthogonal(1e-4);
    const DisplayTransform d = display_transform(v.affine);
    j["display"] = {{"transpose", d.transpose}, {"flip_rows", d.flip_rows}, {"flip_cols", d.flip_cols}};
    const HuStats s = hu_stats(v);
    j["hu"] = {{"min", s.min}, {"max", s.max}, {"mean", s.mean}};
    j["stored_type"] = v.source.stored_type;
    j["warnings"] = v.source.warnings;
    return j;
}

inline nlohmann::json series_json(const DicomSeries& s) {
    return {{"series_uid", s.series_uid},     {"description", s.series_description}, {"kernel", s.convolution_kernel},
            {"folder", s.folder},             {"slices", s.size()},                  {"step_mm", s.step},
            {"contrast", s.has_contrast},     {"missing_slices", s.missing},         {"uneven_spacing", s.uneven},
            {"dropped_files", s.dropped.size()}, {"geometry_problem", s.geometry_problem}};
}

namespace detail {
/// Mark a DICOM result that is not CT: `"ct": false`, the note, and "hu" renamed to "values".
inline void note_modality(nlohmann::json& j, const std::string& modality, const char* what) {
    j["modality"] = modality;
    j["ct"] = modality == "CT";
    if (modality == "CT") return;
    j["note"] = "modality " + (modality.empty() ? std::string("(missing)") : modality) +
                ": ichseg's pipeline takes CT only; ichseg_predict and the dataset readers refuse this " + what +
                ". It is shown here as read, without the CT checks.";
    if (j.contains("hu")) {
        nlohmann::json v = j["hu"];
        v["unit"] = "stored value x RescaleSlope + RescaleIntercept (not Hounsfield units)";
        j.erase("hu");
        j["values"] = v;
    }
}
}  // namespace detail

inline nlohmann::json inspect_path(const std::string& path, bool prefer_thin = true) {
    nlohmann::json j;
    j["path"] = path;
    if (detail::is_dir(path)) {
        std::vector<Skipped> skipped;
        ScanOptions so;
        so.dicom.require_ct = false;  // see every series; CT is preferred below
        so.series.dicom.require_ct = false;
        std::vector<DicomSeries> all = scan_dicom_folder(path, so, &skipped);
        if (all.empty()) {
            std::string why = skipped.empty() ? std::string("no DICOM file found")
                                              : std::to_string(skipped.size()) + " file(s) unusable, first: " +
                                                    skipped[0].path + ": " + skipped[0].reason;
            fail(path, ": no usable DICOM series (", why, ")");
        }
        auto rank = [&](const DicomSeries& s) {
            std::vector<double> r = Cq500Dataset::series_rank(s, prefer_thin);
            r.insert(r.begin(), s.modality == "CT" ? 0.0 : 1.0);  // any CT series before any other
            return r;
        };
        size_t best = 0;
        for (size_t i = 1; i < all.size(); ++i)
            if (rank(all[i]) < rank(all[best])) best = i;
        SeriesReadOptions ro;
        ro.dicom.require_ct = all[best].modality == "CT";
        const Volume v = read_dicom_series(all[best], ro);
        j["format"] = "dicom-series";
        j.update(volume_json(v));
        detail::note_modality(j, v.source.modality, "series");
        j["series"] = series_json(all[best]);
        j["series"]["rule"] = prefer_thin ? "non-contrast, soft kernel, complete, thinnest, most slices"
                                          : "non-contrast, soft kernel, complete, closest to 5 mm, most slices";
        nlohmann::json cands = nlohmann::json::array();
        for (const auto& s : all) {
            cands.push_back(series_json(s));
            cands.back()["modality"] = s.modality;
        }
        j["series_candidates"] = cands;
        nlohmann::json sk = nlohmann::json::array();
        for (const auto& s : skipped) sk.push_back({{"path", s.path}, {"reason", s.reason}});
        j["skipped_files"] = sk;
        return j;
    }
    if (detail::is_nifti_name(path)) {
        NiftiHeaderInfo h;
        const Volume v = read_nifti(path, {}, &h);
        j["format"] = h.compressed ? "nifti-gz" : "nifti";
        j.update(volume_json(v));
        j["modality"] = nullptr;
        j["note"] = "NIfTI stores no modality: the pipeline assumes CT in Hounsfield units (ichseg_predict checks "
                    "that the values look like head CT)";
        j["nifti"] = {{"datatype", h.datatype_name}, {"big_endian", h.big_endian}, {"scl_slope", h.scl_slope},
                      {"scl_inter", h.scl_inter},    {"qform_code", h.qform_code}, {"sform_code", h.sform_code}};
        return j;
    }
    DicomReadOptions any;
    any.require_ct = false;
    const DicomSlice s = read_dicom_slice(path, any);
    const Volume v = dicom_slice_to_volume(s);
    j["format"] = "dicom-file";
    j.update(volume_json(v));
    detail::note_modality(j, s.header.modality, "file");
    j["series"] = {{"series_uid", s.header.series_uid}, {"description", s.header.series_description}};
    j["dicom"] = {{"transfer_syntax", s.header.transfer_syntax_name},
                  {"transfer_syntax_uid", s.header.transfer_syntax_uid},
                  {"sop_class_uid", s.header.sop_class_uid},
                  {"bits_allocated", s.header.bits_allocated},
                  {"bits_stored", s.header.bits_stored},
                  {"pixel_representation", s.header.pixel_representation},
                  {"rescale_slope", s.header.rescale_slope},
                  {"rescale_intercept", s.header.rescale_intercept},
                  {"window_center", s.header.window_center},
                  {"window_width", s.header.window_width},
                  {"rsna_fix_applied", s.rsna_fix_applied}};
    return j;
}

}  // namespace ichseg::io
