/// @file dicom/series.hpp
/// @brief DICOM series -> volume: `scan_dicom_folder` (headers of every file, grouped by SeriesInstanceUID),
/// `DicomSeries` (one series, geometry-checked and ordered) and `read_dicom_series` (pixels into an io::Volume).
///
/// Within a series, images whose ImageType says LOCALIZER, whose orientation differs from the series' majority
/// orientation, or whose Rows / Columns differ from the majority are dropped with a reason; the rest are ordered by
/// the projection of ImagePositionPatient on the slice normal (row cosine x column cosine), not by InstanceNumber
/// or file name. Two images at the same position, a missing slice (a step that is a multiple of the typical step)
/// and uneven spacing are errors by default (`SeriesReadOptions` can accept them, which records warnings). The
/// affine is built from the first position, the cosines, PixelSpacing and the mean step vector between first and
/// last slice, so a gantry tilt gives a sheared affine (as dicom2nifti without resampling), converted from LPS to
/// RAS.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/dicom/slice.hpp"
#include "ichseg/io/log.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::io {

struct DicomSeries {
    std::string series_uid, study_uid, patient_id, series_description, convolution_kernel, modality, folder;
    std::vector<DicomHeader> slices;    ///< kept images, sorted by position along the normal
    std::vector<double> positions;      ///< projection of each ImagePositionPatient on the normal (mm)
    std::vector<Skipped> dropped;       ///< localizers, odd orientation / size, files without geometry
    double step = 0;                    ///< typical (median) slice step, mm
    double slice_thickness = 0;         ///< SliceThickness of the first slice (0 if absent)
    bool uneven = false;                ///< steps differ by more than the tolerance
    int64_t missing = 0;                ///< slices missing where a step is a multiple of the typical step
    bool duplicate_positions = false;
    std::string geometry_problem;       ///< human-readable summary when uneven/missing/duplicates
    bool has_contrast = false;          ///< ContrastBolusAgent present or "contrast"/"post" in the description
    int64_t size() const { return static_cast<int64_t>(slices.size()); }
};

struct SeriesReadOptions {
    DicomReadOptions dicom;
    bool allow_missing_slices = false;  ///< keep a series with gaps (the grid then skips them; recorded as warning)
    bool allow_uneven_spacing = false;  ///< keep a series with uneven steps (recorded as warning)
    double spacing_tolerance = 0.02;    ///< relative tolerance on the step (absolute floor 0.01 mm)
};

namespace detail {

inline std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

/// Order and check the geometry of one series (headers of a single SeriesInstanceUID).
inline DicomSeries build_series(std::vector<DicomHeader> hs, const SeriesReadOptions& opt) {
    DicomSeries s;
    ICHSEG_CHECK(!hs.empty(), "build_series: no images");
    s.series_uid = hs[0].series_uid;
    s.study_uid = hs[0].study_uid;
    s.patient_id = hs[0].patient_id;
    s.series_description = hs[0].series_description;
    s.convolution_kernel = hs[0].convolution_kernel;
    s.modality = hs[0].modality;
    // Drop localizers and files without geometry.
    std::vector<DicomHeader> kept;
    for (auto& h : hs) {
        if (h.is_localizer()) {
            s.dropped.push_back({h.path, "localizer (ImageType " + h.image_type + ")"});
        } else if (!h.has_position || !h.has_orientation) {
            s.dropped.push_back({h.path, "no ImagePositionPatient / ImageOrientationPatient: cannot place it"});
        } else {
            kept.push_back(std::move(h));
        }
    }
    // Majority orientation and size.
    auto okey = [](const DicomHeader& h) {
        std::string k;
        for (double v : h.orientation) k += std::to_string(static_cast<long long>(std::llround(v * 1000))) + ",";
        return k + std::to_string(h.rows) + "x" + std::to_string(h.cols);
    };
    std::map<std::string, int> votes;
    for (const auto& h : kept) votes[okey(h)]++;
    std::string best;
    int bestn = 0;
    for (const auto& kv : votes)
        if (kv.second > bestn) {
            best = kv.first;
            bestn = kv.second;
        }
    std::vector<DicomHeader> sl;
    for (auto& h : kept) {
        if (okey(h) == best) sl.push_back(std::move(h));
        else
            s.dropped.push_back({h.path, "orientation or image size differs from the rest of the series "
                                         "(localizer, reformat or secondary image)"});
    }
    if (sl.empty()) {
        s.geometry_problem = "no image with usable geometry";
        return s;
    }
    const auto nrm = sl[0].normal();
    auto proj = [&](const DicomHeader& h) {
        return h.position[0] * nrm[0] + h.position[1] * nrm[1] + h.position[2] * nrm[2];
    };
    std::stable_sort(sl.begin(), sl.end(), [&](const DicomHeader& a, const DicomHeader& b) { return proj(a) < proj(b); });
    // Identical copies of one SOP instance: keep one.
    std::vector<DicomHeader> uniq;
    for (auto& h : sl) {
        if (!uniq.empty() && std::fabs(proj(uniq.back()) - proj(h)) < 1e-4 && !h.sop_instance_uid.empty() &&
            h.sop_instance_uid == uniq.back().sop_instance_uid) {
            s.dropped.push_back({h.path, "duplicate of " + uniq.back().path + " (same SOPInstanceUID)"});
            continue;
        }
        uniq.push_back(std::move(h));
    }
    s.slices = std::move(uniq);
    for (const auto& h : s.slices) s.positions.push_back(proj(h));
    s.slice_thickness = s.slices[0].slice_thickness;
    const std::string desc = upper(s.series_description);
    s.has_contrast = !s.slices[0].contrast_agent.empty() ||
                     ((desc.find("CONTRAST") != std::string::npos && desc.find("PRE") == std::string::npos &&
                       desc.find("NON") == std::string::npos && desc.find("WITHOUT") == std::string::npos) ||
                      desc.find("POST") != std::string::npos || desc.find("C+") != std::string::npos);
    const size_t n = s.slices.size();
    if (n < 2) {
        s.step = s.slice_thickness > 0 ? s.slice_thickness : 0;
        return s;
    }
    std::vector<double> d(n - 1);
    for (size_t i = 0; i + 1 < n; ++i) d[i] = s.positions[i + 1] - s.positions[i];
    std::vector<double> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    // Typical step: median of the non-zero steps.
    std::vector<double> nz;
    for (double x : sorted)
        if (x > 1e-4) nz.push_back(x);
    s.step = nz.empty() ? 0 : nz[nz.size() / 2];
    std::string problems;
    for (size_t i = 0; i + 1 < n; ++i) {
        if (d[i] <= 1e-4) {
            s.duplicate_positions = true;
            problems += "two images at the same position " + std::to_string(s.positions[i]) + " mm: " +
                        s.slices[i].path + " and " + s.slices[i + 1].path + "; ";
            continue;
        }
        const double tol = std::max(0.01, opt.spacing_tolerance * s.step);
        if (std::fabs(d[i] - s.step) <= tol) continue;
        const double ratio = d[i] / s.step;
        const double r = std::round(ratio);
        if (r >= 2 && std::fabs(d[i] - r * s.step) <= tol * r) {
            s.missing += static_cast<int64_t>(r) - 1;
            problems += std::to_string(static_cast<int>(r) - 1) + " slice(s) missing between " +
                        std::to_string(s.positions[i]) + " and " + std::to_string(s.positions[i + 1]) + " mm; ";
        } else {
            s.uneven = true;
            problems += "uneven step " + std::to_string(d[i]) + " mm (typical " + std::to_string(s.step) +
                        " mm) between " + s.slices[i].path + " and " + s.slices[i + 1].path + "; ";
        }
    }
    if (!problems.empty()) problems.erase(problems.size() - 2);
    s.geometry_problem = problems;
    return s;
}

inline bool looks_like_dicom_name(const std::filesystem::path& p) {
    const std::string ext = upper(p.extension().string());
    if (ext == ".DCM" || ext == ".DICOM" || ext == ".IMA") return true;
    if (ext.empty()) return true;  // DICOM files often have no extension (e.g. CT000001)
    return false;
}

}  // namespace detail

struct ScanOptions {
    bool recursive = true;
    /// Also try files with other extensions than .dcm/.ima/none (slower on folders full of other files).
    bool any_extension = false;
    DicomReadOptions dicom;
    SeriesReadOptions series;
};

/// Read the headers of every DICOM file under `folder` and group them into series (ordered by SeriesInstanceUID).
/// Unreadable files and non-image / non-CT files are recorded in `skipped` (and logged) and the scan goes on.
/// Error when the folder does not exist.
inline std::vector<DicomSeries> scan_dicom_folder(const std::string& folder, const ScanOptions& opt = {},
                                                  std::vector<Skipped>* skipped = nullptr) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(folder, ec)) fail(folder, ": no such folder");
    if (!fs::is_directory(folder, ec)) fail(folder, ": not a folder");
    std::vector<std::string> files;
    auto consider = [&](const fs::directory_entry& e) {
        std::error_code e2;
        if (!e.is_regular_file(e2)) return;
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.') return;
        if (name == "DICOMDIR") return;
        if (opt.any_extension || detail::looks_like_dicom_name(e.path())) files.push_back(e.path().string());
    };
    if (opt.recursive) {
        for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
             !ec && it != end; it.increment(ec))
            consider(*it);
    } else {
        for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) consider(*it);
    }
    if (ec) fail(folder, ": cannot list the folder: ", ec.message());
    std::sort(files.begin(), files.end());
    std::vector<Skipped> local;
    std::vector<Skipped>& sk = skipped ? *skipped : local;
    std::map<std::string, std::vector<DicomHeader>> by_series;
    for (const auto& f : files) {
        try {
            DicomHeader h = read_dicom_header(f);
            detail::check_image_header(h, opt.dicom);
            if (h.series_uid.empty()) {
                record_skip(sk, f, "no SeriesInstanceUID");
                continue;
            }
            by_series[h.series_uid].push_back(std::move(h));
        } catch (const Error& e) {
            std::string msg = e.what();
            if (msg.compare(0, f.size() + 2, f + ": ") == 0) msg = msg.substr(f.size() + 2);
            record_skip(sk, f, msg);
        }
    }
    std::vector<DicomSeries> out;
    for (auto& kv : by_series) {
        DicomSeries s = detail::build_series(std::move(kv.second), opt.series);
        s.folder = s.slices.empty() ? folder : fs::path(s.slices[0].path).parent_path().string();
        for (const auto& d : s.dropped) log(LogLevel::info, "series ", s.series_uid, ": dropped ", d.path, ": ", d.reason);
        if (s.slices.empty()) {
            record_skip(sk, folder, "series " + s.series_uid + ": " + s.geometry_problem);
            continue;
        }
        out.push_back(std::move(s));
    }
    return out;
}

/// Read the pixel data of an ordered series into a volume (nz = number of kept slices, k along the normal).
inline Volume read_dicom_series(const DicomSeries& s, const SeriesReadOptions& opt = {}) {
    const std::string where = s.folder.empty() ? ("series " + s.series_uid) : s.folder;
    if (s.slices.empty()) fail(where, ": series ", s.series_uid, " has no usable image");
    if (s.duplicate_positions) fail(where, ": ", s.geometry_problem);
    if (s.missing > 0 && !opt.allow_missing_slices)
        fail(where, ": series ", s.series_uid, ": ", s.geometry_problem,
             " (pass allow_missing_slices to read it anyway)");
    if (s.uneven && !opt.allow_uneven_spacing)
        fail(where, ": series ", s.series_uid, ": ", s.geometry_problem,
             " (pass allow_uneven_spacing to read it anyway)");
    const DicomHeader& h0 = s.slices[0];
    if (!h0.has_pixel_spacing) fail(h0.path, ": no PixelSpacing: cannot build the series geometry");
    const int64_t nz = s.size(), ny = h0.rows, nx = h0.cols;
    Volume v;
    v.voxels = Tensor<float>::empty({nz, ny, nx});
    std::vector<std::string> warnings;
    for (int64_t k = 0; k < nz; ++k) {
        const DicomHeader& hk = s.slices[static_cast<size_t>(k)];
        DicomSlice sl = read_dicom_slice(hk.path, opt.dicom);
        if (sl.header.rows != ny || sl.header.cols != nx)
            fail(hk.path, ": image size ", sl.header.rows, "x", sl.header.cols, " differs from the series (", ny, "x",
                 nx, ")");
        std::copy(sl.hu.begin(), sl.hu.end(), v.slice(k));
        for (const auto& w : sl.warnings) warnings.push_back(hk.path + ": " + w);
        v.source.files.push_back(hk.path);
    }
    const auto& o = h0.orientation;
    std::array<double, 3> kstep;
    if (nz >= 2) {
        const auto& pl = s.slices.back().position;
        for (int r = 0; r < 3; ++r)
            kstep[static_cast<size_t>(r)] = (pl[static_cast<size_t>(r)] - h0.position[static_cast<size_t>(r)]) /
                                            static_cast<double>(nz - 1 + s.missing);
    } else {
        const auto nrm = h0.normal();
        const double dz = h0.slice_thickness > 0 ? h0.slice_thickness : 1.0;
        for (int r = 0; r < 3; ++r) kstep[static_cast<size_t>(r)] = nrm[static_cast<size_t>(r)] * dz;
    }
    Affine a;
    for (int r = 0; r < 3; ++r) {
        const double sign = r < 2 ? -1.0 : 1.0;  // LPS -> RAS
        a(r, 0) = sign * o[static_cast<size_t>(r)] * h0.pixel_spacing[1];
        a(r, 1) = sign * o[static_cast<size_t>(r + 3)] * h0.pixel_spacing[0];
        a(r, 2) = sign * kstep[static_cast<size_t>(r)];
        a(r, 3) = sign * h0.position[static_cast<size_t>(r)];
    }
    v.affine = a;
    v.spacing = a.spacing();
    v.source.path = where;
    v.source.format = "dicom";
    v.source.stored_type = std::string(h0.pixel_representation ? "int" : "uint") + std::to_string(h0.bits_allocated) +
                           " (" + std::to_string(h0.bits_stored) + " bits stored)";
    v.source.modality = h0.modality;
    v.source.patient_id = h0.patient_id;
    v.source.study_uid = h0.study_uid;
    v.source.series_uid = s.series_uid;
    v.source.series_description = s.series_description;
    v.source.body_part = h0.body_part;
    v.source.study_description = h0.study_description;
    v.source.protocol_name = h0.protocol_name;
    if (!s.geometry_problem.empty()) warnings.push_back(s.geometry_problem);
    for (const auto& d : s.dropped) warnings.push_back("dropped " + d.path + ": " + d.reason);
    v.source.warnings = warnings;
    return v;
}

}  // namespace ichseg::io
