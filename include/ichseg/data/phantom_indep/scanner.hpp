/// @file scanner.hpp (data/phantom_indep)
/// @brief Family B's scanner (`ScannerB`): a projection-domain model, unlike the image-domain blur and noise of
/// data/phantom/acquisition.hpp. Per slice:
///  1. the slice's materials are two maps, water-equivalent density w and cortical-bone fraction b (the mean of
///     the sub-samples through the slice thickness: partial volume);
///  2. parallel-beam line integrals of w and b (Joseph's ray-driven projector, 1.5 views per pixel of the matrix
///     over 180 degrees, detector bins of one pixel);
///  3. a polychromatic transmission over five energies (40-100 keV) of a 100, 120 or 140 kV spectrum, with the
///     attenuation coefficients of water and cortical bone (NIST XCOM / ICRU 44 values);
///  4. quantum noise on the detected counts (Poisson, Gaussian approximation; photon starvation clamps at one
///     count), with the tube output set per case so that the noise at the centre of the slice through the
///     ventricles is 2.5-5.5 HU at 5 mm, scaled by sqrt(5 mm / thickness);
///  5. the scanner's water beam-hardening linearisation, and a bone correction that removes only a case-specific
///     60-95 % of the bone beam-hardening error (the rest shows as dark streaks between dense bones and a
///     brighter brain next to the skull);
///  6. filtered back-projection with a Ram-Lak ramp apodised by a three-tap smoothing (a soft-tissue kernel of
///     case-specific sharpness), linear interpolation in the back-projection;
///  7. HU = 1000 (mu / mu_water - 1) with the spectrum's effective water attenuation.
/// Motion: in 10 % of cases, 1-2 slices see the head shifted by 1-4 mm for the views after a random point of the
/// rotation (inconsistent projections: streaks and a double edge).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/data/phantom_indep/case.hpp"
#include "ichseg/data/random.hpp"

namespace ichseg::data::indep {

/// Energies (keV) and mass attenuation coefficients (cm^2 / g): water (NIST XCOM) and cortical bone (ICRU 44,
/// density 1.92 g / cm^3).
inline constexpr std::array<double, 5> kEnergy{40, 50, 60, 80, 100};
inline constexpr std::array<double, 5> kMuRhoWater{0.2683, 0.2269, 0.2059, 0.1837, 0.1707};
inline constexpr std::array<double, 5> kMuRhoBone{0.6655, 0.4242, 0.3148, 0.2229, 0.1855};
inline constexpr double kBoneDensity = 1.92;

/// Detected-signal weights of the five energies for a filtered tube spectrum at `kvp` (100, 120 or 140).
inline std::array<double, 5> spectrum_weights(double kvp) {
    if (kvp < 110) return {0.16, 0.30, 0.28, 0.20, 0.06};
    if (kvp < 130) return {0.10, 0.22, 0.27, 0.27, 0.14};
    return {0.06, 0.17, 0.24, 0.30, 0.23};
}

/// A single-channel slice map (n x n, row-major).
using Map = std::vector<float>;

/// Joseph's projector: line integrals (map units x mm) of two maps `m0`, `m1` (n x n, pixel `ps` mm; the same
/// interpolation weights) for `nv` views over 180 degrees and `nb` bins of `ps` mm centred on the image centre.
/// Views [v0, v1) only; `s0`, `s1` are nv x nb.
inline void joseph_project(const Map& m0, const Map& m1, int64_t n, double ps, int64_t nv, int64_t nb, int64_t v0,
                           int64_t v1, std::vector<double>& s0, std::vector<double>& s1) {
    const double c = 0.5 * static_cast<double>(n - 1), cb = 0.5 * static_cast<double>(nb - 1);
    for (int64_t a = v0; a < v1; ++a) {
        const double th = 3.14159265358979 * static_cast<double>(a) / static_cast<double>(nv);
        const double ct = std::cos(th), st = std::sin(th);
        const bool by_rows = std::fabs(ct) >= std::fabs(st);
        // along the stepping axis u (rows or columns), the other coordinate is t / d0 - u * d1 / d0
        const double d0 = by_rows ? ct : st, d1 = by_rows ? st : ct;
        const double inv = 1.0 / d0, w = ps / std::fabs(d0);
        for (int64_t k = 0; k < nb; ++k) {
            const double t = static_cast<double>(k) - cb;  // in pixels
            // the samples run over u in [0, n); keep the ones whose other coordinate lies in [0, n - 1]
            double acc0 = 0, acc1 = 0;
            // x(u) = A - B u must lie in [-1, n): the u interval follows from the line
            const double A = (t + c * d1) * inv + c, B = d1 * inv;
            int64_t ulo = 0, uhi = n - 1;
            if (std::fabs(B) > 1e-12) {
                const double ua = (A + 1) / B, ub = (A - static_cast<double>(n)) / B;
                ulo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(std::min(ua, ub))) - 1);
                uhi = std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(std::max(ua, ub))) + 1);
            } else if (A < -1 || A >= static_cast<double>(n)) {
                ulo = 1;
                uhi = 0;
            }
            for (int64_t u = ulo; u <= uhi; ++u) {
                const double x = A - B * static_cast<double>(u);
                if (x < -1 || x >= static_cast<double>(n)) continue;
                const auto i0 = static_cast<int64_t>(std::floor(x));
                const double f = x - static_cast<double>(i0);
                const int64_t o0 = by_rows ? u * n + i0 : i0 * n + u, step = by_rows ? 1 : n;
                if (i0 >= 0) {
                    acc0 += (1 - f) * m0[static_cast<size_t>(o0)];
                    acc1 += (1 - f) * m1[static_cast<size_t>(o0)];
                }
                if (i0 + 1 < n) {
                    acc0 += f * m0[static_cast<size_t>(o0 + step)];
                    acc1 += f * m1[static_cast<size_t>(o0 + step)];
                }
            }
            s0[static_cast<size_t>(a * nb + k)] = acc0 * w;
            s1[static_cast<size_t>(a * nb + k)] = acc1 * w;
        }
    }
}

/// The map displaced by (dx, dy) pixels (bilinear, zero outside).
inline Map shifted(const Map& m, int64_t n, double dx, double dy) {
    Map o(m.size(), 0.f);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < n; ++i) {
            const double x = static_cast<double>(i) - dx, y = static_cast<double>(j) - dy;
            const auto x0 = static_cast<int64_t>(std::floor(x)), y0 = static_cast<int64_t>(std::floor(y));
            const double fx = x - static_cast<double>(x0), fy = y - static_cast<double>(y0);
            double v = 0;
            for (int c = 0; c < 4; ++c) {
                const int64_t xi = x0 + (c & 1), yi = y0 + (c >> 1);
                if (xi < 0 || yi < 0 || xi >= n || yi >= n) continue;
                v += ((c & 1) ? fx : 1 - fx) * ((c >> 1) ? fy : 1 - fy) * m[static_cast<size_t>(yi * n + xi)];
            }
            o[static_cast<size_t>(j * n + i)] = static_cast<float>(v);
        }
    return o;
}

struct SliceMotionB {
    int64_t slice = -1;
    double view_fraction = 0.5;  ///< views after this fraction of the rotation see the moved head
    double dx_mm = 0, dy_mm = 0;
};

class ScannerB {
public:
    /// Draw the scanner of a case (all draws happen whatever `physics`).
    ScannerB(Rng& rng, const IndepParams& prm, int64_t n, double ps, double thickness, int64_t nz) : n_(n), ps_(ps) {
        const double u = rng.uniform();
        kvp_ = u < 0.2 ? 100 : (u < 0.85 ? 120 : 140);
        noise_hu_5mm_ = rng.uniform(2.5, 5.5);
        bone_corr_ = rng.uniform(0.6, 0.95);
        apod_ = rng.uniform(0.05, 0.12);
        const bool moves = rng.bernoulli(0.1);
        const int64_t nm = rng.randint(1, 2);
        for (int64_t i = 0; i < nm; ++i) {
            SliceMotionB m;
            m.slice = rng.randint(0, std::max<int64_t>(0, nz - 1));
            m.view_fraction = rng.uniform(0.3, 0.8);
            const double d = rng.uniform(1, 4), a = rng.uniform(0, 6.283185307179586);
            m.dx_mm = d * std::cos(a);
            m.dy_mm = d * std::sin(a);
            if (moves) motion_.push_back(m);
        }
        noise_hu_ = noise_hu_5mm_ * std::sqrt(5.0 / thickness) / std::sqrt(prm.dose);
        const auto wts = spectrum_weights(kvp_);
        for (size_t e = 0; e < 5; ++e) {
            w_[e] = wts[e];
            muw_[e] = kMuRhoWater[e] / 10.0;                  // 1 / mm (water density 1)
            mub_[e] = kMuRhoBone[e] * kBoneDensity / 10.0;    // 1 / mm
            muw_eff_ += w_[e] * muw_[e];
            mub_eff_ += w_[e] * mub_[e];
        }
        nv_ = (3 * n) / 2;
        nb_ = static_cast<int64_t>(std::ceil(static_cast<double>(n) * 1.4143)) + 4;
        // water linearisation table: polychromatic p of water thickness L (0.25 mm steps up to 500 mm)
        for (int i = 0; i <= 2000; ++i) pw_.push_back(poly_p(0.25 * i, 0));
        // the ramp filter (Ram-Lak, dimensionless taps), apodised by [a, 1 - 2a, a]
        const int64_t K = nb_;
        std::vector<double> h(static_cast<size_t>(2 * K + 1), 0.0);
        for (int64_t k = -K; k <= K; ++k) {
            double v = 0;
            if (k == 0) v = 0.25;
            else if (k % 2 != 0) v = -1.0 / (3.14159265358979 * 3.14159265358979 * static_cast<double>(k * k));
            h[static_cast<size_t>(k + K)] = v;
        }
        filt_.assign(h.size(), 0.0);
        for (size_t i = 0; i < h.size(); ++i) {
            filt_[i] += (1 - 2 * apod_) * h[i];
            if (i > 0) filt_[i] += apod_ * h[i - 1];
            if (i + 1 < h.size()) filt_[i] += apod_ * h[i + 1];
        }
        for (double v : filt_) filt_sq_ += v * v;
    }

    double kvp() const { return kvp_; }
    double noise_target_hu() const { return noise_hu_; }
    const std::vector<SliceMotionB>& motion() const { return motion_; }

    /// Set the tube output from a reference slice (the slice through the ventricles): the noise at its centre is
    /// `noise_target_hu` (photons ~ thickness, dose). See the file comment, step 4.
    void calibrate(const Map& w, const Map& b) {
        std::vector<double> sw(static_cast<size_t>(nv_ * nb_)), sb(sw.size());
        joseph_project(w, b, n_, ps_, nv_, nb_, 0, nv_, sw, sb);
        double pc = 0;
        int cnt = 0;
        const int64_t mid = nb_ / 2;
        for (int64_t a = 0; a < nv_; a += std::max<int64_t>(1, nv_ / 16)) {
            pc += poly_p(sw[static_cast<size_t>(a * nb_ + mid)], sb[static_cast<size_t>(a * nb_ + mid)]);
            ++cnt;
        }
        pc /= std::max(1, cnt);
        // var(mu) ~ (pi / nv)^2 nv sum(filter^2) var(p) / dt^2 x 2/3 (linear interpolation), var(p) = e^p / I0
        const double sig_mu = noise_hu_ / 1000.0 * muw_eff_;
        const double dt = ps_;
        I0_ = 3.14159265358979 * 3.14159265358979 * filt_sq_ * (2.0 / 3.0) * std::exp(pc) /
              (static_cast<double>(nv_) * dt * dt * sig_mu * sig_mu);
    }

    /// Reconstruct one slice (HU, n x n, row-major) from its material maps. `motion` may be null.
    std::vector<float> reconstruct(const Map& w, const Map& b, const SliceMotionB* motion, uint64_t seed,
                                   int64_t slice) const {
        const size_t ns = static_cast<size_t>(nv_ * nb_);
        std::vector<double> sw(ns), sb(ns);
        int64_t vm = nv_;
        if (motion) vm = std::clamp<int64_t>(static_cast<int64_t>(motion->view_fraction * nv_), 0, nv_);
        joseph_project(w, b, n_, ps_, nv_, nb_, 0, vm, sw, sb);
        if (vm < nv_) {
            const Map w2 = shifted(w, n_, motion->dx_mm / ps_, motion->dy_mm / ps_);
            const Map b2 = shifted(b, n_, motion->dx_mm / ps_, motion->dy_mm / ps_);
            joseph_project(w2, b2, n_, ps_, nv_, nb_, vm, nv_, sw, sb);
        }
        // detected counts -> log -> water linearisation -> partial bone correction
        Rng rng(seed, stream_id(0xb5ca77, static_cast<uint64_t>(slice)));
        std::vector<double> p(ns);
        for (size_t i = 0; i < ns; ++i) {
            const double ideal = poly_p(sw[i], sb[i]);
            double pm = ideal;
            if (I0_ > 0) {
                const double lam = I0_ * std::exp(-ideal);
                const double cnt = std::max(1.0, lam + std::sqrt(lam) * rng.normal());
                pm = -std::log(cnt / I0_);
            }
            const double lin = linearise(pm);
            const double err = linearise(ideal) - (muw_eff_ * sw[i] + mub_eff_ * sb[i]);
            p[i] = lin - bone_corr_ * err;
        }
        // filter each view
        std::vector<double> q(ns, 0.0);
        const int64_t K = nb_;
        for (int64_t a = 0; a < nv_; ++a) {
            const double* pr = p.data() + a * nb_;
            double* qr = q.data() + a * nb_;
            for (int64_t t = 0; t < nb_; ++t) {
                double acc = 0;
                for (int64_t j = 0; j < nb_; ++j) acc += pr[j] * filt_[static_cast<size_t>(t - j + K)];
                qr[t] = acc / ps_;  // taps are per bin^2; one bin = ps mm
            }
        }
        // back-project
        std::vector<float> out(static_cast<size_t>(n_ * n_));
        const double c = 0.5 * static_cast<double>(n_ - 1), cb = 0.5 * static_cast<double>(nb_ - 1);
        std::vector<double> cs(static_cast<size_t>(nv_)), sn(static_cast<size_t>(nv_));
        for (int64_t a = 0; a < nv_; ++a) {
            const double th = 3.14159265358979 * static_cast<double>(a) / static_cast<double>(nv_);
            cs[static_cast<size_t>(a)] = std::cos(th);
            sn[static_cast<size_t>(a)] = std::sin(th);
        }
        const double scale = 3.14159265358979 / static_cast<double>(nv_);
        for (int64_t j = 0; j < n_; ++j)
            for (int64_t i = 0; i < n_; ++i) {
                const double x = static_cast<double>(i) - c, y = static_cast<double>(j) - c;
                double acc = 0;
                for (int64_t a = 0; a < nv_; ++a) {
                    const double t = x * cs[static_cast<size_t>(a)] + y * sn[static_cast<size_t>(a)] + cb;
                    const auto k0 = static_cast<int64_t>(std::floor(t));
                    const double f = t - static_cast<double>(k0);
                    const double* qr = q.data() + a * nb_;
                    if (k0 >= 0 && k0 + 1 < nb_) acc += (1 - f) * qr[k0] + f * qr[k0 + 1];
                }
                const double mu = acc * scale;
                out[static_cast<size_t>(j * n_ + i)] =
                    static_cast<float>(std::clamp(1000.0 * (mu / muw_eff_ - 1.0), -1024.0, 3071.0));
            }
        return out;
    }

    /// HU of a material (w, b) without the scanner (effective energy): for `physics` = false.
    double nominal_hu(double w, double b) const { return 1000.0 * ((muw_eff_ * w + mub_eff_ * b) / muw_eff_ - 1.0); }

private:
    /// Polychromatic log attenuation of Lw mm water-equivalent and Lb mm of cortical bone.
    double poly_p(double lw, double lb) const {
        double I = 0;
        for (size_t e = 0; e < 5; ++e) I += w_[e] * std::exp(-(muw_[e] * lw + mub_[e] * lb));
        return -std::log(std::max(I, 1e-300));
    }
    /// Water linearisation: mu_water_eff x the water thickness whose polychromatic p equals `pm`.
    double linearise(double pm) const {
        if (pm <= 0) return pm;  // below zero (noise in air): the curve's slope at 0 is mu_water_eff
        const auto it = std::lower_bound(pw_.begin(), pw_.end(), pm);
        if (it == pw_.end()) return muw_eff_ * 0.25 * static_cast<double>(pw_.size() - 1) * pm / pw_.back();
        const size_t i = static_cast<size_t>(it - pw_.begin());
        if (i == 0) return 0;
        const double f = (pm - pw_[i - 1]) / (pw_[i] - pw_[i - 1]);
        return muw_eff_ * 0.25 * (static_cast<double>(i - 1) + f);
    }

    int64_t n_ = 0, nv_ = 0, nb_ = 0;
    double ps_ = 1;
    double kvp_ = 120, noise_hu_5mm_ = 5, noise_hu_ = 5, bone_corr_ = 0.8, apod_ = 0.2;
    std::array<double, 5> w_{}, muw_{}, mub_{};
    double muw_eff_ = 0, mub_eff_ = 0;
    double I0_ = 0;
    std::vector<double> pw_, filt_;
    double filt_sq_ = 0;
    std::vector<SliceMotionB> motion_;
};

}  // namespace ichseg::data::indep
