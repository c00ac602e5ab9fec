/// @file bleed.hpp (data/phantom_indep)
/// @brief Family B's hemorrhages (`Bleed`), parameterised unlike data/phantom/lesions.hpp:
///  * IPH: a metaball cluster (3-6 Gaussian blobs) around a putaminal, thalamic, lobar, cerebellar or pontine
///    centre, rescaled numerically (on a 1 mm grid) to a target volume drawn log-uniformly in 1.5-70 mL; a
///    hypodense oedema shell where the blob field lies between two lower levels;
///  * EDH: a lens under the inner table over a cap of the skull (angular radius from a 20-45 mm footprint),
///    thickness T (6-28 mm) x (1 - (phi / Phi)^2)^0.6, optional hypodense swirl from value noise;
///  * SDH: a crescent of nearly constant thickness (3-20 mm) over a wide cap (45-80 degrees), a logistic taper at
///    its rim, stopped by the falx and the tentorium; acute, mixed, subacute or chronic density; or (15 %) an interhemispheric
///    SDH along the falx;
///  * SAH: blood in the CSF spaces (sulci, fissures, cisterns, rim) inside a sphere of 15-45 mm around a Sylvian,
///    basal-cistern or convexity centre, patchy by value noise (denser near the centre);
///  * IVH: the ventricles filled below a fluid level perpendicular to gravity (the patient lies supine, so the
///    level follows the head's pose), or a cast of one lateral ventricle with the third; the fourth ventricle
///    in half of the cases.
/// Sizes follow clinical ranges (docs/data.md §6, family B).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ichseg/data/phantom_indep/case.hpp"
#include "ichseg/data/phantom_indep/head.hpp"

namespace ichseg::data::indep {

struct Bleed {
    IchSubtype type = IchSubtype::IPH;
    std::string kind;
    double hu = 70;
    // IPH
    std::vector<Vec> centres;
    std::vector<double> radii;
    double oedema_hu = 20;
    // EDH / SDH
    Vec dir{1, 0, 0};
    double Phi = 0.5, T = 10;
    int side = 1;
    bool interhemispheric = false;
    double ih_y0 = 0, ih_y1 = 0, ih_z0 = 0;
    double swirl = 0;  ///< EDH / mixed SDH: share of hypodense pockets
    double swirl_hu = 0;
    // SAH
    Vec centre{0, 0, 0};
    double radius = 20;
    // IVH
    Vec gravity{0, -1, 0};  ///< unit "down" in head coordinates
    double level = 0;       ///< blood where dot(p, gravity) > level
    int cast = 0;           ///< lateral ventricle cast (-1 / +1), 0: layering
    bool fourth = false;
    uint64_t key = 0;
    // quick rejection
    Vec bc{0, 0, 0};
    double br = 1e9;

    /// IPH blob field at p.
    double field(Vec p) const {
        double f = 0;
        for (size_t i = 0; i < centres.size(); ++i) {
            const Vec d = p - centres[i];
            const double q = dotp(d, d) / (radii[i] * radii[i]);
            if (q < 16) f += std::exp(-q);
        }
        return f;
    }

    /// Whether the hemorrhage occupies the cavity point p of material `m` of head H; `out_hu` its HU. `oedema`
    /// is set where an IPH's oedema shell darkens the tissue (then false is returned).
    bool contains(const IndepHead& H, Vec p, const Material& m, double& out_hu, bool& oedema) const {
        oedema = false;
        {
            const Vec q = p - bc;
            if (dotp(q, q) > br * br) return false;
        }
        switch (type) {
            case IchSubtype::IPH: {
                if (m.cls == Cls::ventricle || m.cls == Cls::sinus || m.cls == Cls::dura || m.cls == Cls::rim) return false;
                const double f = field(p);
                if (f >= 0.5) {
                    out_hu = hu + 3 * value_noise(key, p, 4.0);
                    return true;
                }
                if (f >= 0.12 && m.cls != Cls::sulcus && m.cls != Cls::fissure && m.cls != Cls::cistern) {
                    oedema = true;
                    out_hu = oedema_hu;
                }
                return false;
            }
            case IchSubtype::EDH:
            case IchSubtype::SDH: {
                if (interhemispheric) {
                    const double ax = std::fabs(p.x - H.x_mid(p.y));
                    if (p.y < ih_y0 || p.y > ih_y1 || p.z < ih_z0 || ax > T || ax < 0.6) return false;
                    out_hu = hu;
                    return true;
                }
                if (m.d_in < 0) return false;
                if (type == IchSubtype::SDH && (p.x - H.x_mid(p.y)) * side < 1.0) return false;
                // a convexity SDH stays above the tentorium (supratentorial)
                if (type == IchSubtype::SDH && p.y < -8 * H.scale() && p.z < H.tentorium_z(p.x, p.y)) return false;
                const double phi = std::acos(std::clamp(dotp(m.dir, dir), -1.0, 1.0));
                double t;
                if (type == IchSubtype::EDH) {
                    if (phi >= Phi) return false;
                    const double q = phi / Phi;
                    t = T * std::pow(1 - q * q, 0.6);
                } else {
                    t = T * (1 - 0.35 * (phi / Phi) * (phi / Phi)) / (1 + std::exp((phi - Phi) / 0.06));
                }
                if (m.d_in >= t) return false;
                out_hu = hu + 2.5 * value_noise(key, p, 5.0);
                if (swirl > 0 && value_noise(key ^ 0x5a1, p, 6.0) > 1 - 2 * swirl) out_hu = swirl_hu;
                return true;
            }
            case IchSubtype::SAH: {
                if (!is_csf_space(m.cls)) return false;
                const double d = len(p - centre);
                if (d > radius) return false;
                if (value_noise(key, p, 7.0) < -0.55 + 0.9 * (d / radius)) return false;
                out_hu = hu + 3 * value_noise(key ^ 1, p, 4.0);
                return true;
            }
            case IchSubtype::IVH: {
                if (m.cls != Cls::ventricle && !(m.cls == Cls::calcification && m.ventricle != 0)) return false;
                if (m.ventricle == 4) {
                    if (!fourth) return false;
                } else if (cast != 0) {
                    if (m.ventricle != cast && m.ventricle != 3) return false;
                } else if (dotp(p, gravity) < level) {
                    return false;
                }
                out_hu = hu;
                return true;
            }
        }
        return false;
    }
};

/// Volume (mL) of an IPH blob cluster inside the head's cavity, on a 1 mm grid.
inline double iph_volume_ml(const Bleed& b) {
    double lo[3] = {1e9, 1e9, 1e9}, hi[3] = {-1e9, -1e9, -1e9};
    for (size_t i = 0; i < b.centres.size(); ++i) {
        const double r = 2.2 * b.radii[i];
        lo[0] = std::min(lo[0], b.centres[i].x - r);
        hi[0] = std::max(hi[0], b.centres[i].x + r);
        lo[1] = std::min(lo[1], b.centres[i].y - r);
        hi[1] = std::max(hi[1], b.centres[i].y + r);
        lo[2] = std::min(lo[2], b.centres[i].z - r);
        hi[2] = std::max(hi[2], b.centres[i].z + r);
    }
    const double h = 1.0;
    int64_t n = 0;
    for (double x = lo[0]; x <= hi[0]; x += h)
        for (double y = lo[1]; y <= hi[1]; y += h)
            for (double z = lo[2]; z <= hi[2]; z += h) n += b.field(Vec{x, y, z}) >= 0.5;
    return static_cast<double>(n) * h * h * h / 1000.0;
}

/// The hemorrhage kinds of a case: the forced ones, or 1-3 drawn with clinical frequencies; none when healthy.
inline std::vector<IchSubtype> draw_kinds(Rng& rng, const IndepParams& p) {
    std::vector<IchSubtype> out;
    if (p.subtypes != 0) {
        for (int s = 0; s < io::kNumSubtypes; ++s)
            if (p.subtypes & (1u << s)) out.push_back(static_cast<IchSubtype>(s));
        return out;
    }
    const bool any = p.ich == 1 || (p.ich == -1 && rng.bernoulli(p.ich_probability));
    if (!any) return out;
    const double u = rng.uniform();
    const int count = u < 0.65 ? 1 : (u < 0.92 ? 2 : 3);
    const double freq[5] = {0.10, 0.30, 0.15, 0.20, 0.25};  // EDH IPH IVH SAH SDH
    for (int c = 0; c < count; ++c) {
        double v = rng.uniform(), acc = 0;
        int k = 4;
        for (int s = 0; s < 5; ++s) {
            acc += freq[s];
            if (v < acc) {
                k = s;
                break;
            }
        }
        out.push_back(static_cast<IchSubtype>(k));
    }
    return out;
}

/// A unit direction at polar angle `polar` from +z and azimuth `az` from +y towards +x.
inline Vec direction(double polar, double az) {
    return {std::sin(polar) * std::sin(az), std::sin(polar) * std::cos(az), std::cos(polar)};
}

/// Draw one hemorrhage of kind `t` in head H; `gravity` is the head-frame "down" of a supine patient.
inline Bleed draw_bleed(Rng& rng, IchSubtype t, const IndepHead& H, Vec gravity) {
    const double s = H.scale(), pi = 3.14159265358979;
    Bleed b;
    b.type = t;
    b.key = rng.u32() | (static_cast<uint64_t>(rng.u32()) << 32);
    switch (t) {
        case IchSubtype::IPH: {
            const double u = rng.uniform(), sx = rng.bernoulli(0.5) ? 1 : -1;
            Vec c;
            if (u < 0.35) {
                c = {sx * rng.uniform(20, 27) * s, rng.uniform(-4, 12) * s, rng.uniform(-6, 8) * s};
                b.kind = "putaminal";
            } else if (u < 0.55) {
                c = {sx * rng.uniform(7, 13) * s, rng.uniform(-18, -6) * s, rng.uniform(0, 10) * s};
                b.kind = "thalamic";
            } else if (u < 0.87) {
                const double az = rng.uniform(-pi, pi), el = rng.uniform(0.35, 1.2);
                c = H.centre() + rng.uniform(38, 52) * s * direction(el, az);
                b.kind = "lobar";
            } else if (u < 0.96) {
                c = {sx * rng.uniform(14, 26) * s, rng.uniform(-52, -38) * s, rng.uniform(-46, -36) * s};
                b.kind = "cerebellar";
            } else {
                c = {rng.uniform(-3, 3) * s, -12 * s, rng.uniform(-42, -32) * s};
                b.kind = "pontine";
            }
            const int nb = static_cast<int>(rng.randint(3, 6));
            for (int i = 0; i < nb; ++i) {
                b.centres.push_back(c + Vec{rng.normal(0, 4), rng.normal(0, 5), rng.normal(0, 4)});
                b.radii.push_back(rng.uniform(4, 8));
            }
            double target = std::exp(rng.uniform(std::log(1.5), std::log(70.0)));
            if (b.kind == "thalamic" || b.kind == "pontine") target = std::min(target, 20.0);
            if (b.kind == "cerebellar") target = std::min(target, 35.0);
            // rescale the cluster about its first centre to the target volume (two fixed-point steps)
            for (int it = 0; it < 2; ++it) {
                const double v = iph_volume_ml(b);
                const double k = v > 0 ? std::cbrt(target / v) : 1.5;
                for (size_t i = 0; i < b.centres.size(); ++i) {
                    b.centres[i] = c + k * (b.centres[i] - c);
                    b.radii[i] *= k;
                }
            }
            b.hu = rng.uniform(55, 85);
            b.oedema_hu = H.hu_wm() - rng.uniform(5, 12);
            double rmax = 0;
            for (size_t i = 0; i < b.centres.size(); ++i) rmax = std::max(rmax, len(b.centres[i] - c) + 2.2 * b.radii[i]);
            b.bc = c;
            b.br = rmax;
            break;
        }
        case IchSubtype::EDH: {
            const double u = rng.uniform(), sx = rng.bernoulli(0.5) ? 1 : -1;
            double polar, az;
            if (u < 0.55) {
                polar = rng.uniform(1.2, 1.75), az = sx * rng.uniform(1.2, 2.0);
                b.kind = "temporal";
            } else if (u < 0.8) {
                polar = rng.uniform(0.5, 1.1), az = sx * rng.uniform(0.8, 2.4);
                b.kind = "parietal";
            } else if (u < 0.93) {
                polar = rng.uniform(0.9, 1.5), az = sx * rng.uniform(0.1, 0.7);
                b.kind = "frontal";
            } else {
                polar = rng.uniform(1.3, 1.9), az = sx * rng.uniform(2.5, 3.0);
                b.kind = "occipital";
            }
            b.dir = direction(polar, az);
            b.Phi = rng.uniform(20, 45) * s / 70.0;
            b.T = rng.uniform(6, 28) * s;
            b.hu = rng.uniform(55, 85);
            if (rng.bernoulli(0.25)) {
                b.swirl = rng.uniform(0.1, 0.25);
                b.swirl_hu = rng.uniform(28, 42);
            }
            b.bc = H.centre() + 65 * s * b.dir;
            b.br = 70 * s * b.Phi + b.T + 20;
            break;
        }
        case IchSubtype::SDH: {
            b.side = rng.bernoulli(0.5) ? 1 : -1;
            const double u = rng.uniform();
            if (u < 0.7) {
                b.hu = rng.uniform(55, 80);
                b.kind = "acute";
            } else if (u < 0.8) {
                b.hu = rng.uniform(50, 70);
                b.swirl = rng.uniform(0.15, 0.3);
                b.swirl_hu = rng.uniform(20, 35);
                b.kind = "mixed";
            } else if (u < 0.92) {
                b.hu = rng.uniform(35, 48);
                b.kind = "subacute";
            } else {
                b.hu = rng.uniform(12, 25);
                b.kind = "chronic";
            }
            if (rng.bernoulli(0.15)) {
                b.interhemispheric = true;
                b.T = rng.uniform(2, 6);
                b.ih_y0 = rng.uniform(-50, 0) * s;
                b.ih_y1 = b.ih_y0 + rng.uniform(30, 70) * s;
                b.ih_z0 = rng.uniform(20, 45) * s;
                b.kind += " interhemispheric";
                b.bc = Vec{0, 0.5 * (b.ih_y0 + b.ih_y1), 50 * s};
                b.br = 120 * s;
            } else {
                b.dir = direction(rng.uniform(0.6, 1.5), b.side * rng.uniform(1.0, 2.2));
                b.Phi = rng.uniform(45, 80) * pi / 180;
                b.T = rng.uniform(3, 20) * s;
                b.bc = H.centre();
                b.br = 1e9;
            }
            break;
        }
        case IchSubtype::SAH: {
            const double u = rng.uniform(), sx = rng.bernoulli(0.5) ? 1 : -1;
            if (u < 0.35) {
                b.centre = {sx * 0.55 * H.half_width(), rng.uniform(-5, 25) * s, rng.uniform(-10, -2) * s};
                b.kind = "sylvian";
            } else if (u < 0.65) {
                b.centre = {rng.uniform(-6, 6) * s, rng.uniform(-18, 0) * s, rng.uniform(-26, -12) * s};
                b.kind = "basal cisterns";
            } else {
                b.centre = H.centre() + 55 * s * direction(rng.uniform(0.3, 1.1), rng.uniform(-pi, pi));
                b.kind = "convexity";
            }
            b.radius = rng.uniform(15, 45) * s;
            b.hu = rng.uniform(45, 75);
            b.bc = b.centre;
            b.br = b.radius + 1;
            break;
        }
        case IchSubtype::IVH: {
            b.gravity = gravity;
            if (rng.bernoulli(0.3)) {
                b.cast = rng.bernoulli(0.5) ? 1 : -1;
                b.kind = "cast";
            } else {
                // the fluid level: a plane perpendicular to gravity through a point between the ventricles' centre
                // and their dependent end (occipital horns of a supine patient)
                const double f = rng.uniform(0.25, 0.75);
                const Vec ref{0, -46 * s * f + 5 * s * (1 - f), 8 * s};
                b.level = dotp(ref, gravity);
                b.kind = "layering";
            }
            b.fourth = rng.bernoulli(0.5);
            b.hu = rng.uniform(45, 75);
            b.bc = Vec{0, -10 * s, 0};
            b.br = 1e9;
            break;
        }
    }
    return b;
}

}  // namespace ichseg::data::indep
