/// @file phantom.hpp
/// @brief Synthetic head-CT phantoms with ground truth: a CT volume in HU, the ICH mask, the intracranial-cavity
/// ("brain") mask, a per-voxel subtype map and slice / volume labels that are derived from the masks (so they
/// always agree). Used by the tests, the demo and the study's quick reproduction; io/phantom_layouts.hpp writes
/// phantoms in the four real dataset layouts. No I/O dependency.
///
/// The head is an analytic model in patient coordinates (mm, RAS: x right, y anterior, z superior; z = 0 near the
/// third ventricle), evaluated at several sub-samples per voxel (through-plane always, in-plane when voxels are
/// coarse) and averaged (partial volume), then blurred in-plane (scanner PSF) and given spatially correlated noise.
///  * Anatomy: ellipsoidal head with per-case size / shape; skin, subcutaneous fat and temporalis muscle; skull
///    with outer table, diploe and inner table (thinner temporal squama); cranial fossae floors, petrous ridges,
///    orbits with globes, ethmoid / sphenoid / frontal sinus air and mastoid air cells in the lowest slices;
///    subarachnoid CSF rim, gyri and sulci (zero-crossing bands of a smooth random field), grey / white matter,
///    basal ganglia and thalami, Sylvian fissures, basal cisterns, midbrain / pons, cerebellum with folia, lateral
///    ventricles (frontal / occipital / temporal horns), third and fourth ventricles, atrophy varying CSF spaces.
///  * Mimics (when `mimics`): falx cerebri (dense), superior sagittal and transverse sinuses (55-68 HU, blood
///    density), pineal / choroid plexus / basal ganglia / falx calcifications, beam hardening (cupping next to the
///    inner table, dark and bright streaks between the petrous bones), a patient couch.
///  * Hemorrhages (IchSubtype): EDH biconvex lens against the inner table (optionally with a skull fracture and a
///    hypodense "swirl"); SDH crescent over one convexity, not crossing the falx, acute / subacute (near-isodense) /
///    chronic (hypodense); SAH in sulci, Sylvian fissure or basal cisterns; IPH irregular blob in the basal ganglia,
///    thalamus, lobar white matter or cerebellum with a hypodense oedema rim; IVH layering in the dependent
///    (posterior) horns or casting one ventricle. HU ranges follow clinical values (acute blood 50-90 HU).
///  * Geometry varies per case: field of view, head size, position, yaw / pitch / roll, slice count and spacing,
///    optional gantry tilt (a sheared affine). The affine follows a standard axial DICOM acquisition converted to
///    RAS (column index towards patient left, row index towards posterior), so row 0 is anterior.
/// Everything is a pure function of (params, seed).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/data/random.hpp"
#include "ichseg/io/labels.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::data {

using io::IchLabels;
using io::IchSubtype;

struct PhantomParams {
    int64_t size = 256;            ///< nx = ny (pixels)
    int64_t slices = 0;            ///< nz; 0 = cover skull base to vertex at `slice_spacing`
    double slice_spacing = 5.0;    ///< mm between slices (= slice thickness)
    double fov_mm = 0;             ///< reconstruction field of view; 0 = U(210, 250) mm
    double ich_probability = 0.5;  ///< chance of at least one hemorrhage (when `ich` is -1)
    int ich = -1;                  ///< -1 random, 0 none, 1 at least one
    uint32_t subtypes = 0;         ///< bit (1 << IchSubtype) to force those subtypes (implies ich = 1); 0 = random
    double gantry_tilt_deg = 0;    ///< tilt of the slices about the x axis (sheared affine)
    double noise_sd = -1;          ///< HU; < 0: U(3, 7)
    bool mimics = true;            ///< venous sinuses, calcifications, beam hardening, falx, couch
    double pose_jitter = 1.0;      ///< 0 = centred and upright head
    double lesion_scale = 1.0;     ///< multiplies the drawn hemorrhage sizes (IPH radii, EDH thickness and extent,
                                   ///< SDH thickness, SAH extent and, when > 1, the width of the sulci, fissures
                                   ///< and cisterns it fills; IVH fills the ventricles as before), 0.25..3;
                                   ///< 1 = the clinical ranges above (the random draws do not depend on it)
};

struct PhantomLesion {
    IchSubtype type;
    std::array<double, 3> center{0, 0, 0};  ///< patient mm
    double size_mm = 0;                     ///< characteristic size (radius / extent)
    double hu = 0;
    std::string variant;                    ///< e.g. "acute", "chronic", "basal ganglia", "dependent"
    int64_t voxels = 0;                     ///< voxels of this subtype in the mask (filled after generation)
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
    uint64_t seed = 0;
    std::string description;       ///< one line: size, spacing, lesions
};

namespace detail {

inline double smoothstep(double e0, double e1, double x) {
    double t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    return t * t * (3 - 2 * t);
}

struct V3 {
    double x, y, z;
};
inline V3 operator-(V3 a, V3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline V3 operator+(V3 a, V3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline V3 operator*(double s, V3 a) { return {s * a.x, s * a.y, s * a.z}; }
inline double dot(V3 a, V3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline double norm(V3 a) { return std::sqrt(dot(a, a)); }

/// Distance from p to the segment [a, b] and the parameter t in [0, 1] of the closest point.
inline double seg_dist(V3 p, V3 a, V3 b, double& t) {
    const V3 ab = b - a;
    const double l2 = dot(ab, ab);
    t = l2 > 0 ? std::clamp(dot(p - a, ab) / l2, 0.0, 1.0) : 0.0;
    return norm(p - (a + t * ab));
}

/// A smooth random field: mean of `n` plane waves, values roughly in [-1, 1].
struct WaveField {
    std::array<V3, 6> k{};
    std::array<double, 6> phase{};
    int n = 0;
    void init(Rng& rng, int waves, double wavelength_lo, double wavelength_hi) {
        n = waves;
        for (int i = 0; i < n; ++i) {
            double x = rng.normal(), y = rng.normal(), z = rng.normal();
            const double l = std::sqrt(x * x + y * y + z * z) + 1e-9;
            const double f = 6.283185307179586 / rng.uniform(wavelength_lo, wavelength_hi);
            k[static_cast<size_t>(i)] = {f * x / l, f * y / l, f * z / l};
            phase[static_cast<size_t>(i)] = rng.uniform(0, 6.283185307179586);
        }
    }
    double operator()(V3 p) const {
        double s = 0;
        for (int i = 0; i < n; ++i) s += std::sin(dot(k[static_cast<size_t>(i)], p) + phase[static_cast<size_t>(i)]);
        return s / std::sqrt(static_cast<double>(n) * 0.5);
    }
};

enum Tissue : uint8_t {
    T_AIR, T_SOFT, T_BONE, T_CSF_RIM, T_SULCUS, T_FISSURE, T_CISTERN, T_VENTRICLE, T_GM, T_WM, T_OTHER
};

struct Sample {
    float hu = -1000.f;
    uint8_t bits = 0;  ///< lesion subtype bits
    bool cavity = false;
    bool fracture = false;
};

struct LesionModel {
    IchSubtype type = IchSubtype::IPH;
    V3 c{0, 0, 0};           ///< centre (patient mm)
    V3 r{5, 5, 5};           ///< radii (IPH), or x: thickness, y: extent (EDH / SDH), x: radius (SAH)
    V3 dir{1, 0, 0};         ///< EDH / SDH: unit direction from the head centre to the surface point
    int side = 1;            ///< SDH hemisphere (+1 right, -1 left); IVH cast side (0 = dependent layering)
    double hu = 70;
    double level = 0;        ///< IVH: blood where y < level
    double edema = 0;        ///< IPH oedema rim (mm)
    double swirl = 0;        ///< EDH hypodense core radius (mm), 0 = none
    double distend = 1;      ///< SAH: the CSF spaces the blood fills are this many times wider (1 = anatomy as drawn)
    WaveField wobble;        ///< boundary irregularity
    double size_mm = 0;
    V3 bc{0, 0, 0};          ///< bounding sphere (quick rejection)
    double br = 1e9;
    std::string variant;
};

/// The head of one case: all random choices made in the constructor.
class HeadModel {
public:
    HeadModel(Rng& rng, const PhantomParams& p) : mimics_(p.mimics) {
        k_ = rng.uniform(0.88, 1.07);
        A_ = rng.uniform(70, 78) * k_;
        B_ = rng.uniform(89, 99) * k_;
        Cu_ = rng.uniform(84, 92) * k_;
        Cd_ = 115 * k_;
        shape_.init(rng, 3, 150, 260);
        t_skin_ = rng.uniform(1.2, 2.0);
        t_fat_ = rng.uniform(1.0, 3.0);
        t_muscle_ = rng.uniform(1.5, 3.0);
        t_temporalis_ = rng.uniform(4, 9);
        t_skull_ = rng.uniform(5.5, 8.0);
        atrophy_ = rng.uniform();
        vent_ = rng.uniform(0.8, 1.25) * (1 + 0.6 * atrophy_);
        sulci_.init(rng, 6, 11 * k_, 20 * k_);
        folia_.init(rng, 5, 5, 9);
        tex_phase_ = rng.uniform(0, 6.28);
        hu_skin_ = rng.uniform(30, 55);
        hu_fat_ = rng.uniform(-110, -70);
        hu_muscle_ = rng.uniform(40, 60);
        hu_cortical_ = rng.uniform(1350, 1900);
        hu_diploe_ = rng.uniform(450, 850);
        hu_csf_ = rng.uniform(2, 12);
        hu_gm_ = rng.uniform(35, 42);
        hu_wm_ = hu_gm_ - rng.uniform(7, 12);
        hu_deep_ = hu_gm_ - rng.uniform(0, 3);
        hu_sinus_ = rng.uniform(52, 68);
        hu_falx_ = rng.uniform(45, 70);
        sss_w_ = rng.uniform(3, 5.5) * k_;
        sss_h_ = rng.uniform(6, 9) * k_;
        pineal_ = rng.bernoulli(0.7) ? rng.uniform(150, 450) : 0;
        pineal_r_ = rng.uniform(1.8, 3.5);
        choroid_ = rng.bernoulli(0.6) ? rng.uniform(70, 220) : 0;
        bg_calc_ = rng.bernoulli(0.15) ? rng.uniform(80, 170) : 0;
        falx_calc_ = rng.bernoulli(0.3) ? rng.uniform(250, 700) : 0;
        falx_calc_y_ = rng.uniform(-0.3, 0.4) * B_;
        falx_calc_z_ = rng.uniform(20, 55) * k_;
        bh_cup_ = rng.uniform(2, 9);
        bh_streak_ = rng.uniform(20, 60);
        streak_angle_ = rng.uniform(-0.3, 0.3);
        n_streaks_ = static_cast<int>(rng.randint(2, 5));
        for (int i = 0; i < n_streaks_; ++i) {
            streak_dir_[static_cast<size_t>(i)] = rng.uniform(0, 3.14159265358979);
            streak_amp_[static_cast<size_t>(i)] = rng.uniform(-45, 35);
        }
        couch_gap_ = rng.uniform(8, 25);
    }

    double scale() const { return k_; }
    double A() const { return A_; }
    double B() const { return B_; }
    double Cu() const { return Cu_; }
    double floor_z_min() const { return -52 * k_; }
    double vertex_z() const { return Cu_; }

    /// Floor of the cranial cavity at (x, y).
    double floor_z(double x, double y) const {
        const double ya = y / B_;
        const double lat = std::min(1.0, std::fabs(x) / (0.6 * A_));
        const double f_ant = (-23 + 7 * lat * lat) * k_, f_mid = -38 * k_, f_post = -52 * k_;  // orbital roofs bulge up
        double zf = f_mid + (f_ant - f_mid) * smoothstep(0.15, 0.42, ya) + (f_post - f_mid) * smoothstep(-0.05, -0.32, ya);
        if (std::fabs(x) < 11 * k_ && ya > -0.12 && ya < 0.32) zf = std::max(zf, -27 * k_);  // sella / clivus
        return zf;
    }

    /// Base anatomy at p (patient mm). `tissue` receives the class, `d_in` the depth below the inner table.
    /// `csf_widen` > 1 widens the subarachnoid spaces (sulci, fissures, cisterns, CSF rim) by that factor; the
    /// SAH membership test uses it for clot that distends the spaces it fills.
    Sample base(V3 p, Tissue& tissue, double& d_in, double csf_widen = 1.0) const {
        Sample s;
        tissue = T_AIR;
        d_in = -1;
        const double r = norm(p);
        const double ex = p.x / A_, ey = p.y / B_, ez = p.z / (p.z > 0 ? Cu_ : Cd_);
        double rho = std::sqrt(ex * ex + ey * ey + ez * ez);
        if (rho > 1.08) return s;  // the shape wobble is at most ~ +-6 %
        if (r > 1e-9) rho *= 1 + 0.025 * shape_((100.0 / r) * p);
        if (rho > 1.0) return s;
        const double d_skin = r < 1e-9 ? A_ : r * (1.0 / rho - 1.0);
        const V3 u = r < 1e-9 ? V3{1, 0, 0} : (1.0 / r) * p;
        // scalp
        const double lat = u.x * u.x * u.x * u.x;
        const double temporalis = (p.z > -35 * k_ && p.z < 35 * k_) ? t_temporalis_ * lat * smoothstep(35 * k_, 10 * k_, std::fabs(p.z)) : 0;
        const double t_scalp = t_skin_ + t_fat_ + t_muscle_ + temporalis;
        if (d_skin < t_scalp) {
            tissue = T_SOFT;
            s.hu = static_cast<float>(d_skin < t_skin_ ? hu_skin_ : (d_skin < t_skin_ + t_fat_ ? hu_fat_ : hu_muscle_));
            return s;
        }
        // skull
        double t_sk = t_skull_ * (1 - 0.45 * lat) + (u.y < -0.5 ? 1.5 * (-u.y - 0.5) : 0.0);
        if (p.z < -20 * k_) t_sk += 3;
        const double d_bone = d_skin - t_scalp;
        if (d_bone < t_sk) {
            tissue = T_BONE;
            const double f = d_bone / t_sk;
            const double table = std::max(std::exp(-f / 0.22), std::exp(-(1 - f) / 0.22));
            s.hu = static_cast<float>(hu_diploe_ + (hu_cortical_ - hu_diploe_) * table);
            // frontal sinus: an air pocket in the frontal bone, low foreheads
            if (u.y > 0.85 && f > 0.3 && f < 0.75) {
                const double fx = p.x / (13 * k_), fz = (p.z + 2 * k_) / (11 * k_);
                if (fx * fx + fz * fz < 1) s.hu = -950.f;
            }
            return s;
        }
        d_in = d_bone - t_sk;
        const double zf = floor_z(p.x, p.y);
        if (p.z < zf) return skull_base(p, zf, tissue, s);
        // petrous ridges (dense bone wall between middle and posterior fossa)
        if (p.z < -24 * k_) {
            double t;
            const V3 a{62 * k_ * (p.x < 0 ? -1 : 1), -0.22 * B_, p.z}, b{14 * k_ * (p.x < 0 ? -1 : 1), 0.02 * B_, p.z};
            if (seg_dist(p, a, b, t) < 5.5 * k_) {
                tissue = T_BONE;
                s.hu = static_cast<float>(hu_cortical_ + 250);
                return s;
            }
        }
        s.cavity = true;
        brain(p, d_in, tissue, s, csf_widen);
        return s;
    }

    Sample skull_base(V3 p, double zf, Tissue& tissue, Sample& s) const {
        const double db = zf - p.z;
        tissue = T_BONE;
        if (db < 3.5 * k_) {
            s.hu = static_cast<float>(hu_cortical_ * 0.8);
            return s;
        }
        const double ya = p.y / B_, ax = std::fabs(p.x);
        // orbits with globes
        if (ya > 0.45 && ax > 12 * k_ && ax < 42 * k_) {
            const V3 g{(p.x < 0 ? -1 : 1) * 28 * k_, 0.72 * B_, zf - 17 * k_};
            const double dg = norm(p - g);
            tissue = T_SOFT;
            s.hu = static_cast<float>(dg < 11.5 * k_ ? (dg < 3 * k_ && p.y > g.y + 6 * k_ ? 110.0 : 12.0) : hu_fat_);
            return s;
        }
        // ethmoid cells between the orbits, sphenoid sinus behind
        if ((ya > 0.35 && ax < 10 * k_ && db < 30 * k_) || (ya > 0.0 && ya <= 0.3 && ax < 13 * k_ && db > 9 * k_)) {
            const double cells = std::sin(p.x * 1.1 + 0.3) * std::sin(p.y * 0.9 + 0.5) * std::sin(p.z * 1.0);
            s.hu = static_cast<float>(cells > -0.25 ? -900.0 : 450.0);
            return s;
        }
        // mastoid air cells
        if (ax > 0.58 * A_ && ax < 0.82 * A_ && ya > -0.3 && ya < 0.02) {
            const double cells = std::sin(p.x * 1.3 + 1) * std::sin(p.y * 1.1) * std::sin(p.z * 1.2 + 2);
            s.hu = static_cast<float>(cells > 0.1 ? -850.0 : 900.0);
            return s;
        }
        tissue = T_SOFT;
        s.hu = static_cast<float>(hu_muscle_);
        if (ya < -0.1 && db < 12 * k_) {
            tissue = T_BONE;
            s.hu = static_cast<float>(hu_cortical_ * 0.85);
        }
        return s;
    }

    /// Ventricle membership (lateral: capsules along a curved centreline; third; fourth).
    bool in_ventricle(V3 p, int& which) const {
        const double v = vent_;
        which = 0;
        const bool near_lateral = std::fabs(p.x) < 36 * k_ * v && p.y > -0.6 * B_ && p.y < 0.36 * B_ && p.z > -22 * k_ &&
                                  p.z < 27 * k_ * v;
        for (int sd = -1; sd <= 1 && near_lateral; sd += 2) {
            const double sx = sd;
            const V3 pts[6] = {{sx * 6 * k_, 0.30 * B_, 8 * k_},  {sx * 9 * k_, 0.12 * B_, 16 * k_},
                               {sx * 13 * k_, -0.10 * B_, 19 * k_}, {sx * 18 * k_, -0.30 * B_, 12 * k_},
                               {sx * 16 * k_, -0.48 * B_, 6 * k_},  {sx * 28 * k_, -0.05 * B_, -16 * k_}};
            const double rad[6] = {4.2, 3.6, 4.0, 6.0, 2.6, 2.4};
            // chain 0-1-2-3-4 (frontal horn to occipital horn), 3-5 (temporal horn)
            const int seg[5][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {3, 5}};
            for (const auto& sg : seg) {
                double t;
                const double d = seg_dist(p, pts[sg[0]], pts[sg[1]], t);
                const double rr = (rad[sg[0]] * (1 - t) + rad[sg[1]] * t) * v * k_;
                // flatten vertically a little (slit-like bodies) and keep the septum: |x| > 1
                if (d < rr && std::fabs(p.x) > 1.0 * k_ && p.x * sx > 0) {
                    which = sd;
                    return true;
                }
            }
        }
        // third ventricle: thin midline slit
        if (std::fabs(p.x) < 1.6 * v * k_ && p.y > -0.16 * B_ && p.y < 0.1 * B_ && p.z > -12 * k_ && p.z < 6 * k_) {
            which = 3;
            return true;
        }
        // fourth ventricle
        const V3 f4{0, -0.36 * B_, -36 * k_};
        const V3 q = p - f4;
        const double e = (q.x * q.x) / (25 * v * v * k_ * k_) + (q.y * q.y) / (12 * v * k_ * k_) + (q.z * q.z) / (36 * k_ * k_);
        if (e < 1) {
            which = 4;
            return true;
        }
        return false;
    }

    void brain(V3 p, double d_in, Tissue& tissue, Sample& s, double cw) const {
        const double ax = std::fabs(p.x);
        const double tex = 1.5 * std::sin(0.11 * p.x + 0.07 * p.y + 1.3) * std::cos(0.09 * p.z - 0.05 * p.x + tex_phase_);
        const double t_csf = (1.4 + 3.0 * atrophy_) * k_ * cw;
        const bool posterior_fossa = p.z < -26 * k_ && p.y < -0.05 * B_;
        // venous sinuses and falx (mimics)
        if (mimics_) {
            if (p.z > 5 * k_ && d_in < sss_h_ && ax < sss_w_ * (1 - d_in / sss_h_) && p.y < 0.55 * B_) {
                tissue = T_OTHER;
                s.hu = static_cast<float>(hu_sinus_ + tex);
                return;
            }
            const double zts = -33 * k_ - 6 * k_ * (p.y / B_ + 0.6);
            if (p.y < -0.35 * B_ && d_in < 5.5 * k_ && std::fabs(p.z - zts) < 4.5 * k_) {
                tissue = T_OTHER;
                s.hu = static_cast<float>(hu_sinus_ + tex);
                return;
            }
        }
        const bool falx_zone = !posterior_fossa && ((p.z > 14 * k_) || (p.y < -0.38 * B_ && p.z > -24 * k_));
        if (falx_zone && ax < 0.7) {
            tissue = T_OTHER;
            s.hu = static_cast<float>(mimics_ ? hu_falx_ : hu_csf_);
            if (mimics_ && falx_calc_ > 0 && std::fabs(p.y - falx_calc_y_) < 5 * k_ && std::fabs(p.z - falx_calc_z_) < 3 * k_)
                s.hu = static_cast<float>(falx_calc_);
            return;
        }
        if (falx_zone && ax < (1.6 + 2.5 * atrophy_) * k_ * cw) {
            tissue = T_SULCUS;
            s.hu = static_cast<float>(hu_csf_);
            return;
        }
        // calcifications
        if (mimics_) {
            if (pineal_ > 0 && norm(p - V3{0, -0.2 * B_, 2 * k_}) < pineal_r_ * k_) {
                tissue = T_OTHER;
                s.hu = static_cast<float>(pineal_);
                return;
            }
            if (bg_calc_ > 0 && norm(p - V3{(p.x < 0 ? -1 : 1) * 18 * k_, 0.03 * B_, 0}) < 2.2 * k_) {
                tissue = T_OTHER;
                s.hu = static_cast<float>(bg_calc_);
                return;
            }
        }
        int which = 0;
        if (in_ventricle(p, which)) {
            tissue = T_VENTRICLE;
            s.hu = static_cast<float>(hu_csf_);
            if (mimics_ && choroid_ > 0 && (which == 1 || which == -1) &&
                norm(p - V3{which * 17 * k_, -0.3 * B_, 11 * k_}) < 3.2 * k_)
                s.hu = static_cast<float>(choroid_);
            return;
        }
        // subarachnoid rim
        if (d_in < t_csf) {
            tissue = T_CSF_RIM;
            s.hu = static_cast<float>(hu_csf_);
            return;
        }
        // basal cisterns around the midbrain, brainstem
        if (p.z > -25 * k_ && p.z < -11 * k_ && !posterior_fossa) {
            const double qx = p.x / (10 * k_), qy = (p.y + 0.12 * B_) / (9 * k_);
            const double e = std::sqrt(qx * qx + qy * qy) * (1 + 0.12 * std::cos(5 * std::atan2(qy, qx)));
            if (e < 1) {
                tissue = T_WM;
                s.hu = static_cast<float>(hu_wm_ + 3 + tex);
                return;
            }
            if (e < 1 + (0.35 + 0.4 * atrophy_) * cw) {
                tissue = T_CISTERN;
                s.hu = static_cast<float>(hu_csf_);
                return;
            }
        }
        if (p.z <= -25 * k_ && std::fabs(p.x) < 12 * k_ && p.y > -0.28 * B_ && p.y < 0.0) {
            tissue = T_WM;
            s.hu = static_cast<float>(hu_wm_ + 4 + tex);  // pons / medulla
            return;
        }
        // Sylvian fissures
        if (ax > 0.40 * A_ && p.y > -0.15 * B_ && p.y < 0.3 * B_ &&
            std::fabs(p.z - (-5 * k_ + 0.12 * p.y)) < (1.2 + 2.5 * atrophy_) * k_ * cw && d_in < 38 * k_) {
            tissue = T_FISSURE;
            s.hu = static_cast<float>(hu_csf_);
            return;
        }
        if (posterior_fossa) {
            const double f = folia_(p);
            tissue = std::fabs(f) < 0.5 ? T_GM : T_WM;
            s.hu = static_cast<float>((std::fabs(f) < 0.5 ? hu_gm_ : hu_wm_ + 5) + tex);
            if (std::fabs(f) < (0.08 + 0.1 * atrophy_) * cw && d_in < 20 * k_) {
                tissue = T_SULCUS;
                s.hu = static_cast<float>(hu_csf_);
            }
            return;
        }
        // sulci and cortex
        const double depth = d_in - t_csf;
        const double sul_depth = (11 + 5 * atrophy_) * k_;
        double n = 10;
        if (depth < sul_depth + 4 * k_) {
            // a field of the direction only: sulci are radial sheets, perpendicular to the cortical surface
            const double r = norm(p);
            n = r > 1e-6 ? std::fabs(sulci_((80.0 * k_ / r) * p)) : 10;
        }
        const double w = (0.08 + 0.12 * atrophy_) * cw;
        if (depth < sul_depth && n < w * (1 - 0.5 * depth / sul_depth)) {
            tissue = T_SULCUS;
            s.hu = static_cast<float>(hu_csf_);
            return;
        }
        if (depth < 3.0 * k_ || (depth < sul_depth + 2.5 * k_ && n < 3.2 * w)) {
            tissue = T_GM;
            s.hu = static_cast<float>(hu_gm_ + tex);
            return;
        }
        // deep grey nuclei
        auto ell = [&](V3 c, V3 r) {
            const V3 q = p - c;
            return (q.x * q.x) / (r.x * r.x) + (q.y * q.y) / (r.y * r.y) + (q.z * q.z) / (r.z * r.z) < 1;
        };
        const double sx = p.x < 0 ? -1 : 1;
        if (ell({sx * 23 * k_, 0.06 * B_, 0}, {4.5 * k_, 13 * k_, 9 * k_}) ||
            ell({sx * 11 * k_, 0.24 * B_, 8 * k_}, {4 * k_, 7 * k_, 8 * k_}) ||
            ell({sx * 9 * k_, -0.12 * B_, 4 * k_}, {7 * k_, 10 * k_, 8 * k_})) {
            tissue = T_GM;
            s.hu = static_cast<float>(hu_deep_ + tex);
            return;
        }
        tissue = T_WM;
        s.hu = static_cast<float>(hu_wm_ + tex);
    }

    /// Beam-hardening artefacts at p (added to intracranial samples).
    double beam_hardening(V3 p, double d_in) const {
        if (!mimics_) return 0;
        double v = bh_cup_ * std::exp(-d_in / (4.0 * k_));
        if (p.z < -24 * k_ && p.z > -56 * k_) {
            // dark band between the petrous apices (Hounsfield bar) and streaks radiating from them
            const double yb = -0.06 * B_ + streak_angle_ * p.x;
            v -= bh_streak_ * std::exp(-0.5 * std::pow((p.y - yb) / (3.0 * k_), 2)) * smoothstep(-56 * k_, -44 * k_, p.z) *
                 smoothstep(-22 * k_, -30 * k_, p.z);
            for (int i = 0; i < n_streaks_; ++i) {
                const double a = streak_dir_[static_cast<size_t>(i)];
                const double px = p.x - (i % 2 ? 30 : -30) * k_, py = p.y + 0.1 * B_;
                const double dl = std::fabs(-std::sin(a) * px + std::cos(a) * py);
                v += streak_amp_[static_cast<size_t>(i)] * std::exp(-0.5 * dl * dl / (1.2 * 1.2)) * 0.6;
            }
        }
        return v;
    }

    bool mimics_;
    double k_, A_, B_, Cu_, Cd_;
    WaveField shape_, sulci_, folia_;
    double tex_phase_ = 0;
    double t_skin_, t_fat_, t_muscle_, t_temporalis_, t_skull_, atrophy_, vent_;
    double hu_skin_, hu_fat_, hu_muscle_, hu_cortical_, hu_diploe_, hu_csf_, hu_gm_, hu_wm_, hu_deep_, hu_sinus_, hu_falx_;
    double sss_w_, sss_h_, pineal_, pineal_r_, choroid_, bg_calc_, falx_calc_, falx_calc_y_, falx_calc_z_;
    double bh_cup_, bh_streak_, streak_angle_;
    int n_streaks_;
    std::array<double, 5> streak_dir_{}, streak_amp_{};
    double couch_gap_;
};

/// Lesion membership at p given the base anatomy there.
inline bool in_lesion(const LesionModel& L, const HeadModel& H, V3 p, Tissue tissue, double d_in, bool cavity,
                      double& hu) {
    if (!cavity) return false;
    {
        const V3 q = p - L.bc;
        if (dot(q, q) > L.br * L.br) return false;
    }
    switch (L.type) {
        case IchSubtype::EDH:
        case IchSubtype::SDH: {
            const double r = norm(p);
            if (r < 1e-6) return false;
            const V3 u = (1.0 / r) * p;
            if (L.type == IchSubtype::SDH && (p.x * L.side < 1.0)) return false;  // does not cross the falx
            const double cosang = std::clamp(dot(u, L.dir), -1.0, 1.0);
            const double s = std::acos(cosang) * 0.5 * (H.A() + H.B());  // arc length along the surface (approx.)
            const double extent = L.r.y * (1 + 0.12 * L.wobble(p));
            if (s >= extent) return false;
            const double q = s / extent;
            const double thick = L.type == IchSubtype::EDH ? L.r.x * (1 - q * q) : L.r.x * (1 - q * q * q * q) + 1.0;
            if (d_in >= thick) return false;
            hu = L.hu;
            if (L.swirl > 0 && norm(p - L.c) < L.swirl) hu = L.hu - 28;
            return true;
        }
        case IchSubtype::SAH: {
            auto subarachnoid = [](Tissue t) { return t == T_SULCUS || t == T_FISSURE || t == T_CISTERN || t == T_CSF_RIM; };
            if (!subarachnoid(tissue) && L.distend <= 1) return false;
            const double d = norm(p - L.c);
            if (d > L.r.x * (1 + 0.25 * L.wobble(p))) return false;
            if (!subarachnoid(tissue)) {  // does the distended space reach p?
                Tissue t2;
                double d2;
                H.base(p, t2, d2, L.distend);
                if (!subarachnoid(t2)) return false;
            }
            hu = L.hu;
            return true;
        }
        case IchSubtype::IVH: {
            if (tissue != T_VENTRICLE) return false;
            int which = 0;
            H.in_ventricle(p, which);
            if (L.side != 0) {
                if (which != L.side) return false;
            } else if (p.y > L.level) {
                return false;
            }
            hu = L.hu;
            return true;
        }
        case IchSubtype::IPH: {
            const V3 q = p - L.c;
            const double e = std::sqrt((q.x * q.x) / (L.r.x * L.r.x) + (q.y * q.y) / (L.r.y * L.r.y) + (q.z * q.z) / (L.r.z * L.r.z));
            const double edge = 1 + 0.22 * L.wobble(p);
            if (e < edge) {
                hu = L.hu;
                return true;
            }
            return false;
        }
    }
    return false;
}

}  // namespace detail

namespace detail {
inline Phantom generate_phantom_attempt(const PhantomParams& prm, uint64_t seed, uint64_t attempt) {
    ICHSEG_CHECK(prm.size >= 16 && prm.size <= 2048, "generate_phantom: size ", prm.size, " outside 16..2048");
    ICHSEG_CHECK(prm.slices >= 0 && prm.slices <= 2000, "generate_phantom: slices ", prm.slices, " outside 0..2000");
    ICHSEG_CHECK(prm.slice_spacing > 0.1 && prm.slice_spacing <= 20, "generate_phantom: slice spacing ",
                 prm.slice_spacing, " mm outside (0.1, 20]");
    ICHSEG_CHECK(prm.lesion_scale >= 0.25 && prm.lesion_scale <= 3, "generate_phantom: lesion scale ",
                 prm.lesion_scale, " outside 0.25..3");
    ICHSEG_CHECK(prm.fov_mm == 0 || (prm.fov_mm >= 100 && prm.fov_mm <= 500), "generate_phantom: field of view ",
                 prm.fov_mm, " mm outside 100..500 (0 = random)");
    ICHSEG_CHECK(std::fabs(prm.gantry_tilt_deg) < 40, "generate_phantom: gantry tilt ", prm.gantry_tilt_deg,
                 " deg is not plausible");
    Rng rng(seed, stream_id(0x9ea7, 1, attempt));
    HeadModel H(rng, prm);
    const double k = H.scale();
    const int64_t n = prm.size;
    const double fov = prm.fov_mm > 0 ? prm.fov_mm : rng.uniform(210, 250);
    const double ps = fov / static_cast<double>(n);
    const double dz = prm.slice_spacing;
    // slab
    const double z_lo_all = H.floor_z_min() - 6 * k, z_hi_all = H.vertex_z() + 2;
    int64_t nz = prm.slices;
    double z0;
    if (nz == 0) {
        nz = static_cast<int64_t>(std::ceil((z_hi_all - z_lo_all) / dz)) + 1;
        z0 = z_lo_all + rng.uniform(-0.5, 0.5) * dz;
    } else if (static_cast<double>(nz - 1) * dz >= z_hi_all - z_lo_all) {
        z0 = 0.5 * (z_lo_all + z_hi_all) - 0.5 * static_cast<double>(nz - 1) * dz;
    } else {
        const double centre = rng.uniform(-2, 16) * k;
        z0 = std::clamp(centre - 0.5 * static_cast<double>(nz - 1) * dz, z_lo_all,
                        z_hi_all - static_cast<double>(nz - 1) * dz);
    }
    const double z1 = z0 + static_cast<double>(nz - 1) * dz;
    // pose
    const double j = prm.pose_jitter;
    const double yaw = rng.uniform(-8, 8) * j * 3.14159265358979 / 180, pitch = rng.uniform(-8, 8) * j * 3.14159265358979 / 180,
                 roll = rng.uniform(-4, 4) * j * 3.14159265358979 / 180;
    const double off_x = rng.uniform(-8, 8) * j, off_y = rng.uniform(-8, 8) * j;
    // rotation matrix R = Rz(yaw) Rx(pitch) Ry(roll); patient = R^T (world - offset)
    const double cy = std::cos(yaw), sy = std::sin(yaw), cp = std::cos(pitch), sp = std::sin(pitch), cr = std::cos(roll),
                 sr = std::sin(roll);
    const double Rz[3][3] = {{cy, -sy, 0}, {sy, cy, 0}, {0, 0, 1}};
    const double Rx[3][3] = {{1, 0, 0}, {0, cp, -sp}, {0, sp, cp}};
    const double Ry[3][3] = {{cr, 0, sr}, {0, 1, 0}, {-sr, 0, cr}};
    double T[3][3], R[3][3];
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            T[a][b] = 0;
            for (int c = 0; c < 3; ++c) T[a][b] += Rx[a][c] * Ry[c][b];
        }
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            R[a][b] = 0;
            for (int c = 0; c < 3; ++c) R[a][b] += Rz[a][c] * T[c][b];
        }
    auto to_patient = [&](V3 w) {
        const V3 q{w.x - off_x, w.y - off_y, w.z};
        return V3{R[0][0] * q.x + R[1][0] * q.y + R[2][0] * q.z, R[0][1] * q.x + R[1][1] * q.y + R[2][1] * q.z,
                  R[0][2] * q.x + R[1][2] * q.y + R[2][2] * q.z};
    };
    // affine (RAS): column i -> patient left (-x), row j -> posterior (-y), slice k -> superior, tilt shears y
    const double tilt = prm.gantry_tilt_deg * 3.14159265358979 / 180;
    io::Affine aff;
    aff(0, 0) = -ps;
    aff(1, 1) = -ps;
    aff(2, 2) = dz;
    aff(1, 2) = dz * std::tan(tilt);
    aff(0, 3) = ps * static_cast<double>(n - 1) / 2;
    aff(1, 3) = ps * static_cast<double>(n - 1) / 2 - (z0 * std::tan(tilt));
    aff(2, 3) = z0;

    // ---- lesions ----------------------------------------------------------------------------------------------
    std::vector<LesionModel> lesions;
    bool has_ich = prm.subtypes != 0 || prm.ich == 1 || (prm.ich < 0 && rng.bernoulli(prm.ich_probability));
    if (prm.ich == 0 && prm.subtypes == 0) has_ich = false;
    std::vector<IchSubtype> types;
    if (prm.subtypes != 0) {
        for (int s = 0; s < io::kNumSubtypes; ++s)
            if (prm.subtypes & (1u << s)) types.push_back(static_cast<IchSubtype>(s));
    } else if (has_ich) {
        const int count = 1 + (rng.bernoulli(0.35) ? 1 : 0) + (rng.bernoulli(0.1) ? 1 : 0);
        const double w[5] = {0.10, 0.30, 0.12, 0.20, 0.28};  // EDH IPH IVH SAH SDH
        for (int c = 0; c < count; ++c) {
            double u = rng.uniform(), acc = 0;
            int pick = 4;
            for (int s = 0; s < 5; ++s) {
                acc += w[s];
                if (u < acc) {
                    pick = s;
                    break;
                }
            }
            types.push_back(static_cast<IchSubtype>(pick));
        }
    }
    const double zc_lo = std::max(z0, -30 * k), zc_hi = std::min(z1, 70 * k);
    auto slab_z = [&](double lo, double hi) {
        lo = std::max(lo, z0 - 0.3 * dz);
        hi = std::min(hi, z1 + 0.3 * dz);
        if (hi < lo) return 0.5 * (z0 + z1);
        return rng.uniform(lo, hi);
    };
    bool fracture = false;
    V3 frac_c{0, 0, 0}, frac_n{1, 0, 0};
    for (IchSubtype t : types) {
        LesionModel L;
        L.type = t;
        L.wobble.init(rng, 3, 15, 40);
        switch (t) {
            case IchSubtype::EDH: {
                const double az = rng.uniform(0.35, 2.6) * (rng.bernoulli(0.5) ? 1 : -1);  // from anterior
                const double zc = slab_z(-10 * k, 55 * k);
                V3 d{std::sin(az), std::cos(az), zc / (H.Cu() * 1.2)};
                L.dir = (1.0 / norm(d)) * d;
                L.r = {rng.uniform(7, 22) * k, rng.uniform(18, 38) * k, 0};
                L.c = (0.8 * H.A()) * L.dir;
                L.hu = rng.uniform(58, 88);
                L.swirl = rng.bernoulli(0.25) ? 0.3 * L.r.x : 0;
                L.variant = L.swirl > 0 ? "acute with swirl" : "acute";
                L.size_mm = L.r.y;
                if (rng.bernoulli(0.6)) {
                    fracture = true;
                    frac_c = (0.95 * H.A()) * L.dir;
                    frac_n = V3{L.dir.y, -L.dir.x, rng.uniform(-0.3, 0.3)};
                    frac_n = (1.0 / norm(frac_n)) * frac_n;
                }
                break;
            }
            case IchSubtype::SDH: {
                L.side = rng.bernoulli(0.5) ? 1 : -1;
                const double az = rng.uniform(0.5, 2.4) * L.side;
                const double zc = slab_z(-5 * k, 50 * k);
                V3 d{std::sin(az), std::cos(az), zc / (H.Cu() * 1.2)};
                L.dir = (1.0 / norm(d)) * d;
                L.r = {rng.uniform(3, 15) * k, rng.uniform(45, 85) * k, 0};
                L.c = (0.8 * H.A()) * L.dir;
                const double u = rng.uniform();
                if (u < 0.7) {
                    L.hu = rng.uniform(55, 82);
                    L.variant = "acute";
                } else if (u < 0.92) {
                    L.hu = rng.uniform(36, 50);
                    L.variant = "subacute";
                } else {
                    L.hu = rng.uniform(14, 28);
                    L.variant = "chronic";
                }
                L.size_mm = L.r.y;
                break;
            }
            case IchSubtype::SAH: {
                const double u = rng.uniform();
                const double sd = rng.bernoulli(0.5) ? 1 : -1;
                if (u < 0.4) {
                    L.c = {sd * 0.55 * H.A(), rng.uniform(-0.05, 0.25) * H.B(), slab_z(-12 * k, 2 * k)};
                    L.variant = "sylvian";
                } else if (u < 0.7) {
                    L.c = {rng.uniform(-8, 8) * k, -0.12 * H.B(), slab_z(-24 * k, -10 * k)};
                    L.variant = "basal cisterns";
                } else {
                    const double az = rng.uniform(-2.6, 2.6);
                    const double zc = slab_z(0, 60 * k);
                    L.c = {0.8 * H.A() * std::sin(az), 0.8 * H.B() * std::cos(az), zc};
                    L.variant = "convexity";
                }
                L.r = {rng.uniform(15, 32) * k, 0, 0};
                L.hu = rng.uniform(48, 72);
                L.size_mm = L.r.x;
                break;
            }
            case IchSubtype::IPH: {
                const double u = rng.uniform();
                const double sd = rng.bernoulli(0.5) ? 1 : -1;
                double rad = rng.uniform(5, 20) * k;
                if (u < 0.4) {
                    L.c = {sd * rng.uniform(18, 28) * k, rng.uniform(-0.05, 0.15) * H.B(), slab_z(-6 * k, 10 * k)};
                    L.variant = "basal ganglia";
                } else if (u < 0.6) {
                    L.c = {sd * rng.uniform(7, 13) * k, -0.12 * H.B(), slab_z(-2 * k, 10 * k)};
                    rad = std::min(rad, 12 * k);
                    L.variant = "thalamus";
                } else if (u < 0.92 || z0 > -30 * k) {
                    const double az = rng.uniform(-3.1, 3.1);
                    const double zc = slab_z(-5 * k, 55 * k);
                    const double depth = 0.55 + 0.12 * rng.uniform();
                    L.c = {depth * H.A() * std::sin(az), depth * H.B() * std::cos(az), zc};
                    L.variant = "lobar";
                } else {
                    L.c = {sd * rng.uniform(10, 25) * k, -0.55 * H.B(), slab_z(-48 * k, -32 * k)};
                    rad = std::min(rad, 14 * k);
                    L.variant = "cerebellar";
                }
                L.r = {rad * rng.uniform(0.7, 1.0), rad * rng.uniform(0.8, 1.3), rad * rng.uniform(0.7, 1.1)};
                L.hu = rng.uniform(55, 88);
                L.edema = rng.uniform(1, 6) * k;
                L.size_mm = rad;
                break;
            }
            case IchSubtype::IVH: {
                if (rng.bernoulli(0.3)) {
                    L.side = rng.bernoulli(0.5) ? 1 : -1;
                    L.variant = "cast";
                } else {
                    L.side = 0;
                    L.level = rng.uniform(-0.36, -0.18) * H.B();
                    L.variant = "dependent";
                }
                L.c = {L.side * 15 * k, -0.3 * H.B(), 10 * k};
                L.hu = rng.uniform(45, 75);
                L.size_mm = 10 * k;
                break;
            }
        }
        if (prm.lesion_scale != 1.0) {  // after all draws of this lesion: the random stream is unchanged
            const double ls = prm.lesion_scale;
            switch (t) {
                case IchSubtype::EDH: L.r.x *= ls; L.r.y *= ls; L.swirl *= ls; L.size_mm = L.r.y; break;
                case IchSubtype::SDH: L.r.x *= ls; break;  // thickness; the extent already spans a convexity
                case IchSubtype::SAH: L.r.x *= ls; L.distend = ls; L.size_mm = L.r.x; break;
                case IchSubtype::IPH: L.r = ls * L.r; L.size_mm *= ls; break;
                case IchSubtype::IVH: break;
            }
        }
        // bounding spheres for quick rejection
        switch (t) {
            case IchSubtype::EDH:
            case IchSubtype::SDH:
                L.bc = (0.9 * std::max(H.A(), H.B())) * L.dir;
                L.br = 1.2 * L.r.y + L.r.x + 0.25 * std::max(H.A(), H.B()) + 10;
                break;
            case IchSubtype::SAH: L.bc = L.c; L.br = 1.3 * L.r.x + 1; break;
            case IchSubtype::IPH: L.bc = L.c; L.br = 1.25 * std::max({L.r.x, L.r.y, L.r.z}) + L.edema + 1; break;
            case IchSubtype::IVH: L.bc = V3{0, -0.1 * H.B(), 0}; L.br = 1e9; break;
        }
        lesions.push_back(L);
    }
    (void)zc_lo;
    (void)zc_hi;
    const double noise_sd = prm.noise_sd >= 0 ? prm.noise_sd : rng.uniform(3, 7);
    const double psf_sigma_mm = rng.uniform(0.35, 0.6);

    // ---- sampling ----------------------------------------------------------------------------------------------
    const int ss_xy = std::clamp(static_cast<int>(std::ceil(ps / 0.9)), 1, 3);
    const int ss_z = std::clamp(static_cast<int>(std::ceil(dz / 1.7)), 1, 5);
    const int nsub = ss_xy * ss_xy * ss_z;
    Phantom ph;
    ph.seed = seed;
    ph.ct = io::Volume::zeros(nz, n, n);
    ph.ct.affine = aff;
    ph.ct.spacing = aff.spacing();
    ph.ich = ph.ct.like<uint8_t>();
    ph.brain = ph.ct.like<uint8_t>();
    ph.subtype_bits = ph.ct.like<uint8_t>();
    std::vector<uint8_t> frac_slice(static_cast<size_t>(nz), 0);
    const int64_t plane = n * n;
    parallel_for(nz, [&](int64_t kz) {
        float* ct = ph.ct.voxels.data() + kz * plane;
        uint8_t* im = ph.ich.voxels.data() + kz * plane;
        uint8_t* bm = ph.brain.voxels.data() + kz * plane;
        uint8_t* sb = ph.subtype_bits.voxels.data() + kz * plane;
        bool frac_here = false;
        for (int64_t jy = 0; jy < n; ++jy)
            for (int64_t ix = 0; ix < n; ++ix) {
                double acc = 0;
                int n_les = 0, n_cav = 0;
                uint8_t bits_any = 0;
                for (int sz = 0; sz < ss_z; ++sz)
                    for (int sj = 0; sj < ss_xy; ++sj)
                        for (int si = 0; si < ss_xy; ++si) {
                            const double fi = static_cast<double>(ix) + (si + 0.5) / ss_xy - 0.5;
                            const double fj = static_cast<double>(jy) + (sj + 0.5) / ss_xy - 0.5;
                            const double fk = static_cast<double>(kz) + (sz + 0.5) / ss_z - 0.5;
                            const std::array<double, 3> w = aff.apply(fi, fj, fk);
                            const V3 world{w[0], w[1], w[2]};
                            const V3 p = to_patient(world);
                            Tissue tissue;
                            double d_in;
                            Sample s = H.base(p, tissue, d_in);
                            double hu = s.hu;
                            if (s.cavity) {
                                uint8_t bits = 0;
                                for (const auto& L : lesions) {
                                    double lhu;
                                    if (in_lesion(L, H, p, tissue, d_in, true, lhu)) {
                                        bits |= static_cast<uint8_t>(1u << static_cast<int>(L.type));
                                        hu = lhu + 2.5 * L.wobble(p);
                                    } else if (L.type == IchSubtype::IPH && L.edema > 0 && !bits &&
                                               dot(p - L.bc, p - L.bc) < L.br * L.br) {
                                        const V3 q = p - L.c;
                                        const double e = std::sqrt((q.x * q.x) / (L.r.x * L.r.x) + (q.y * q.y) / (L.r.y * L.r.y) +
                                                                   (q.z * q.z) / (L.r.z * L.r.z));
                                        if (e < 1 + 0.22 * L.wobble(p) + L.edema / L.r.x && tissue != T_VENTRICLE)
                                            hu = std::min(hu, 14.0 + 6 * std::fabs(L.wobble(p)));
                                    }
                                }
                                hu += H.beam_hardening(p, d_in);
                                if (bits) {
                                    ++n_les;
                                    bits_any |= bits;
                                }
                                ++n_cav;
                            } else if (tissue == T_BONE && fracture) {
                                if (std::fabs(dot(p - frac_c, frac_n)) < 0.6 && norm(p - frac_c) < 30 * k) {
                                    hu = 45;
                                    frac_here = true;
                                }
                            } else if (tissue == T_AIR && prm.mimics) {
                                // patient couch under the head (world frame, posterior = -y)
                                const double yc = -(H.B() + H.couch_gap_ + off_y * 0) - 0.0025 * world.x * world.x;
                                if (world.y < yc && world.y > yc - 4 && std::fabs(world.x) < 140) hu = 180;
                            }
                            acc += hu;
                        }
                const int64_t idx = jy * n + ix;
                ct[idx] = static_cast<float>(acc / nsub);
                bm[idx] = 2 * n_cav >= nsub ? 1 : 0;
                if (2 * n_les >= nsub) {
                    im[idx] = 1;
                    sb[idx] = bits_any;
                }
            }
        frac_slice[static_cast<size_t>(kz)] = frac_here ? 1 : 0;
    });

    // ---- PSF blur and correlated noise -------------------------------------------------------------------------
    const double sig_px = std::max(0.35, psf_sigma_mm / ps);
    const int64_t rad = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(2.5 * sig_px)));
    std::vector<double> ker(static_cast<size_t>(2 * rad + 1));
    double ks = 0;
    for (int64_t t = -rad; t <= rad; ++t) ks += ker[static_cast<size_t>(t + rad)] = std::exp(-0.5 * t * t / (sig_px * sig_px));
    for (double& v : ker) v /= ks;
    const double nsig_px = 0.8;  // noise correlation length (pixels)
    const int64_t nrad = 2;
    std::vector<double> nker(static_cast<size_t>(2 * nrad + 1));
    double nks = 0, nk2 = 0;
    for (int64_t t = -nrad; t <= nrad; ++t) nks += nker[static_cast<size_t>(t + nrad)] = std::exp(-0.5 * t * t / (nsig_px * nsig_px));
    for (double& v : nker) {
        v /= nks;
        nk2 += v * v;
    }
    const double nscale = noise_sd / nk2;  // separable: std after 2 passes = sigma * sum(k^2)
    const uint64_t noise_stream = stream_id(seed, 0x7015e);
    parallel_for(nz, [&](int64_t kz) {
        float* ct = ph.ct.voxels.data() + kz * plane;
        std::vector<double> a(static_cast<size_t>(plane)), b(static_cast<size_t>(plane));
        auto blur = [&](std::vector<double>& img, const std::vector<double>& kr, int64_t r) {
            for (int64_t y = 0; y < n; ++y)
                for (int64_t x = 0; x < n; ++x) {
                    double s = 0;
                    for (int64_t t = -r; t <= r; ++t) s += kr[static_cast<size_t>(t + r)] * img[static_cast<size_t>(y * n + std::clamp<int64_t>(x + t, 0, n - 1))];
                    b[static_cast<size_t>(y * n + x)] = s;
                }
            for (int64_t y = 0; y < n; ++y)
                for (int64_t x = 0; x < n; ++x) {
                    double s = 0;
                    for (int64_t t = -r; t <= r; ++t) s += kr[static_cast<size_t>(t + r)] * b[static_cast<size_t>(std::clamp<int64_t>(y + t, 0, n - 1) * n + x)];
                    img[static_cast<size_t>(y * n + x)] = s;
                }
        };
        for (int64_t i = 0; i < plane; ++i) a[static_cast<size_t>(i)] = ct[i];
        blur(a, ker, rad);
        std::vector<double> nz_(static_cast<size_t>(plane));
        for (int64_t i = 0; i < plane; ++i)
            nz_[static_cast<size_t>(i)] = random_normal(seed, noise_stream, static_cast<uint64_t>(kz * plane + i));
        blur(nz_, nker, nrad);
        for (int64_t i = 0; i < plane; ++i) {
            const double v = a[static_cast<size_t>(i)] + nscale * nz_[static_cast<size_t>(i)];
            ct[i] = static_cast<float>(std::clamp(v, -1024.0, 3071.0));
        }
    });

    // ---- labels -------------------------------------------------------------------------------------------------
    ph.slice_labels.resize(static_cast<size_t>(nz));
    ph.labels = IchLabels::negative();
    ph.slice_fracture = frac_slice;
    std::array<int64_t, 5> counts{};
    for (int64_t kz = 0; kz < nz; ++kz) {
        IchLabels l = IchLabels::negative();
        const uint8_t* im = ph.ich.voxels.data() + kz * plane;
        const uint8_t* sb = ph.subtype_bits.voxels.data() + kz * plane;
        for (int64_t i = 0; i < plane; ++i) {
            if (!im[i]) continue;
            l.any = 1;
            for (int s = 0; s < io::kNumSubtypes; ++s)
                if (sb[i] & (1u << s)) {
                    l.subtype[static_cast<size_t>(s)] = 1;
                    ++counts[static_cast<size_t>(s)];
                }
        }
        ph.slice_labels[static_cast<size_t>(kz)] = l;
        ph.labels.merge(l);
        if (frac_slice[static_cast<size_t>(kz)]) ph.fracture = true;
    }
    for (const auto& L : lesions) {
        PhantomLesion pl;
        pl.type = L.type;
        pl.center = {L.c.x, L.c.y, L.c.z};
        pl.size_mm = L.size_mm;
        pl.hu = L.hu;
        pl.variant = L.variant;
        pl.voxels = counts[static_cast<size_t>(L.type)];
        ph.lesions.push_back(pl);
    }
    ph.ct.source.format = "phantom";
    ph.ct.source.path = "phantom:" + std::to_string(seed);
    ph.description = std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(nz) + " at " +
                     std::to_string(ps).substr(0, 5) + "x" + std::to_string(ps).substr(0, 5) + "x" +
                     std::to_string(dz).substr(0, 5) + " mm, " + ph.labels.str();
    return ph;
}
}  // namespace detail

/// Draw one phantom. Deterministic in (params, seed). When hemorrhage is requested (ich = 1 or `subtypes`) and a
/// draw leaves a requested subtype outside the slab (no voxel in the mask), the lesions are redrawn (up to 8
/// times); labels always come from the final masks.
inline Phantom generate_phantom(const PhantomParams& prm, uint64_t seed) {
    Phantom ph;
    for (uint64_t attempt = 0; attempt < 8; ++attempt) {
        ph = detail::generate_phantom_attempt(prm, seed, attempt);
        bool ok = true;
        if (prm.subtypes != 0) {
            for (int s = 0; s < io::kNumSubtypes; ++s)
                if ((prm.subtypes & (1u << s)) && ph.labels.subtype[static_cast<size_t>(s)] != 1) ok = false;
        } else if (prm.ich == 1 && ph.labels.any != 1) {
            ok = false;
        }
        if (ok) break;
    }
    return ph;
}

}  // namespace ichseg::data
