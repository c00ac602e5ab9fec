/// @file params.hpp (data/phantom)
/// @brief What a phantom is asked for (`PhantomParams`) and what it is (`Phantom`: the CT, its masks, labels and
/// lesion records), with the check of the parameters. Part of the phantom generator (data/phantom.hpp).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/labels.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::data {

using io::IchLabels;
using io::IchSubtype;

struct PhantomParams {
    int64_t size = 256;            ///< nx = ny (pixels)
    int64_t slices = 0;            ///< nz; 0 = cover skull base to vertex at `slice_spacing`
    double slice_spacing = 5.0;    ///< mm between slices (= slice thickness); 0 = drawn per case from the
                                   ///< clinical reconstructions 2.5, 3, 4, 5 mm
    double fov_mm = 0;             ///< reconstruction field of view; 0 = U(200, 260) mm (pixel spacing
                                   ///< 0.39-0.51 mm at 512 px, 0.78-1.02 mm at 256 px)
    double ich_probability = 0.5;  ///< chance of at least one hemorrhage (when `ich` is -1)
    int ich = -1;                  ///< -1 random, 0 none, 1 at least one
    uint32_t subtypes = 0;         ///< bit (1 << IchSubtype) to force those subtypes (implies ich = 1); 0 = random
    double gantry_tilt_deg = 0;    ///< tilt of the slices about the x axis (sheared affine)
    double noise_sd = -1;          ///< HU at 5 mm slices (scaled by sqrt(5 mm / spacing), higher in slices with
                                   ///< more bone); < 0: U(2.5, 8)
    bool mimics = true;            ///< falx, tentorium, venous sinuses, calcifications, beam hardening, couch
    bool artefacts = true;         ///< motion (between and during slices), kVp / calibration HU shifts
    double pose_jitter = 1.0;      ///< 0 = centred and upright head; 1 = clinical positioning spread
    double lesion_scale = 1.0;     ///< multiplies the drawn hemorrhage sizes (IPH radii, EDH thickness and extent,
                                   ///< SDH thickness, SAH extent and, when > 1, the width of the sulci, fissures
                                   ///< and cisterns it fills; IVH fills the ventricles as before), 0.25..3;
                                   ///< 1 = the clinical ranges above (the random draws do not depend on it)
    bool slab_anywhere = false;    ///< a slab of `slices` (> 0) is centred uniformly between the skull base and
                                   ///< the vertex, as the slices of a whole-head scan are spread; false: around
                                   ///< the level of the lateral ventricles (the same single random draw either way)
};

struct PhantomLesion {
    IchSubtype type;
    std::array<double, 3> center{0, 0, 0};  ///< patient mm
    double size_mm = 0;                     ///< characteristic size (radius / extent)
    double hu = 0;
    std::string variant;                    ///< e.g. "acute", "chronic", "basal ganglia", "dependent"
    int64_t voxels = 0;                     ///< voxels of this subtype in the mask (filled after generation)
};

/// How a phantom was scanned (drawn per case; for reports and tests).
struct PhantomScan {
    double fov_mm = 0, pixel_mm = 0, slice_mm = 0;
    double kvp = 120;             ///< tube voltage: scales the bone HU (lower kVp, denser bone)
    double hu_offset = 0;         ///< calibration offset added to every non-air HU
    double noise_sd = 0;          ///< HU, at the case's slice thickness, before the per-slice bone factor
    double psf_sigma_mm = 0;
    double yaw_deg = 0, pitch_deg = 0, roll_deg = 0, offset_x_mm = 0, offset_y_mm = 0;
    int64_t motion_step_slice = -1;      ///< the head moved between slices: from this slice on (-1: no)
    std::vector<int64_t> motion_slices;  ///< slices with motion during their rotation (ghost, streaks)
};

struct Phantom {
    io::Volume ct;                 ///< HU, float (not rounded)
    io::Mask ich;                  ///< any hemorrhage
    io::Mask brain;                ///< intracranial cavity (inside the inner table, above the skull base)
    io::Image3D<uint8_t> subtype_bits;  ///< bit s set where subtype s (only inside `ich`)
    std::vector<IchLabels> slice_labels;
    IchLabels labels;              ///< volume: OR of the slices
    std::vector<uint8_t> slice_fracture;
    bool fracture = false;
    std::vector<PhantomLesion> lesions;
    PhantomScan scan;
    uint64_t seed = 0;
    std::string description;       ///< one line: size, spacing, lesions
};

namespace phantom {

/// Error naming the parameter unless every parameter is in its range.
inline void check_params(const PhantomParams& prm) {
    ICHSEG_CHECK(prm.size >= 16 && prm.size <= 2048, "generate_phantom: size ", prm.size, " outside 16..2048");
    ICHSEG_CHECK(prm.slices >= 0 && prm.slices <= 2000, "generate_phantom: slices ", prm.slices, " outside 0..2000");
    ICHSEG_CHECK(prm.slice_spacing == 0 || (prm.slice_spacing > 0.1 && prm.slice_spacing <= 20),
                 "generate_phantom: slice spacing ", prm.slice_spacing, " mm outside (0.1, 20] (0 = random)");
    ICHSEG_CHECK(prm.pose_jitter >= 0 && prm.pose_jitter <= 3, "generate_phantom: pose jitter ", prm.pose_jitter,
                 " outside 0..3");
    ICHSEG_CHECK(prm.lesion_scale >= 0.25 && prm.lesion_scale <= 3, "generate_phantom: lesion scale ",
                 prm.lesion_scale, " outside 0.25..3");
    ICHSEG_CHECK(prm.fov_mm == 0 || (prm.fov_mm >= 100 && prm.fov_mm <= 500), "generate_phantom: field of view ",
                 prm.fov_mm, " mm outside 100..500 (0 = random)");
    ICHSEG_CHECK(std::fabs(prm.gantry_tilt_deg) < 40, "generate_phantom: gantry tilt ", prm.gantry_tilt_deg,
                 " deg is not plausible");
}

}  // namespace phantom
}  // namespace ichseg::data
