/// @file head_check.hpp (predict)
/// @brief Does an input look like a head CT? A warning (or, on request, a refusal) for series of other body parts
/// that would otherwise get a hemorrhage mask without comment. The checks (docs/predict.md §3), each a reason when
/// it fails:
///  * DICOM: BodyPartExamined names another body part; or, without it, the study / series description or protocol
///    names a body region and no head;
///  * size: the body outline (largest connected region above -200 HU per slice) spans more than 250 mm (median over
///    the slices with a body): an adult head is at most ~200 mm long and ~160 mm wide, a chest or abdomen 300 mm
///    and more;
///  * fat: more than 12 % of the body (its outline with holes filled) lies in -150..-50 HU: a head has only thin
///    scalp and orbital fat, a trunk subcutaneous and visceral fat;
///  * lung: more than 10 % of the body lies in -950..-600 HU (aerated lung; paranasal and mastoid air is near
///    -1000 HU);
///  * skull: no slice has a closed ring of bone (>= 300 HU) around at least 20 cm2 of -50..150 HU tissue (the
///    cranial cavity; a vertebral canal is ~2 cm2);
///  * cavity (with the ICM models): the predicted intracranial cavity is below 10 mL.
/// Pure functions of the volume (and the ICM's cavity size); no file I/O.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ichseg/io/volume.hpp"

namespace ichseg::predict {

struct HeadCheckOptions {
    double max_extent_mm = 250;       ///< median (over slices) of the body outline's larger extent
    double max_fat_fraction = 0.12;   ///< share of body voxels in -150..-50 HU
    double max_lung_fraction = 0.10;  ///< share of body voxels in -950..-600 HU
    double min_ring_cm2 = 20;         ///< enclosed soft tissue that counts as a cranial cavity
    double min_cavity_ml = 10;        ///< ICM cavity below this: "no intracranial cavity"
};

struct HeadCheck {
    bool looks_like_head = true;
    std::vector<std::string> reasons;  ///< why not (empty when it looks like a head)
    std::string body_part, descriptions;
    double extent_mm = 0;              ///< median over the body slices of the outline's larger extent
    double fat_fraction = 0, lung_fraction = 0;
    int64_t body_slices = 0, ring_slices = 0;
    double max_ring_cm2 = 0;           ///< largest enclosed soft-tissue area of a slice
    double cavity_ml = -1;             ///< ICM cavity (-1: no ICM)
};

namespace detail {

inline std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

inline bool mentions_head(const std::string& u) {
    for (const char* k : {"HEAD", "BRAIN", "SKULL", "CRAN", "CEREB", "KOPF", "SCHAED", "SCHAD", "TETE", "CABEZA",
                          "NEURO", "STROKE", "HIRN", "ORBIT", "SINUS"})
        if (u.find(k) != std::string::npos) return true;
    return false;
}

inline std::string body_region(const std::string& u) {
    for (const char* k : {"CHEST", "THORAX", "LUNG", "ABDOMEN", "ABD", "PELVIS", "BECKEN", "LIVER", "KIDNEY", "RENAL",
                          "SPINE", "LSPINE", "TSPINE", "KNEE", "HIP", "SHOULDER", "CARDIAC", "HEART", "CORONARY",
                          "AORTA", "COLON", "EXTREMITY", "WHOLEBODY", "WHOLE BODY", "TRUNK", "BREAST"})
        if (u.find(k) != std::string::npos) return k;
    return "";
}

/// Flood fill from `seeds` over pixels where `open` is true (4-connected); marks reached pixels in `reached`.
inline void flood(const std::vector<uint8_t>& open, int64_t ny, int64_t nx, std::vector<int64_t> seeds,
                  std::vector<uint8_t>& reached) {
    reached.assign(open.size(), 0);
    std::vector<int64_t> stack;
    for (int64_t s : seeds)
        if (open[static_cast<size_t>(s)] && !reached[static_cast<size_t>(s)]) {
            reached[static_cast<size_t>(s)] = 1;
            stack.push_back(s);
        }
    while (!stack.empty()) {
        const int64_t p = stack.back();
        stack.pop_back();
        const int64_t y = p / nx, x = p % nx;
        const int64_t nb[4] = {x > 0 ? p - 1 : -1, x + 1 < nx ? p + 1 : -1, y > 0 ? p - nx : -1, y + 1 < ny ? p + nx : -1};
        for (int64_t q : nb)
            if (q >= 0 && open[static_cast<size_t>(q)] && !reached[static_cast<size_t>(q)]) {
                reached[static_cast<size_t>(q)] = 1;
                stack.push_back(q);
            }
    }
}

/// The largest 4-connected region of `open` (its pixel count; `mask` = 1 on it). `comp` is scratch.
inline int64_t largest_component(const std::vector<uint8_t>& open, int64_t ny, int64_t nx, std::vector<int32_t>& comp,
                                 std::vector<uint8_t>& mask) {
    const int64_t plane = ny * nx;
    comp.assign(static_cast<size_t>(plane), 0);
    int32_t id = 0, best_id = 0;
    int64_t best = 0;
    std::vector<int64_t> stack;
    for (int64_t i = 0; i < plane; ++i) {
        if (!open[static_cast<size_t>(i)] || comp[static_cast<size_t>(i)]) continue;
        ++id;
        int64_t n = 0;
        comp[static_cast<size_t>(i)] = id;
        stack.push_back(i);
        while (!stack.empty()) {
            const int64_t p = stack.back();
            stack.pop_back();
            ++n;
            const int64_t y = p / nx, x = p % nx;
            const int64_t nb[4] = {x > 0 ? p - 1 : -1, x + 1 < nx ? p + 1 : -1, y > 0 ? p - nx : -1,
                                   y + 1 < ny ? p + nx : -1};
            for (int64_t q : nb)
                if (q >= 0 && open[static_cast<size_t>(q)] && !comp[static_cast<size_t>(q)]) {
                    comp[static_cast<size_t>(q)] = id;
                    stack.push_back(q);
                }
        }
        if (n > best) {
            best = n;
            best_id = id;
        }
    }
    mask.assign(static_cast<size_t>(plane), 0);
    for (int64_t i = 0; i < plane; ++i) mask[static_cast<size_t>(i)] = best_id != 0 && comp[static_cast<size_t>(i)] == best_id;
    return best;
}

inline std::vector<int64_t> border_pixels(int64_t ny, int64_t nx) {
    std::vector<int64_t> b;
    for (int64_t x = 0; x < nx; ++x) {
        b.push_back(x);
        b.push_back((ny - 1) * nx + x);
    }
    for (int64_t y = 0; y < ny; ++y) {
        b.push_back(y * nx);
        b.push_back(y * nx + nx - 1);
    }
    return b;
}

}  // namespace detail

/// The image and metadata checks (everything but the ICM's cavity; see add_cavity_check).
inline HeadCheck check_head_like(const io::Volume& ct, const HeadCheckOptions& o = {}) {
    HeadCheck h;
    // DICOM metadata
    h.body_part = ct.source.body_part;
    h.descriptions = ct.source.study_description;
    for (const std::string* d : {&ct.source.series_description, &ct.source.protocol_name})
        if (!d->empty()) h.descriptions += (h.descriptions.empty() ? "" : " / ") + *d;
    const std::string bp = detail::upper(h.body_part), desc = detail::upper(h.descriptions);
    if (!bp.empty() && !detail::mentions_head(bp)) {
        h.reasons.push_back("DICOM BodyPartExamined is '" + h.body_part + "', not the head");
    } else if (bp.empty() && !desc.empty() && !detail::mentions_head(desc)) {
        const std::string region = detail::body_region(desc);
        if (!region.empty()) h.reasons.push_back("the study is described as '" + h.descriptions + "' (" + region + ")");
    }
    // image statistics, slice by slice
    const int64_t nz = ct.nz(), ny = ct.ny(), nx = ct.nx(), plane = ny * nx;
    const double sx = ct.affine.column_norm(0), sy = ct.affine.column_norm(1);
    const Tensor<float> vox = ct.voxels.contiguous();
    const std::vector<int64_t> border = detail::border_pixels(ny, nx);
    std::vector<double> extents;
    int64_t body_vox = 0, fat_vox = 0, lung_vox = 0;
    std::vector<uint8_t> open(static_cast<size_t>(plane)), reached, body(static_cast<size_t>(plane)), best_mask;
    std::vector<int32_t> comp;
    for (int64_t k = 0; k < nz; ++k) {
        const float* s = vox.data() + k * plane;
        // largest connected region above -200 HU: the body outline
        for (int64_t i = 0; i < plane; ++i) open[static_cast<size_t>(i)] = s[i] > -200.f;
        const int64_t best = detail::largest_component(open, ny, nx, comp, best_mask);
        if (best * sx * sy < 500) continue;  // under 5 cm2: no body in this slice
        ++h.body_slices;
        int64_t x0 = nx, x1 = -1, y0 = ny, y1 = -1;
        for (int64_t i = 0; i < plane; ++i)
            if (best_mask[static_cast<size_t>(i)]) {
                x0 = std::min(x0, i % nx);
                x1 = std::max(x1, i % nx);
                y0 = std::min(y0, i / nx);
                y1 = std::max(y1, i / nx);
            }
        extents.push_back(std::max((x1 - x0 + 1) * sx, (y1 - y0 + 1) * sy));
        // the body with its holes filled: everything not reachable from the border outside the outline
        for (int64_t i = 0; i < plane; ++i) open[static_cast<size_t>(i)] = !best_mask[static_cast<size_t>(i)];
        detail::flood(open, ny, nx, border, reached);
        for (int64_t i = 0; i < plane; ++i) {
            body[static_cast<size_t>(i)] = !reached[static_cast<size_t>(i)];
            if (!body[static_cast<size_t>(i)]) continue;
            ++body_vox;
            fat_vox += s[i] >= -150.f && s[i] <= -50.f;
            lung_vox += s[i] >= -950.f && s[i] <= -600.f;
        }
        // a closed bony ring: soft tissue not reachable from the border without crossing bone
        for (int64_t i = 0; i < plane; ++i) open[static_cast<size_t>(i)] = s[i] < 300.f;
        detail::flood(open, ny, nx, border, reached);
        int64_t enclosed = 0;
        for (int64_t i = 0; i < plane; ++i)
            enclosed += !reached[static_cast<size_t>(i)] && s[i] >= -50.f && s[i] <= 150.f;
        const double cm2 = static_cast<double>(enclosed) * sx * sy / 100.0;
        h.max_ring_cm2 = std::max(h.max_ring_cm2, cm2);
        if (cm2 >= o.min_ring_cm2) ++h.ring_slices;
    }
    if (!extents.empty()) {
        std::sort(extents.begin(), extents.end());
        h.extent_mm = extents[extents.size() / 2];
    }
    h.fat_fraction = body_vox ? static_cast<double>(fat_vox) / static_cast<double>(body_vox) : 0;
    h.lung_fraction = body_vox ? static_cast<double>(lung_vox) / static_cast<double>(body_vox) : 0;
    char buf[200];
    if (h.body_slices == 0) {
        h.reasons.push_back("no slice shows a body (nothing above -200 HU over 5 cm2)");
    } else {
        if (h.extent_mm > o.max_extent_mm) {
            std::snprintf(buf, sizeof buf, "the body is %.0f mm across (median over slices; a head is at most ~200 mm)",
                          h.extent_mm);
            h.reasons.push_back(buf);
        }
        if (h.fat_fraction > o.max_fat_fraction) {
            std::snprintf(buf, sizeof buf, "%.0f %% of the body is fat (-150..-50 HU; a head has little fat)",
                          100 * h.fat_fraction);
            h.reasons.push_back(buf);
        }
        if (h.lung_fraction > o.max_lung_fraction) {
            std::snprintf(buf, sizeof buf, "%.0f %% of the body is aerated lung (-950..-600 HU)", 100 * h.lung_fraction);
            h.reasons.push_back(buf);
        }
        if (h.ring_slices == 0) {
            std::snprintf(buf, sizeof buf,
                          "no slice has a closed ring of bone around soft tissue (a skull; largest enclosed area %.1f cm2)",
                          h.max_ring_cm2);
            h.reasons.push_back(buf);
        }
    }
    h.looks_like_head = h.reasons.empty();
    return h;
}

/// Add the ICM's verdict: `cavity_ml` of predicted intracranial cavity.
inline void add_cavity_check(HeadCheck& h, double cavity_ml, const HeadCheckOptions& o = {}) {
    h.cavity_ml = cavity_ml;
    if (cavity_ml < o.min_cavity_ml) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "the intracranial-cavity models found no cavity (%.1f mL; < %.0f mL)", cavity_ml,
                      o.min_cavity_ml);
        h.reasons.push_back(buf);
    }
    h.looks_like_head = h.reasons.empty();
}

/// One line: "looks like a head CT" or "does not look like a head CT: <reason>; <reason>".
inline std::string head_check_summary(const HeadCheck& h) {
    if (h.looks_like_head) return "looks like a head CT";
    std::string s = "does not look like a head CT: ";
    for (size_t i = 0; i < h.reasons.size(); ++i) s += (i ? "; " : "") + h.reasons[i];
    return s;
}

inline nlohmann::json head_check_json(const HeadCheck& h) {
    nlohmann::json j = {{"looks_like_head", h.looks_like_head},
                        {"reasons", h.reasons},
                        {"body_part_examined", h.body_part},
                        {"descriptions", h.descriptions},
                        {"body_extent_mm", h.extent_mm},
                        {"fat_fraction", h.fat_fraction},
                        {"lung_fraction", h.lung_fraction},
                        {"body_slices", h.body_slices},
                        {"skull_ring_slices", h.ring_slices},
                        {"largest_enclosed_cm2", h.max_ring_cm2}};
    if (h.cavity_ml >= 0) j["icm_cavity_ml"] = h.cavity_ml;
    return j;
}

}  // namespace ichseg::predict
