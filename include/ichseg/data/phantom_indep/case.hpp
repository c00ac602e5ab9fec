/// @file case.hpp (data/phantom_indep)
/// @brief The second, independent phantom family ("family B"): what a case is asked for (`IndepParams`), what it
/// is (`IndepCase`), and the small maths its parts share (a 3-vector, a hash-based value noise, Rodrigues
/// rotations). Family B is written separately from data/phantom/ (no shape function, parameter or draw is shared)
/// and is used only to score models (predict/score.hpp, `ichseg_score`): never for training or for choosing
/// settings (docs/design.md forbids the study and training layers to include it).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/io/labels.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::data::indep {

using io::IchLabels;
using io::IchSubtype;

struct IndepParams {
    int64_t size = 256;          ///< in-plane matrix (pixels)
    double fov_mm = 0;           ///< reconstruction field of view; 0 = U(210, 250) mm
    double thickness_mm = 0;     ///< slice thickness = spacing; 0 = 5 mm (half the cases) or 2.5 / 3.75 mm
    int64_t slices = 0;          ///< 0 = from below the skull base to the vertex; else a slab through the cerebrum
    int ich = -1;                ///< -1 random (ich_probability), 0 healthy, 1 at least one hemorrhage
    double ich_probability = 0.6;
    uint32_t subtypes = 0;       ///< bits (1 << IchSubtype): exactly these hemorrhage kinds (implies ich = 1)
    double dose = 1.0;           ///< photon budget multiplier: noise ~ 1 / sqrt(dose)
    bool physics = true;         ///< false: skip the scanner (noiseless sampled HU; for tests)
};

/// One hemorrhage as generated, with what its mask holds.
struct IndepLesion {
    IchSubtype type = IchSubtype::IPH;
    std::string kind;        ///< e.g. "putaminal", "temporal", "chronic", "sylvian", "layering"
    double hu = 0;
    double volume_ml = 0;    ///< voxels of this kind in the ICH mask x voxel volume
};

struct IndepCase {
    io::Volume ct;                       ///< HU after the scanner model
    io::Mask ich;                        ///< hemorrhage (>= half of a voxel's sub-samples)
    io::Mask brain;                      ///< intracranial cavity
    io::Image3D<uint8_t> subtype_bits;   ///< bit s where subtype s (inside `ich`)
    std::vector<IchLabels> slice_labels;
    IchLabels labels;
    std::vector<IndepLesion> lesions;
    double kvp = 120, noise_target_hu = 0, thickness_mm = 0, pixel_mm = 0;
    uint64_t seed = 0;
    std::string description;
};

/// Error naming the parameter unless every parameter is in its range.
inline void check_params(const IndepParams& p) {
    ICHSEG_CHECK(p.size >= 32 && p.size <= 1024, "indep phantom: size ", p.size, " outside 32..1024");
    ICHSEG_CHECK(p.fov_mm == 0 || (p.fov_mm >= 150 && p.fov_mm <= 400), "indep phantom: field of view ", p.fov_mm,
                 " mm outside 150..400 (0 = random)");
    ICHSEG_CHECK(p.thickness_mm == 0 || (p.thickness_mm >= 0.5 && p.thickness_mm <= 10), "indep phantom: thickness ",
                 p.thickness_mm, " mm outside 0.5..10 (0 = random)");
    ICHSEG_CHECK(p.slices >= 0 && p.slices <= 400, "indep phantom: slices ", p.slices, " outside 0..400");
    ICHSEG_CHECK(p.ich >= -1 && p.ich <= 1, "indep phantom: ich must be -1, 0 or 1, got ", p.ich);
    ICHSEG_CHECK(p.subtypes < 32u, "indep phantom: subtype bits ", p.subtypes, " outside 0..31");
    ICHSEG_CHECK(p.dose > 0.01 && p.dose <= 100, "indep phantom: dose ", p.dose, " outside (0.01, 100]");
}

// ---- shared maths ---------------------------------------------------------------------------------------------

struct Vec {
    double x = 0, y = 0, z = 0;
};
inline Vec operator+(Vec a, Vec b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec operator-(Vec a, Vec b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec operator*(double s, Vec a) { return {s * a.x, s * a.y, s * a.z}; }
inline double dotp(Vec a, Vec b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline double len(Vec a) { return std::sqrt(dotp(a, a)); }
inline Vec unit(Vec a) {
    const double l = len(a);
    return l > 0 ? (1.0 / l) * a : Vec{0, 0, 1};
}

/// A 3 x 3 rotation from an axis-angle vector (radians, Rodrigues' formula).
struct Rot {
    double m[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    static Rot axis_angle(Vec w) {
        Rot r;
        const double th = len(w);
        if (th < 1e-12) return r;
        const Vec k = (1.0 / th) * w;
        const double c = std::cos(th), s = std::sin(th), v = 1 - c;
        r.m[0][0] = c + k.x * k.x * v;
        r.m[0][1] = k.x * k.y * v - k.z * s;
        r.m[0][2] = k.x * k.z * v + k.y * s;
        r.m[1][0] = k.y * k.x * v + k.z * s;
        r.m[1][1] = c + k.y * k.y * v;
        r.m[1][2] = k.y * k.z * v - k.x * s;
        r.m[2][0] = k.z * k.x * v - k.y * s;
        r.m[2][1] = k.z * k.y * v + k.x * s;
        r.m[2][2] = c + k.z * k.z * v;
        return r;
    }
    Vec apply(Vec a) const {
        return {m[0][0] * a.x + m[0][1] * a.y + m[0][2] * a.z, m[1][0] * a.x + m[1][1] * a.y + m[1][2] * a.z,
                m[2][0] * a.x + m[2][1] * a.y + m[2][2] * a.z};
    }
    Vec apply_t(Vec a) const {  // transpose = inverse
        return {m[0][0] * a.x + m[1][0] * a.y + m[2][0] * a.z, m[0][1] * a.x + m[1][1] * a.y + m[2][1] * a.z,
                m[0][2] * a.x + m[1][2] * a.y + m[2][2] * a.z};
    }
};

/// 64-bit integer hash (Murmur3 finaliser).
inline uint64_t hash64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
inline uint64_t hash3(uint64_t key, int64_t i, int64_t j, int64_t k) {
    return hash64(key ^ hash64(static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL ^
                               hash64(static_cast<uint64_t>(j) * 0xC2B2AE3D27D4EB4FULL ^
                                      static_cast<uint64_t>(k) * 0x165667B19E3779F9ULL)));
}
/// Hash -> [0, 1).
inline double unit_of(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

/// Trilinearly interpolated lattice value noise in [-1, 1] with lattice spacing `cell` (mm), smooth (C1) fade.
inline double value_noise(uint64_t key, Vec p, double cell) {
    const double fx = p.x / cell, fy = p.y / cell, fz = p.z / cell;
    const double ix = std::floor(fx), iy = std::floor(fy), iz = std::floor(fz);
    auto fade = [](double t) { return t * t * (3 - 2 * t); };
    const double tx = fade(fx - ix), ty = fade(fy - iy), tz = fade(fz - iz);
    const auto X = static_cast<int64_t>(ix), Y = static_cast<int64_t>(iy), Z = static_cast<int64_t>(iz);
    double acc = 0;
    for (int c = 0; c < 8; ++c) {
        const int dx = c & 1, dy = (c >> 1) & 1, dz = (c >> 2) & 1;
        const double w = (dx ? tx : 1 - tx) * (dy ? ty : 1 - ty) * (dz ? tz : 1 - tz);
        acc += w * (2 * unit_of(hash3(key, X + dx, Y + dy, Z + dz)) - 1);
    }
    return acc;
}

/// Cellular (Worley) noise: distances from p to the nearest and second-nearest feature points of a jittered
/// cubic lattice of spacing `cell` (one point per cell; its three coordinates from 21-bit fields of one hash).
inline void cellular(uint64_t key, Vec p, double cell, double& f1, double& f2) {
    const double fx = p.x / cell, fy = p.y / cell, fz = p.z / cell;
    const auto X = static_cast<int64_t>(std::floor(fx)), Y = static_cast<int64_t>(std::floor(fy)),
               Z = static_cast<int64_t>(std::floor(fz));
    double d1 = 1e30, d2 = 1e30;
    constexpr double k21 = 1.0 / 2097152.0;
    for (int64_t i = X - 1; i <= X + 1; ++i)
        for (int64_t j = Y - 1; j <= Y + 1; ++j)
            for (int64_t k = Z - 1; k <= Z + 1; ++k) {
                const uint64_t h = hash3(key, i, j, k);
                const double dx = static_cast<double>(i) + static_cast<double>(h & 0x1FFFFF) * k21 - fx;
                const double dy = static_cast<double>(j) + static_cast<double>((h >> 21) & 0x1FFFFF) * k21 - fy;
                const double dz = static_cast<double>(k) + static_cast<double>((h >> 42) & 0x1FFFFF) * k21 - fz;
                const double d = dx * dx + dy * dy + dz * dz;
                if (d < d1) {
                    d2 = d1;
                    d1 = d;
                } else if (d < d2) {
                    d2 = d;
                }
            }
    f1 = std::sqrt(d1) * cell;
    f2 = std::sqrt(d2) * cell;
}

}  // namespace ichseg::data::indep
