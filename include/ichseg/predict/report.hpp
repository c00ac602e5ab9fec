/// @file report.hpp (predict)
/// @brief The numbers a clinician or a study reads off a hemorrhage mask: volume in mL, number of slices
/// involved, largest axial extent, per-slice statistics. Works on any `io::Mask` (a prediction or a ground-truth
/// mask), so the same code is tested against hand-computed values. No NIfTI / DICOM dependency.
///
/// Definitions (docs/predict.md §4):
///  * voxel volume (mm^3) = |det| of the affine's 3x3 block: the volume of the parallelepiped one voxel occupies,
///    which is exact for sheared (gantry-tilted) grids too, where spacing_x * spacing_y * spacing_z would
///    over-count by 1 / cos(tilt). For an orthogonal affine it equals the product of the spacings.
///  * volume_ml = (number of mask voxels) x voxel volume / 1000.
///  * slices_involved = number of axial slices k (the volume's third index) with at least one mask voxel.
///  * largest axial extent (mm) = the largest distance between the centres of two mask pixels of the same axial
///    slice, in world millimetres (through the affine, so anisotropic pixels and shear are handled), maximised over
///    slices: the in-plane Feret diameter, the "A" of the ABC/2 rule. A lesion of one pixel has extent 0; the
///    true extent of the blood is up to one pixel diagonal larger (centres, not edges, are measured).
///  * per slice: mask voxels, area in mm^2 (voxels x |in-plane cross product|), extent in mm, world z of the
///    slice centre, and the maximum probability (when the caller supplies it; see segmenter.hpp for which map).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/text.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::predict {

struct SliceReport {
    int64_t index = 0;            ///< k (0 = first stored slice)
    double z_mm = 0;              ///< world z (RAS, superior +) of the slice centre
    int64_t voxels = 0;           ///< mask voxels in the slice
    double area_mm2 = 0;          ///< voxels x pixel area
    double extent_mm = 0;         ///< largest distance between two mask pixel centres of this slice
    float max_probability = -1;   ///< -1 when no probability map was given
};

struct Report {
    std::string case_id;
    int64_t nx = 0, ny = 0, nz = 0;
    std::array<double, 3> spacing_mm{0, 0, 0};
    double voxel_volume_mm3 = 0;
    int64_t voxels = 0;                    ///< mask voxels in the volume
    double volume_ml = 0;
    int64_t slices_involved = 0;
    double largest_axial_extent_mm = 0;
    int64_t largest_axial_extent_slice = -1;  ///< -1 when the mask is empty
    double max_probability = -1;           ///< max over slices (-1 without probabilities)
    std::vector<SliceReport> slices;       ///< one per slice, in k order
};

namespace detail {

/// Cross product z-component of (b - a) x (c - a) on integer points.
inline int64_t cross(const std::array<int64_t, 2>& a, const std::array<int64_t, 2>& b, const std::array<int64_t, 2>& c) {
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

/// Convex hull (Andrew's monotone chain) of integer points; collinear points dropped.
inline std::vector<std::array<int64_t, 2>> convex_hull(std::vector<std::array<int64_t, 2>> p) {
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    if (p.size() <= 2) return p;
    std::vector<std::array<int64_t, 2>> h(2 * p.size());
    size_t k = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
        h[k++] = p[i];
    }
    for (size_t i = p.size() - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
        h[k++] = p[i];
    }
    h.resize(k - 1);
    return h;
}

}  // namespace detail

/// Largest distance (mm) between the centres of two foreground pixels of one slice (ny rows x nx columns,
/// row-major), measured through the in-plane affine columns (i -> column 0, j -> column 1).
/// The diameter of a point set is reached between two vertices of its convex hull, and an affine map keeps
/// hull vertices extreme, so the hull is taken in index space (exact integer arithmetic) and only its vertices
/// are measured in millimetres.
inline double slice_extent_mm(const uint8_t* m, int64_t ny, int64_t nx, const io::Affine& a) {
    std::vector<std::array<int64_t, 2>> pts;
    for (int64_t j = 0; j < ny; ++j)
        for (int64_t i = 0; i < nx; ++i) {
            if (!m[j * nx + i]) continue;
            // Only boundary pixels can be hull vertices.
            const bool interior = i > 0 && j > 0 && i + 1 < nx && j + 1 < ny && m[j * nx + i - 1] && m[j * nx + i + 1] &&
                                  m[(j - 1) * nx + i] && m[(j + 1) * nx + i];
            if (!interior) pts.push_back({i, j});
        }
    if (pts.size() < 2) return 0.0;
    const auto h = detail::convex_hull(std::move(pts));
    double best = 0;
    for (size_t p = 0; p < h.size(); ++p)
        for (size_t q = p + 1; q < h.size(); ++q) {
            const double di = static_cast<double>(h[q][0] - h[p][0]), dj = static_cast<double>(h[q][1] - h[p][1]);
            double d2 = 0;
            for (int r = 0; r < 3; ++r) {
                const double w = a(r, 0) * di + a(r, 1) * dj;
                d2 += w * w;
            }
            best = std::max(best, d2);
        }
    return std::sqrt(best);
}

/// The report of a mask. `slice_max_probability` (optional, nz values) is copied into the slice rows.
inline Report compute_report(const io::Mask& mask, const std::vector<float>* slice_max_probability = nullptr,
                             const std::string& case_id = "") {
    ICHSEG_CHECK(mask.voxels.defined() && mask.voxels.dim() == 3, "compute_report: the mask must be a 3-D image");
    const double det = std::fabs(mask.affine.det3());
    ICHSEG_CHECK(std::isfinite(det) && det > 0, "compute_report: singular or non-finite affine (|det| = ", det, ")");
    Report r;
    r.case_id = case_id;
    r.nx = mask.nx();
    r.ny = mask.ny();
    r.nz = mask.nz();
    r.spacing_mm = mask.affine.spacing();
    r.voxel_volume_mm3 = det;
    if (slice_max_probability)
        ICHSEG_CHECK(static_cast<int64_t>(slice_max_probability->size()) == r.nz, "compute_report: ",
                     slice_max_probability->size(), " slice probabilities for ", r.nz, " slices");
    const io::Affine& a = mask.affine;
    // Pixel area = |column 0 x column 1|.
    const double c0[3] = {a(0, 0), a(1, 0), a(2, 0)}, c1[3] = {a(0, 1), a(1, 1), a(2, 1)};
    const double cx = c0[1] * c1[2] - c0[2] * c1[1], cy = c0[2] * c1[0] - c0[0] * c1[2], cz = c0[0] * c1[1] - c0[1] * c1[0];
    const double pixel_area = std::sqrt(cx * cx + cy * cy + cz * cz);
    const io::Mask m = mask;
    const Tensor<uint8_t> vox = m.voxels.contiguous();
    for (int64_t k = 0; k < r.nz; ++k) {
        const uint8_t* s = vox.data() + k * r.nx * r.ny;
        SliceReport sr;
        sr.index = k;
        sr.z_mm = a.apply(0.5 * static_cast<double>(r.nx - 1), 0.5 * static_cast<double>(r.ny - 1), static_cast<double>(k))[2];
        for (int64_t i = 0; i < r.nx * r.ny; ++i) sr.voxels += s[i] ? 1 : 0;
        sr.area_mm2 = static_cast<double>(sr.voxels) * pixel_area;
        if (sr.voxels > 0) {
            sr.extent_mm = slice_extent_mm(s, r.ny, r.nx, a);
            ++r.slices_involved;
            if (r.largest_axial_extent_slice < 0 || sr.extent_mm > r.largest_axial_extent_mm) {
                r.largest_axial_extent_mm = sr.extent_mm;
                r.largest_axial_extent_slice = k;
            }
        }
        if (slice_max_probability) {
            sr.max_probability = (*slice_max_probability)[static_cast<size_t>(k)];
            r.max_probability = std::max<double>(r.max_probability, sr.max_probability);
        }
        r.voxels += sr.voxels;
        r.slices.push_back(sr);
    }
    r.volume_ml = static_cast<double>(r.voxels) * det / 1000.0;
    return r;
}

/// The report as JSON (slices included when `with_slices`).
inline nlohmann::json report_json(const Report& r, bool with_slices = true) {
    nlohmann::json j;
    j["case"] = r.case_id;
    j["shape_xyz"] = {r.nx, r.ny, r.nz};
    j["spacing_mm"] = {r.spacing_mm[0], r.spacing_mm[1], r.spacing_mm[2]};
    j["voxel_volume_mm3"] = r.voxel_volume_mm3;
    j["hemorrhage_voxels"] = r.voxels;
    j["hemorrhage_volume_ml"] = r.volume_ml;
    j["slices_involved"] = r.slices_involved;
    j["largest_axial_extent_mm"] = r.largest_axial_extent_mm;
    j["largest_axial_extent_slice"] = r.largest_axial_extent_slice;
    j["max_probability"] = r.max_probability < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.max_probability);
    if (with_slices) {
        nlohmann::json s = nlohmann::json::array();
        for (const auto& x : r.slices)
            s.push_back({{"slice", x.index},
                         {"z_mm", x.z_mm},
                         {"voxels", x.voxels},
                         {"area_mm2", x.area_mm2},
                         {"extent_mm", x.extent_mm},
                         {"max_probability", x.max_probability < 0 ? nlohmann::json(nullptr) : nlohmann::json(x.max_probability)}});
        j["slices"] = s;
    }
    return j;
}

namespace detail {
inline std::string fmt_num(double v) { return io::format("%.6g", v); }
}  // namespace detail

/// One-line-per-slice CSV of a report (header included).
inline std::string slices_csv(const Report& r) {
    std::ostringstream os;
    os << "slice,z_mm,voxels,area_mm2,extent_mm,max_probability\n";
    for (const auto& s : r.slices)
        os << s.index << ',' << detail::fmt_num(s.z_mm) << ',' << s.voxels << ',' << detail::fmt_num(s.area_mm2) << ','
           << detail::fmt_num(s.extent_mm) << ',' << (s.max_probability < 0 ? std::string() : detail::fmt_num(s.max_probability))
           << '\n';
    return os.str();
}

/// Header of the per-case summary CSV (one row per case; see summary_csv_row).
inline std::string summary_csv_header() {
    return "case,status,volume_ml,voxels,slices_involved,largest_axial_extent_mm,largest_axial_extent_slice,"
           "max_probability,nx,ny,nz,spacing_x_mm,spacing_y_mm,spacing_z_mm,input,mask,message\n";
}

inline std::string summary_csv_row(const Report& r, const std::string& status, const std::string& input,
                                   const std::string& mask_path, const std::string& message) {
    std::ostringstream os;
    const bool ok = status == "ok";
    auto num = [&](double v) { return ok ? detail::fmt_num(v) : std::string(); };
    auto inum = [&](int64_t v) { return ok ? std::to_string(v) : std::string(); };
    os << io::csv_field(r.case_id) << ',' << status << ',' << num(r.volume_ml) << ',' << inum(r.voxels) << ','
       << inum(r.slices_involved) << ',' << num(r.largest_axial_extent_mm) << ',' << inum(r.largest_axial_extent_slice)
       << ',' << (ok && r.max_probability >= 0 ? detail::fmt_num(r.max_probability) : std::string()) << ','
       << inum(r.nx) << ',' << inum(r.ny) << ',' << inum(r.nz) << ',' << num(r.spacing_mm[0]) << ','
       << num(r.spacing_mm[1]) << ',' << num(r.spacing_mm[2]) << ',' << io::csv_field(input) << ','
       << io::csv_field(mask_path) << ',' << io::csv_field(message) << '\n';
    return os.str();
}

}  // namespace ichseg::predict
