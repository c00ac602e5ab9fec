/// @file head.hpp (data/phantom_indep)
/// @brief Family B's head (`IndepHead`): anatomy in head coordinates (mm; x right, y anterior, z superior).
/// How it is built, deliberately unlike data/phantom/anatomy.hpp:
///  * outline: cross-sections are superellipses (exponent 2.1-2.6) with separate frontal / occipital half-lengths,
///    a dome profile over the height and a Fourier modulation of the radius (modes 2-5); the outer surface is
///    tabulated once per case as a radius over a 2-degree spherical grid around the cranial centre, with the
///    cosine between radial and normal direction, so that every depth (scalp, skull, inner table) is a normal
///    depth from one table lookup;
///  * skull: outer table / diploe / inner table as fractions of a thickness that varies with direction
///    (thin temporal squama, thick occiput); frontal sinus; cranial floor as three logistic-blended fossa
///    levels with a raised sella / clivus; skull base with sphenoid sinus, orbits (fat, globe) and mastoid air;
///  * brain: subarachnoid rim, a cortical ribbon whose sulci are the cell borders of 3-D cellular (Worley) noise
///    evaluated on a sphere, a Sylvian fissure plane, ventricles and deep grey nuclei as metaballs (sums of
///    anisotropic Gaussians), a midline falx with a free lower edge, a tent-shaped tentorium with its incisura,
///    brainstem with basal / prepontine cisterns, cerebellum whose folia are concentric shells;
///  * dense mimics: superior sagittal, straight and transverse sinuses, dura of falx and tentorium,
///    calcifications (pineal, choroid plexus, basal ganglia, falx plaque).
/// A point's content is a material: water-equivalent density w and cortical-bone fraction b (the scanner,
/// scanner.hpp, turns these into energy-dependent attenuation), plus a class used by the hemorrhages.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/data/phantom_indep/case.hpp"
#include "ichseg/data/random.hpp"

namespace ichseg::data::indep {

/// What a point of the head is (the classes the hemorrhages test against).
enum class Cls : uint8_t {
    air, scalp, bone, rim, sulcus, fissure, cistern, interhemispheric, ventricle, grey, white, deep, dura, sinus,
    calcification, stem
};

inline bool is_csf_space(Cls c) {
    return c == Cls::rim || c == Cls::sulcus || c == Cls::fissure || c == Cls::cistern || c == Cls::interhemispheric;
}

/// A material sample: water-equivalent density (soft tissue: 1 + HU / 1000) and cortical-bone volume fraction.
struct Material {
    double w = 0, b = 0;
    Cls cls = Cls::air;
    bool cavity = false;
    double d_in = -1;   ///< normal depth below the inner table (cavity only)
    Vec dir{0, 0, 1};   ///< unit direction from the cranial centre
    int ventricle = 0;  ///< in a ventricle: -1 / +1 lateral (left / right), 3 third, 4 fourth
};

inline Material soft(double hu, Cls c) {
    Material m;
    m.w = 1 + hu / 1000;
    m.cls = c;
    return m;
}

class IndepHead {
public:
    explicit IndepHead(Rng& rng) {
        s_ = rng.uniform(0.9, 1.1);
        W_ = rng.uniform(67, 76) * s_;
        Lf_ = rng.uniform(85, 95) * s_;
        Lb_ = Lf_ * rng.uniform(1.0, 1.09);
        Ht_ = rng.uniform(80, 90) * s_;
        e_ = rng.uniform(2.1, 2.6);
        for (int m = 0; m < 4; ++m) {
            fa_[m] = rng.uniform(-0.018, 0.018);
            fp_[m] = rng.uniform(0, 6.283185307179586);
        }
        centre_ = Vec{0, -4 * s_, 6 * s_};
        t_skin_ = rng.uniform(1.5, 2.5);
        t_fat_ = rng.uniform(1.0, 4.0);
        t_galea_ = rng.uniform(1.0, 2.0);
        t_temporalis_ = rng.uniform(3, 8);
        t_skull_ = rng.uniform(5.0, 8.0);
        f_outer_ = rng.uniform(0.22, 0.30);
        f_inner_ = rng.uniform(0.18, 0.25);
        diploe_b_ = rng.uniform(0.25, 0.45);
        frontal_sinus_ = rng.bernoulli(0.8);
        atrophy_ = std::pow(rng.uniform(), 1.5);
        vent_ = rng.uniform(0.85, 1.2) * (1 + 0.5 * atrophy_);
        hu_gm_ = rng.uniform(36, 44);
        hu_wm_ = hu_gm_ - rng.uniform(8, 14);
        hu_csf_ = rng.uniform(3, 10);
        hu_fat_ = rng.uniform(-110, -80);
        hu_muscle_ = rng.uniform(42, 55);
        hu_dura_ = rng.uniform(40, 55);
        hu_sinus_ = rng.uniform(42, 72);
        t_falx_ = rng.uniform(1.0, 2.0);
        x_mid_amp_ = rng.uniform(-2, 2);
        t_rim_ = (0.8 + 2.5 * atrophy_);
        t_gm_ = rng.uniform(2.5, 3.5);
        sulcus_w_ = 1.2 + 2.0 * atrophy_;
        sulcus_cell_ = rng.uniform(15, 20) * s_;
        key_ = rng.u32() | (static_cast<uint64_t>(rng.u32()) << 32);
        pineal_b_ = rng.bernoulli(0.65) ? rng.uniform(0.06, 0.3) : 0;
        choroid_b_ = rng.bernoulli(0.55) ? rng.uniform(0.04, 0.25) : 0;
        bg_calc_b_ = rng.bernoulli(0.1) ? rng.uniform(0.04, 0.15) : 0;
        falx_plaque_b_ = rng.bernoulli(0.25) ? rng.uniform(0.1, 0.35) : 0;
        plaque_y_ = rng.uniform(-30, 40) * s_;
        plaque_z_ = rng.uniform(35, 65) * s_;
        folia_ = rng.uniform(4, 6);
        for (int i = 0; i < 3; ++i) {
            tex_k_[i] = rng.uniform(0.05, 0.14);
            tex_ph_[i] = rng.uniform(0, 6.283185307179586);
        }
        build_table();
        build_floor();
    }

    double scale() const { return s_; }
    Vec centre() const { return centre_; }
    double half_width() const { return W_; }
    double front() const { return Lf_; }
    double back() const { return Lb_; }
    double top() const { return Ht_; }
    double bottom() const { return -62 * s_; }   ///< lowest height shown (below the posterior fossa floor)
    double hu_gm() const { return hu_gm_; }
    double hu_wm() const { return hu_wm_; }
    uint64_t key() const { return key_; }

    /// Midline (falx) x at (y, z): a slight, case-specific curve.
    double x_mid(double y) const { return x_mid_amp_ * std::sin(3.14159265358979 * y / (Lf_ + Lb_)); }

    /// Height of the cranial floor under (x, y): anterior, middle and posterior fossae blended by logistic
    /// steps, the sella / clivus raised in the middle.
    double floor_z(double x, double y) const {
        const double s = s_;
        auto sig = [](double t) { return 1 / (1 + std::exp(-t)); };
        const double wa = sig((y - 24 * s) / 3.5), wp = sig((-14 * s - y) / 4.0);
        double z = wa * (-21 * s) + wp * (-55 * s) + (1 - wa - wp) * (-37 * s);
        const double central = sig((12 * s - std::fabs(x)) / 2.0) * sig((y + 22 * s) / 3.0) * sig((16 * s - y) / 3.0);
        z = z + central * std::max(0.0, -29 * s - z);
        return z;
    }

    /// Height of the tentorium at (x, y) (y < -8 s): a tent with its apex near the straight sinus.
    double tentorium_z(double x, double y) const {
        const double s = s_;
        const double ex = x / (0.72 * W_), ey = (y + 30 * s) / (0.6 * Lb_);
        return -14 * s - 24 * s * std::min(1.0, std::sqrt(ex * ex + ey * ey));
    }

    /// The content of the head at p (head coordinates, mm).
    Material at(Vec p) const {
        Material m;
        const Vec q = p - centre_;
        const double r2 = dotp(q, q);
        if (r2 >= rmax_ * rmax_) return m;  // air
        const double r = std::sqrt(r2);
        if (r < 1e-9) {
            Material c = interior(p, 60, Vec{0, 0, 1});
            c.cavity = true;
            c.d_in = 60;
            return c;
        }
        const Vec u = (1.0 / r) * q;
        double R, cosn;
        lookup(u, R, cosn);
        if (r >= R) return m;  // air
        const double d = (R - r) * cosn;  // normal depth below the skin
        m.dir = u;
        // scalp
        const double lat = std::fabs(u.x);
        const double temporal = (p.z > -30 * s_ && p.z < 35 * s_) ? std::pow(lat, 3) * t_temporalis_ : 0;
        const double t_scalp = t_skin_ + t_fat_ + t_galea_ + temporal;
        if (d < t_scalp) {
            if (d < t_skin_) return soft(45, Cls::scalp);
            if (d < t_skin_ + t_fat_) return soft(hu_fat_, Cls::scalp);
            return soft(hu_muscle_, Cls::scalp);
        }
        // skull
        const double occ = std::max(0.0, -u.y - 0.4);
        const double squama = (p.z > -25 * s_ && p.z < 30 * s_) ? std::pow(lat, 4) : 0;
        const double T = t_skull_ * (1 - 0.45 * squama) + 4 * occ + (p.z < -15 * s_ ? 2.5 : 0);
        const double db = d - t_scalp;
        if (db < T) {
            const double f = db / T;
            Material b;
            b.cls = Cls::bone;
            if (f < f_outer_ || f > 1 - f_inner_) {
                b.b = 1.0;
            } else {
                b.b = diploe_b_;
                b.w = 1 - diploe_b_;
                if (frontal_sinus_ && u.y > 0.86 && p.z > -12 * s_ && p.z < 22 * s_ && std::fabs(p.x) < 16 * s_) {
                    b.b = 0;
                    b.w = 0.001;  // air
                }
            }
            return b;
        }
        const double d_in = db - T;
        const double zf = floor_fast(p.x, p.y);
        if (p.z < zf) return skull_base(p, zf);
        Material c = interior(p, d_in, u);
        c.cavity = true;
        c.d_in = d_in;
        c.dir = u;
        return c;
    }

private:
    // ---- outer surface table ----
    static constexpr int kNT = 91, kNP = 180;  // polar (0..180 deg), azimuth (-180..180 deg), 2-degree steps

    bool inside_outline(Vec p) const {
        double h;
        if (p.z >= 0) {
            const double t = p.z / Ht_;
            if (t >= 1) return false;
            h = std::sqrt(1 - t * t);
        } else if (p.z >= -60 * s_) {
            const double t = p.z / (-60 * s_);
            h = 1 - 0.12 * t * t;
        } else {
            h = 0.88 - (-60 * s_ - p.z) / (30 * s_);
            if (h <= 0.05) return false;
        }
        const double ph = std::atan2(p.x, p.y);
        double mod = 1;
        for (int m = 0; m < 4; ++m) mod += fa_[m] * std::cos((m + 2) * ph + fp_[m]);
        const double L = p.y >= 0 ? Lf_ : Lb_;
        const double v = std::pow(std::fabs(p.x) / (W_ * h * mod), e_) + std::pow(std::fabs(p.y) / (L * h * mod), e_);
        return v < 1;
    }

    void build_table() {
        R_.assign(static_cast<size_t>(kNT * kNP), 0);
        cos_.assign(R_.size(), 1);
        for (int it = 0; it < kNT; ++it) {
            const double th = it * 3.14159265358979 / (kNT - 1);
            for (int ip = 0; ip < kNP; ++ip) {
                const double ph = -3.14159265358979 + ip * 6.283185307179586 / kNP;
                const Vec u{std::sin(th) * std::sin(ph), std::sin(th) * std::cos(ph), std::cos(th)};
                double lo = 0, hi = 250;
                for (int k = 0; k < 40; ++k) {
                    const double mid = 0.5 * (lo + hi);
                    (inside_outline(centre_ + mid * u) ? lo : hi) = mid;
                }
                R_[static_cast<size_t>(it * kNP + ip)] = lo;
                rmax_ = std::max(rmax_, lo + 1);
            }
        }
        const double dth = 3.14159265358979 / (kNT - 1), dph = 6.283185307179586 / kNP;
        for (int it = 0; it < kNT; ++it)
            for (int ip = 0; ip < kNP; ++ip) {
                const double R = R_[static_cast<size_t>(it * kNP + ip)];
                const int a = std::max(0, it - 1), b = std::min(kNT - 1, it + 1);
                const double dRth = (R_[static_cast<size_t>(b * kNP + ip)] - R_[static_cast<size_t>(a * kNP + ip)]) /
                                    ((b - a) * dth);
                const double st = std::max(0.05, std::sin(it * dth));
                const double dRph = (R_[static_cast<size_t>(it * kNP + (ip + 1) % kNP)] -
                                     R_[static_cast<size_t>(it * kNP + (ip + kNP - 1) % kNP)]) / (2 * dph);
                const double g = std::sqrt(R * R + dRth * dRth + (dRph / st) * (dRph / st));
                cos_[static_cast<size_t>(it * kNP + ip)] = g > 0 ? std::max(0.2, R / g) : 1;
            }
    }

    static constexpr double kFloorHalf = 130, kFloorStep = 2;
    static constexpr int kFloorN = 131;

    void build_floor() {
        floor_.resize(static_cast<size_t>(kFloorN * kFloorN));
        for (int j = 0; j < kFloorN; ++j)
            for (int i = 0; i < kFloorN; ++i)
                floor_[static_cast<size_t>(j * kFloorN + i)] = floor_z(-kFloorHalf + i * kFloorStep, -kFloorHalf + j * kFloorStep);
    }

    /// floor_z from the 2 mm table (bilinear).
    double floor_fast(double x, double y) const {
        const double fx = std::clamp((x + kFloorHalf) / kFloorStep, 0.0, kFloorN - 1.001);
        const double fy = std::clamp((y + kFloorHalf) / kFloorStep, 0.0, kFloorN - 1.001);
        const int i = static_cast<int>(fx), j = static_cast<int>(fy);
        const double a = fx - i, b = fy - j;
        auto F = [&](int ii, int jj) { return floor_[static_cast<size_t>(jj * kFloorN + ii)]; };
        return (1 - b) * ((1 - a) * F(i, j) + a * F(i + 1, j)) + b * ((1 - a) * F(i, j + 1) + a * F(i + 1, j + 1));
    }

    void lookup(Vec u, double& R, double& cosn) const {
        const double th = std::acos(std::clamp(u.z, -1.0, 1.0)) * (kNT - 1) / 3.14159265358979;
        const double ph = (std::atan2(u.x, u.y) + 3.14159265358979) * kNP / 6.283185307179586;
        const int i0 = std::min(kNT - 2, static_cast<int>(th));
        const double ft = th - i0;
        const int j0 = static_cast<int>(std::floor(ph)) % kNP, j1 = (j0 + 1) % kNP;
        const double fp = ph - std::floor(ph);
        auto at = [&](const std::vector<double>& t, int i, int j) { return t[static_cast<size_t>(i * kNP + j)]; };
        auto bil = [&](const std::vector<double>& t) {
            return (1 - ft) * ((1 - fp) * at(t, i0, j0) + fp * at(t, i0, j1)) +
                   ft * ((1 - fp) * at(t, i0 + 1, j0) + fp * at(t, i0 + 1, j1));
        };
        R = bil(R_);
        cosn = bil(cos_);
    }

    // ---- below the cranial floor ----
    Material skull_base(Vec p, double zf) const {
        const double s = s_, depth = zf - p.z;
        Material b;
        b.cls = Cls::bone;
        if (depth < 3.0 * s) {
            b.b = 0.9;
            return b;
        }
        const double ax = std::fabs(p.x);
        // orbits: fat cone with the globe
        if (p.y > 0.5 * Lf_ && ax > 13 * s && ax < 44 * s && p.z > zf - 38 * s) {
            const Vec g{(p.x < 0 ? -1 : 1) * 30 * s, 0.74 * Lf_, zf - 19 * s};
            const double dg = len(p - g);
            if (dg < 12 * s) return soft(dg < 2.5 * s && p.y > g.y + 7 * s ? 120 : 12, Cls::scalp);
            return soft(hu_fat_, Cls::scalp);
        }
        // sphenoid sinus
        {
            const double ex = p.x / (14 * s), ey = (p.y - 8 * s) / (12 * s), ez = (p.z - (zf - 16 * s)) / (10 * s);
            if (ex * ex + ey * ey + ez * ez < 1) {
                b.b = 0;
                b.w = 0.001;
                return b;
            }
        }
        // mastoid air cells: a hashed cell pattern
        if (ax > 0.55 * W_ && ax < 0.85 * W_ && p.y > -0.35 * Lb_ && p.y < 0.05 * Lf_) {
            const double n = value_noise(key_ ^ 0x3a57, p, 3.0);
            if (n > 0.0) {
                b.b = 0;
                b.w = 0.001;
                return b;
            }
            b.b = 0.7;
            return b;
        }
        // the rest: a mixture of bone, muscle and soft tissue
        const double n = value_noise(key_ ^ 0xba5e, p, 6.0);
        if (n > 0.25) {
            b.b = 0.5;
            b.w = 0.5;
            return b;
        }
        return soft(hu_muscle_, Cls::scalp);
    }

    // ---- inside the cavity ----
    static double metaball(const Vec& p, const Vec& c, const Vec& sig) {
        const double a = (p.x - c.x) / sig.x, b = (p.y - c.y) / sig.y, d = (p.z - c.z) / sig.z;
        const double q = a * a + b * b + d * d;
        return q < 12 ? std::exp(-q) : 0;
    }

    /// A metaball of semi-axes `semi` (the blob alone reaches the 0.5 level at exactly these semi-axes).
    static double blob(const Vec& p, const Vec& c, const Vec& semi) {
        constexpr double k = 0.83255461;  // sqrt(ln 2)
        return metaball(p, c, {semi.x / k, semi.y / k, semi.z / k});
    }

    /// Ventricle at p: 0 none, -1 / +1 lateral, 3 third, 4 fourth. Semi-axes of the parts (mm, before the head
    /// scale; x by the case's ventricle factor): frontal horn 4.5 x 10 x 8, body 5 x 15 x 6.5, trigone 7 x 8 x 8,
    /// occipital horn 3.5 x 9 x 4, temporal horn 3 x 11 x 3.5 (about 7 mL per side at factor 1).
    int ventricle(Vec p) const {
        const double s = s_, v = vent_, sv = std::sqrt(vent_);
        if (std::fabs(p.x) > 45 * s || p.y < -62 * s || p.y > 45 * s || p.z < -50 * s || p.z > 35 * s) return 0;
        const double sx = p.x < 0 ? -1 : 1;
        double f = 0;
        f += blob(p, {sx * 9 * s, 25 * s, 9 * s}, {4.5 * s * v, 10 * s * sv, 8 * s * sv});
        f += blob(p, {sx * 12 * s, 5 * s, 15 * s}, {5 * s * v, 15 * s * sv, 6.5 * s * sv});
        f += blob(p, {sx * 18 * s, -22 * s, 9 * s}, {7 * s * v, 8 * s * sv, 8 * s * sv});
        f += blob(p, {sx * 16 * s, -40 * s, 5 * s}, {3.5 * s * v, 9 * s * sv, 4 * s * sv});
        f += blob(p, {sx * 28 * s, -5 * s, -16 * s}, {3 * s * v, 11 * s * sv, 3.5 * s * sv});
        if (f > 0.5 && std::fabs(p.x - x_mid(p.y)) > 1.2) return static_cast<int>(sx);
        if (blob(p, {x_mid(p.y), -1 * s, -2 * s}, {1.4 * v, 10 * s, 8 * s}) > 0.5) return 3;
        if (blob(p, {0, -40 * s, -38 * s}, {6 * s * sv, 3.5 * s, 5.5 * s}) > 0.5) return 4;
        return 0;
    }

    Material csf(Cls c) const { return soft(hu_csf_, c); }

    Material interior(Vec p, double d_in, Vec u) const {
        const double s = s_;
        const double ax_mid = std::fabs(p.x - x_mid(p.y));
        const double tex = 1.6 * std::cos(tex_k_[0] * p.x + tex_ph_[0]) * std::cos(tex_k_[1] * p.y + tex_ph_[1]) *
                           std::cos(tex_k_[2] * p.z + tex_ph_[2]);
        // dural venous sinuses
        if (d_in < 7.5 * s && u.z > 0.25 && p.y < 0.8 * Lf_ && ax_mid < 4.5 * s * (1 - d_in / (7.5 * s)))
            return soft(hu_sinus_ + tex, Cls::sinus);
        const bool posterior = p.y < -8 * s;
        const double zt = posterior ? tentorium_z(p.x, p.y) : -1e9;
        if (posterior && p.y < -22 * s && d_in < 6.5 * s && std::fabs(p.z - zt) < 4.2 * s)
            return soft(hu_sinus_ + tex, Cls::sinus);  // transverse sinus
        {
            const Vec a{x_mid(p.y), -30 * s, -12 * s}, b{0, -0.86 * Lb_, -37 * s};
            const Vec ab = b - a;
            const double t = std::clamp(dotp(p - a, ab) / dotp(ab, ab), 0.0, 1.0);
            if (len(p - (a + t * ab)) < 2.6 * s) return soft(hu_sinus_ + tex, Cls::sinus);  // straight sinus
        }
        // tentorium and posterior fossa
        const bool incisura = std::fabs(p.x) < 13 * s && p.y > -33 * s;
        if (posterior && !incisura && std::fabs(p.z - zt) < 0.8) return soft(hu_dura_, Cls::dura);
        const bool fossa = (posterior && p.z < zt && !(incisura && p.z > -30 * s)) || (p.z < -30 * s && p.y < 12 * s);
        if (fossa) return posterior_fossa(p, d_in, tex);
        // falx and the interhemispheric fissure above its free edge
        double z_edge = 24 * s;
        if (p.y < -24 * s) z_edge = std::max(24 * s - 1.3 * (-24 * s - p.y), zt);
        if (p.y > 45 * s) z_edge = 24 * s - 1.1 * (p.y - 45 * s);
        if (p.z > z_edge) {
            if (ax_mid < 0.5 * t_falx_) {
                if (falx_plaque_b_ > 0 && std::fabs(p.y - plaque_y_) < 6 * s && std::fabs(p.z - plaque_z_) < 3 * s) {
                    Material m = soft(hu_dura_, Cls::calcification);
                    m.b = falx_plaque_b_;
                    return m;
                }
                return soft(hu_dura_, Cls::dura);
            }
            if (ax_mid < 0.5 * t_falx_ + 1.0 + 2.0 * atrophy_) return csf(Cls::interhemispheric);
        }
        // calcifications
        if (pineal_b_ > 0 && len(p - Vec{0, -25 * s, 3 * s}) < 3 * s) {
            Material m = soft(30, Cls::calcification);
            m.b = pineal_b_;
            return m;
        }
        const int vent = ventricle(p);
        if (vent != 0) {
            Material m = csf(Cls::ventricle);
            m.ventricle = vent;
            if ((vent == 1 || vent == -1) && choroid_b_ > 0 && len(p - Vec{vent * 18 * s, -25 * s, 9 * s}) < 3.5 * s) {
                m.cls = Cls::calcification;
                m.b = choroid_b_;
            }
            return m;
        }
        // subarachnoid rim under the inner table
        if (d_in < t_rim_) return csf(Cls::rim);
        // basal cisterns around the midbrain, midbrain
        if (p.z > -30 * s && p.z < -8 * s && p.y < 8 * s && p.y > -36 * s) {
            const double ex = p.x / (11 * s), ey = (p.y + 14 * s) / (9 * s);
            const double e = std::sqrt(ex * ex + ey * ey);
            if (e < 1) return soft(hu_wm_ + 4 + tex, Cls::stem);
            if (e < 1.3 + 0.4 * atrophy_) return csf(Cls::cistern);
        }
        // Sylvian fissure: a plane rising slightly towards the front, open laterally
        if (std::fabs(p.x) > 0.42 * W_ && p.y > -18 * s && p.y < 32 * s && d_in < 32 * s &&
            std::fabs(p.z - (-7 * s + 0.15 * p.y)) < 0.6 + 1.8 * atrophy_ + 0.8 * (1 - d_in / (32 * s)))
            return csf(Cls::fissure);
        // cortex with sulci: cell borders of cellular noise on a sphere of radius 70 mm (radial sheets)
        const double depth = d_in - t_rim_;
        if (depth < 24 * s) {
            const Vec onsph = 70.0 * u;
            double f1, f2;
            cellular(key_, onsph, sulcus_cell_, f1, f2);
            const double border = f2 - f1;
            const double D = (11 + 6 * (0.5 + 0.5 * value_noise(key_ ^ 0xd3, onsph, 25))) * s;
            if (depth < D && border < sulcus_w_ * (1 - 0.6 * depth / D)) return csf(Cls::sulcus);
            if (depth < t_gm_ || (depth < D + t_gm_ && border < sulcus_w_ + 2 * t_gm_))
                return soft(hu_gm_ + tex, Cls::grey);
        }
        // deep grey nuclei (metaballs) and their calcification
        {
            const double sx = p.x < 0 ? -1 : 1;
            double f = blob(p, {sx * 15 * s, 20 * s, 9 * s}, {4 * s, 8 * s, 7 * s});     // caudate head
            f += blob(p, {sx * 25 * s, 4 * s, 1 * s}, {5 * s, 14 * s, 9 * s});         // putamen
            f += blob(p, {sx * 10 * s, -13 * s, 4 * s}, {7.5 * s, 11 * s, 8 * s});     // thalamus
            if (f > 0.5) {
                if (bg_calc_b_ > 0 && len(p - Vec{sx * 19 * s, 3 * s, 0}) < 2.5 * s) {
                    Material m = soft(30, Cls::calcification);
                    m.b = bg_calc_b_;
                    return m;
                }
                return soft(hu_gm_ - 2 + tex, Cls::deep);
            }
        }
        return soft(hu_wm_ + tex, Cls::white);
    }

    Material posterior_fossa(Vec p, double d_in, double tex) const {
        const double s = s_;
        if (d_in < t_rim_ + 0.5) return csf(Cls::rim);
        // brainstem (pons / medulla) with the prepontine cistern in front
        {
            const double ex = p.x / (12.5 * s), ey = (p.y + 12 * s) / (10 * s);
            const double e = std::sqrt(ex * ex + ey * ey);
            if (e < 1) return soft(hu_wm_ + 5 + tex, Cls::stem);
            if (e < 1.35 + 0.4 * atrophy_ && p.y > -16 * s) return csf(Cls::cistern);
        }
        const int vent = ventricle(p);
        if (vent == 4) {
            Material m = csf(Cls::ventricle);
            m.ventricle = 4;
            return m;
        }
        // cerebellum: folia as concentric shells around each hemisphere's centre
        const double sx = p.x < 0 ? -1 : 1;
        const Vec c{sx * 22 * s, -45 * s, -42 * s};
        const double r = len(p - c);
        const double f = std::sin(6.283185307179586 * r / folia_ + 1.5 * value_noise(key_ ^ 0xce7, p, 12));
        if (d_in < 14 * s && f > 0.94 - 0.1 * atrophy_) return csf(Cls::sulcus);
        return soft((f > 0.25 ? hu_gm_ : hu_wm_ + 4) + tex, f > 0.25 ? Cls::grey : Cls::white);
    }

    double s_, W_, Lf_, Lb_, Ht_, e_;
    double tex_k_[3], tex_ph_[3];
    double rmax_ = 0;
    std::vector<double> floor_;  // floor heights on a 2 mm grid over [-kFloorHalf, kFloorHalf]^2
    double fa_[4], fp_[4];
    Vec centre_;
    double t_skin_, t_fat_, t_galea_, t_temporalis_, t_skull_, f_outer_, f_inner_, diploe_b_;
    bool frontal_sinus_;
    double atrophy_, vent_, hu_gm_, hu_wm_, hu_csf_, hu_fat_, hu_muscle_, hu_dura_, hu_sinus_;
    double t_falx_, x_mid_amp_, t_rim_, t_gm_, sulcus_w_, sulcus_cell_;
    uint64_t key_;
    double pineal_b_, choroid_b_, bg_calc_b_, falx_plaque_b_, plaque_y_, plaque_z_, folia_;
    std::vector<double> R_, cos_;
};

}  // namespace ichseg::data::indep
