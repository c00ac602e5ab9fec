/// @file common.hpp (data/phantom)
/// @brief What the parts of the phantom generator share: 3-vectors in patient millimetres, a smooth step, the
/// distance to a segment, a smooth random field (boundary irregularity, sulci, folia), the tissue classes of the
/// head model and the record of one point sample.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "ichseg/data/random.hpp"

namespace ichseg::data::phantom {

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
    /// Root mean square of the waves' wavenumbers (radians per mm).
    double rms_wavenumber() const {
        double s = 0;
        for (int i = 0; i < n; ++i) s += dot(k[static_cast<size_t>(i)], k[static_cast<size_t>(i)]);
        return n > 0 ? std::sqrt(s / n) : 0.0;
    }
    /// The field's value at p and its gradient (per mm) in `grad`.
    double value_grad(V3 p, V3& grad) const {
        double s = 0;
        grad = {0, 0, 0};
        for (int i = 0; i < n; ++i) {
            const V3& ki = k[static_cast<size_t>(i)];
            const double a = dot(ki, p) + phase[static_cast<size_t>(i)];
            s += std::sin(a);
            grad = grad + std::cos(a) * ki;
        }
        const double norm_factor = 1.0 / std::sqrt(static_cast<double>(n) * 0.5);
        grad = norm_factor * grad;
        return s * norm_factor;
    }
};

/// Tissue class of a point of the head model (what the lesions test against: SAH fills the subarachnoid classes,
/// IVH the ventricles).
enum Tissue : uint8_t {
    T_AIR, T_SOFT, T_BONE, T_CSF_RIM, T_SULCUS, T_FISSURE, T_CISTERN, T_VENTRICLE, T_GM, T_WM, T_OTHER
};

/// One point sample of the head: its HU and whether it lies in the cavity.
struct Sample {
    float hu = -1000.f;
    uint8_t bits = 0;  ///< lesion subtype bits
    bool cavity = false;
    bool fracture = false;
};

}  // namespace ichseg::data::phantom
