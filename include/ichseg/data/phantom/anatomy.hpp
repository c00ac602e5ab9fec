/// @file anatomy.hpp (data/phantom)
/// @brief The head model of one case (`HeadModel`): an analytic head in patient coordinates (mm, RAS: x right,
/// y anterior, z superior; z = 0 near the third ventricle) whose size, shape, tissue thicknesses and HU are drawn
/// once per case. `base(p)` classifies a point: scalp (skin, fat, temporalis muscle), skull (outer table, diploe,
/// inner table, frontal sinus), skull base (fossae floors, orbits with globes, ethmoid / sphenoid / mastoid air
/// cells, petrous ridges) and, inside the cavity, the brain: CSF rim, sulci (the zero set of a smooth random
/// field of the direction, 8-12 mm apart) lined by a folded cortex, white matter, deep grey nuclei, Sylvian
/// fissures, basal cisterns, brainstem, cerebellum with folia, lateral / third / fourth ventricles, atrophy
/// widening the CSF spaces. The mimics (mimics.hpp) are asked where they occur.
#pragma once

#include <algorithm>
#include <cmath>

#include "ichseg/data/phantom/common.hpp"
#include "ichseg/data/phantom/mimics.hpp"
#include "ichseg/data/phantom/params.hpp"

namespace ichseg::data::phantom {

/// The head of one case: all random choices made in the constructor.
class HeadModel {
public:
    HeadModel(Rng& rng, const PhantomParams& p) {
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
        sulci_.init(rng, 6, 20 * k_, 32 * k_);  // zero crossings 8-12 mm apart over the convexity: one sulcus per gyrus
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
        // added with issue 15: the inner table is not a smooth ellipsoid (digital impressions, ridges)
        table_.init(rng, 3, 25, 70);
        t_rough_ = rng.uniform(0.4, 1.5);
        mimics_.draw(rng, p.mimics, k_, A_, B_);  // after every anatomy draw of the first version
        // added after the first standard-profile runs (issue 15): a folded cortex of clinical thickness on both
        // banks of every sulcus, sulci of a width in mm, and a subarachnoid rim that can be nearly invisible. Drawn
        // from a stream of their own, so that the draws after the head (lesions, scanner) keep their values.
        Rng cortex_rng = rng.fork(0xc0f7e8);
        t_cortex_ = cortex_rng.uniform(2.2, 3.4);
        sulcus_half_ = cortex_rng.uniform(0.3, 0.8);
        rim0_ = cortex_rng.uniform(0.3, 1.6);
    }

    const Mimics& mimics() const { return mimics_; }
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

    /// Height of the tentorium cerebelli at (x, y), the roof of the posterior fossa: a tent whose ridge runs along
    /// the midline (highest towards the straight sinus) and slopes down to the transverse sinuses.
    double tentorium_z(double x, double y) const {
        const double lat = std::min(1.0, std::fabs(x) / (0.62 * A_));
        return -26 * k_ + 7 * k_ * (1 - lat) * smoothstep(-0.05 * B_, -0.5 * B_, y);
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
        if (r > 1e-9) t_sk += t_rough_ * 0.5 * (1 + table_((100.0 / r) * p));
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
        const double t_csf = (rim0_ + 3.0 * atrophy_) * k_ * cw;
        const double dz_tent = p.z < -12 * k_ ? p.z - tentorium_z(p.x, p.y) : 1e9;
        const bool posterior_fossa = dz_tent < 0 && p.y < -0.05 * B_;
        if (mimics_.venous_sinus(p, d_in, ax, tex, tissue, s)) return;
        if (mimics_.tentorium(p, dz_tent, tex, tissue, s)) return;
        const bool falx_zone = !posterior_fossa && ((p.z > 14 * k_) || (p.y < -0.38 * B_ && p.z > -24 * k_));
        if (falx_zone && ax < 0.7) {
            tissue = T_OTHER;
            s.hu = mimics_.falx_hu(p, hu_csf_);
            return;
        }
        if (falx_zone && ax < (1.6 + 2.5 * atrophy_) * k_ * cw) {
            tissue = T_SULCUS;
            s.hu = static_cast<float>(hu_csf_);
            return;
        }
        if (mimics_.calcification(p, tissue, s)) return;
        int which = 0;
        if (in_ventricle(p, which)) {
            tissue = T_VENTRICLE;
            s.hu = static_cast<float>(hu_csf_);
            mimics_.choroid_plexus(p, which, s);
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
        // sulci and cortex: the sulci are radial sheets (zero set of a field of the direction only); `dist` is the
        // distance in mm to a sulcus's mid-plane (`sulcus_distance`). CSF within the sulcus's
        // half-width, grey matter of the cortex's thickness on both banks and around the fundus, the gyri's white
        // matter cores between them.
        const double depth = d_in - t_csf;
        const double sul_depth = (11 + 5 * atrophy_) * k_;
        const double half = (sulcus_half_ + 1.5 * atrophy_) * k_ * cw * (1 - 0.5 * std::clamp(depth / sul_depth, 0.0, 1.0));
        const double t_cx = t_cortex_ * k_;
        double dist = 1e9;
        if (depth < sul_depth + t_cx) {
            const double r = norm(p);
            if (r > 1e-6) dist = sulcus_distance(p, r);
        }
        if (depth < sul_depth && dist < half) {
            tissue = T_SULCUS;
            s.hu = static_cast<float>(hu_csf_);
            return;
        }
        if (depth < t_cx || (depth < sul_depth + t_cx && dist < half + t_cx)) {
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

private:
    /// Distance (mm) from p (|p| = r) to the nearest sulcal mid-plane, the zero set of `sulci_` evaluated at the
    /// direction of p on a sphere of radius 80 k. Locally the field is a sinusoid n = a sin(g x) across the sulcus
    /// with the field's RMS tangential wavenumber g, so x = atan2(g |n|, |grad n|) / g (the first-order estimate
    /// |n| / |grad n| alone overstates the distance by tan(g x) / (g x)).
    double sulcus_distance(V3 p, double r) const {
        const double sc = 80.0 * k_ / r;
        const V3 u = (1.0 / r) * p;
        V3 g;
        const double n = sulci_.value_grad(sc * p, g);
        const V3 gt = sc * (g - dot(g, u) * u);  // d n / d p, tangential (the field depends on the direction only)
        const double wavenumber = sc * sulci_.rms_wavenumber() * 0.816496580927726;  // sqrt(2/3): tangential part
        return std::atan2(wavenumber * std::fabs(n), norm(gt)) / wavenumber;
    }

    Mimics mimics_;
    double k_, A_, B_, Cu_, Cd_;
    WaveField shape_, sulci_, folia_, table_;
    double t_rough_ = 0;
    double t_cortex_ = 2.8, sulcus_half_ = 0.5, rim0_ = 1.0;
    double tex_phase_ = 0;
    double t_skin_, t_fat_, t_muscle_, t_temporalis_, t_skull_, atrophy_, vent_;
    double hu_skin_, hu_fat_, hu_muscle_, hu_cortical_, hu_diploe_, hu_csf_, hu_gm_, hu_wm_, hu_deep_;
};

}  // namespace ichseg::data::phantom
