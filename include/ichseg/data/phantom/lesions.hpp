/// @file lesions.hpp (data/phantom)
/// @brief The hemorrhages of one case (IchSubtype), drawn after the head and the acquisition and tested per point
/// sample: EDH biconvex lens against the inner table (optionally with a skull fracture and a hypodense "swirl");
/// SDH crescent over one convexity, not crossing the falx, acute / subacute (near-isodense) / chronic
/// (hypodense); SAH in sulci, Sylvian fissure or basal cisterns; IPH irregular blob in the basal ganglia,
/// thalamus, lobar white matter or cerebellum with a hypodense oedema rim; IVH layering in the dependent
/// (posterior) horns or casting one ventricle. HU ranges follow clinical values (acute blood 50-90 HU).
/// A subtype's draws live in its `draw_<subtype>` function and its shape in `in_lesion`;
/// `PhantomParams::lesion_scale` scales the drawn sizes after all draws, so that the random stream does not
/// depend on it.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ichseg/data/phantom/anatomy.hpp"
#include "ichseg/data/phantom/common.hpp"
#include "ichseg/data/phantom/params.hpp"

namespace ichseg::data::phantom {

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

/// The skull fracture that may come with an EDH: a thin plane through the bone near the clot.
struct Fracture {
    bool on = false;
    V3 c{0, 0, 0}, n{1, 0, 0};  ///< centre on the skull, unit normal of the fracture plane

    /// Whether a bone sample at p lies in the fracture gap (head scale `k`).
    bool cuts(V3 p, double k) const { return on && std::fabs(dot(p - c, n)) < 0.6 && norm(p - c) < 30 * k; }
};

/// Draws the centre height of a lesion: uniform in [lo, hi] clipped to the slab (its middle when they miss it).
struct SlabHeight {
    Rng& rng;
    double z0, z1, dz;  ///< first / last slice centre, slice spacing (mm)
    double operator()(double lo, double hi) const {
        lo = std::max(lo, z0 - 0.3 * dz);
        hi = std::min(hi, z1 + 0.3 * dz);
        if (hi < lo) return 0.5 * (z0 + z1);
        return rng.uniform(lo, hi);
    }
};

/// The subtypes of the case's hemorrhages: the forced ones, or (ich = 1, or random with ich_probability) one to
/// three drawn with the clinical frequencies; none when ich = 0.
inline std::vector<IchSubtype> draw_subtypes(Rng& rng, const PhantomParams& prm) {
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
    return types;
}

inline void draw_edh(LesionModel& L, Rng& rng, const HeadModel& H, double k, const SlabHeight& slab_z,
                     Fracture& fracture) {
    const double az = rng.uniform(0.35, 2.6) * (rng.bernoulli(0.5) ? 1 : -1);  // from anterior
    const double zc = slab_z(-10 * k, 55 * k);
    V3 d{std::sin(az), std::cos(az), zc / (H.Cu() * 1.2)};
    L.dir = (1.0 / norm(d)) * d;
    L.r = {rng.uniform(5, 25) * k, rng.uniform(18, 40) * k, 0};
    L.c = (0.8 * H.A()) * L.dir;
    L.hu = rng.uniform(58, 88);
    L.swirl = rng.bernoulli(0.25) ? 0.3 * L.r.x : 0;
    L.variant = L.swirl > 0 ? "acute with swirl" : "acute";
    L.size_mm = L.r.y;
    if (rng.bernoulli(0.6)) {
        fracture.on = true;
        fracture.c = (0.95 * H.A()) * L.dir;
        fracture.n = V3{L.dir.y, -L.dir.x, rng.uniform(-0.3, 0.3)};
        fracture.n = (1.0 / norm(fracture.n)) * fracture.n;
    }
}

inline void draw_sdh(LesionModel& L, Rng& rng, const HeadModel& H, double k, const SlabHeight& slab_z) {
    L.side = rng.bernoulli(0.5) ? 1 : -1;
    const double az = rng.uniform(0.5, 2.4) * L.side;
    const double zc = slab_z(-5 * k, 50 * k);
    V3 d{std::sin(az), std::cos(az), zc / (H.Cu() * 1.2)};
    L.dir = (1.0 / norm(d)) * d;
    L.r = {rng.uniform(3, 18) * k, rng.uniform(45, 85) * k, 0};
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
}

inline void draw_sah(LesionModel& L, Rng& rng, const HeadModel& H, double k, const SlabHeight& slab_z) {
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
    L.r = {rng.uniform(15, 40) * k, 0, 0};
    L.hu = rng.uniform(48, 72);
    L.size_mm = L.r.x;
}

/// `z0`: the first slice (a cerebellar IPH only when the slab reaches the posterior fossa).
inline void draw_iph(LesionModel& L, Rng& rng, const HeadModel& H, double k, const SlabHeight& slab_z, double z0) {
    const double u = rng.uniform();
    const double sd = rng.bernoulli(0.5) ? 1 : -1;
    // haematoma volume log-uniform in 1-60 mL (rad: radius of the sphere of that volume, mm)
    double rad = std::cbrt(3000.0 * rng.log_uniform(1, 60) / (4 * 3.14159265358979)) * k;
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
}

inline void draw_ivh(LesionModel& L, Rng& rng, const HeadModel& H, double k) {
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
}

/// `PhantomParams::lesion_scale` applied to a drawn lesion.
inline void scale_lesion(LesionModel& L, double ls) {
    switch (L.type) {
        case IchSubtype::EDH: L.r.x *= ls; L.r.y *= ls; L.swirl *= ls; L.size_mm = L.r.y; break;
        case IchSubtype::SDH: L.r.x *= ls; break;  // thickness; the extent already spans a convexity
        case IchSubtype::SAH: L.r.x *= ls; L.distend = ls; L.size_mm = L.r.x; break;
        case IchSubtype::IPH: L.r = ls * L.r; L.size_mm *= ls; break;
        case IchSubtype::IVH: break;
    }
}

/// Bounding sphere of a lesion (quick rejection of far samples).
inline void bound_lesion(LesionModel& L, const HeadModel& H) {
    switch (L.type) {
        case IchSubtype::EDH:
        case IchSubtype::SDH:
            L.bc = (0.9 * std::max(H.A(), H.B())) * L.dir;
            L.br = 1.2 * L.r.y + L.r.x + 0.25 * std::max(H.A(), H.B()) + 10;
            break;
        case IchSubtype::SAH: L.bc = L.c; L.br = 1.3 * L.r.x + 1; break;
        case IchSubtype::IPH: L.bc = L.c; L.br = 1.25 * std::max({L.r.x, L.r.y, L.r.z}) + L.edema + 1; break;
        case IchSubtype::IVH: L.bc = V3{0, -0.1 * H.B(), 0}; L.br = 1e9; break;
    }
}

/// The hemorrhages of one case and the fracture that may come with an EDH.
struct LesionSet {
    std::vector<LesionModel> lesions;
    Fracture fracture;
};

/// Draw the hemorrhages of a case whose slab has slice centres z0..z1 (mm) at spacing dz.
inline LesionSet draw_lesions(Rng& rng, const PhantomParams& prm, const HeadModel& H, double z0, double z1,
                              double dz) {
    const double k = H.scale();
    LesionSet out;
    const SlabHeight slab_z{rng, z0, z1, dz};
    for (IchSubtype t : draw_subtypes(rng, prm)) {
        LesionModel L;
        L.type = t;
        L.wobble.init(rng, 3, 15, 40);
        switch (t) {
            case IchSubtype::EDH: draw_edh(L, rng, H, k, slab_z, out.fracture); break;
            case IchSubtype::SDH: draw_sdh(L, rng, H, k, slab_z); break;
            case IchSubtype::SAH: draw_sah(L, rng, H, k, slab_z); break;
            case IchSubtype::IPH: draw_iph(L, rng, H, k, slab_z, z0); break;
            case IchSubtype::IVH: draw_ivh(L, rng, H, k); break;
        }
        if (prm.lesion_scale != 1.0) scale_lesion(L, prm.lesion_scale);  // after all draws of this lesion
        bound_lesion(L, H);
        out.lesions.push_back(L);
    }
    return out;
}

/// Lesion membership at p (a point of the cavity) given the base anatomy there; `hu` receives the clot's HU.
inline bool in_lesion(const LesionModel& L, const HeadModel& H, V3 p, Tissue tissue, double d_in, double& hu) {
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

/// The lesions at a cavity sample p: returns their subtype bits and sets `hu` to the clot's HU (with texture)
/// where there is one, or darkens it in an IPH's oedema rim.
inline uint8_t apply_lesions(const std::vector<LesionModel>& lesions, const HeadModel& H, V3 p, Tissue tissue,
                             double d_in, double& hu) {
    uint8_t bits = 0;
    for (const auto& L : lesions) {
        double lhu;
        if (in_lesion(L, H, p, tissue, d_in, lhu)) {
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
    return bits;
}

}  // namespace ichseg::data::phantom
