/// @file acquisition.hpp (data/phantom)
/// @brief How one case is scanned: the reconstruction field of view, the slab of slices (count, spacing, where it
/// starts), the head's pose in the scanner (yaw / pitch / roll, offset), an optional gantry tilt, a possible
/// movement of the head between slices, and the affine that follows (a standard axial DICOM acquisition converted
/// to RAS: column index towards patient left, row index towards posterior, so row 0 is anterior; the tilt shears
/// it). Then the scanner: tube voltage (bone HU) and calibration offset (`Scanner::transfer`, applied to every
/// point sample), and after sampling motion during slices (ghost, streaks), in-plane blur (the PSF) and spatially
/// correlated noise whose level follows the slice thickness and the attenuation of each slice.
/// The random draws happen in two steps, in the generator's order: the geometry before the lesions (which are
/// placed inside the slab), the scanner after them.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/data/phantom/anatomy.hpp"
#include "ichseg/data/phantom/common.hpp"
#include "ichseg/data/phantom/params.hpp"
#include "ichseg/io/volume.hpp"

namespace ichseg::data::phantom {

/// A rigid motion of the head (patient frame): p' = Rm^T (p - t), about the head centre.
struct HeadMotion {
    double R[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    V3 t{0, 0, 0};
    V3 apply_inverse(V3 p) const {
        const V3 q = p - t;
        return V3{R[0][0] * q.x + R[1][0] * q.y + R[2][0] * q.z, R[0][1] * q.x + R[1][1] * q.y + R[2][1] * q.z,
                  R[0][2] * q.x + R[1][2] * q.y + R[2][2] * q.z};
    }
};

/// Rotation matrix Rz(yaw) Rx(pitch) Ry(roll) (radians).
inline void rotation_zxy(double yaw, double pitch, double roll, double out[3][3]) {
    const double cy = std::cos(yaw), sy = std::sin(yaw), cp = std::cos(pitch), sp = std::sin(pitch), cr = std::cos(roll),
                 sr = std::sin(roll);
    const double Rz[3][3] = {{cy, -sy, 0}, {sy, cy, 0}, {0, 0, 1}};
    const double Rx[3][3] = {{1, 0, 0}, {0, cp, -sp}, {0, sp, cp}};
    const double Ry[3][3] = {{cr, 0, sr}, {0, 1, 0}, {-sr, 0, cr}};
    double T[3][3];
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            T[a][b] = 0;
            for (int c = 0; c < 3; ++c) T[a][b] += Rx[a][c] * Ry[c][b];
        }
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            out[a][b] = 0;
            for (int c = 0; c < 3; ++c) out[a][b] += Rz[a][c] * T[c][b];
        }
}

/// Field of view, slab, pose and affine of one case.
struct Geometry {
    int64_t n = 0;        ///< nx = ny
    int64_t nz = 0;       ///< slices
    double fov = 0;       ///< reconstruction field of view (mm)
    double ps = 0;        ///< pixel size (mm)
    double dz = 0;        ///< slice spacing (mm)
    double z0 = 0, z1 = 0;  ///< height of the first and last slice centre (patient mm, before the pose)
    double off_x = 0, off_y = 0;  ///< head offset in the field of view (mm)
    double yaw = 0, pitch = 0, roll = 0;  ///< radians
    double R[3][3] = {};  ///< head rotation Rz(yaw) Rx(pitch) Ry(roll)
    int64_t motion_from = -1;  ///< between-slice motion: slices >= motion_from see the head moved by `motion`
    HeadMotion motion;
    io::Affine affine;    ///< voxel index -> world mm (RAS)

    /// Patient coordinates of a world point: R^T (world - offset).
    V3 to_patient(V3 w) const {
        const V3 q{w.x - off_x, w.y - off_y, w.z};
        return V3{R[0][0] * q.x + R[1][0] * q.y + R[2][0] * q.z, R[0][1] * q.x + R[1][1] * q.y + R[2][1] * q.z,
                  R[0][2] * q.x + R[1][2] * q.y + R[2][2] * q.z};
    }
    /// Patient coordinates of a world point of slice `kz` (the head may have moved between slices).
    V3 to_patient(V3 w, int64_t kz) const {
        const V3 p = to_patient(w);
        return motion_from >= 0 && kz >= motion_from ? motion.apply_inverse(p) : p;
    }
};

/// Draw the geometry of a case with head `H`: field of view, slice spacing (when random), slab, pose (clinical
/// positioning: the head flexed or extended in the head holder, turned and tilted, off the centre of the field of
/// view but inside it), and with `artefacts` a possible movement of the head between two slices.
inline Geometry draw_geometry(Rng& rng, const PhantomParams& prm, const HeadModel& H) {
    Geometry g;
    const double k = H.scale();
    const int64_t n = prm.size;
    const double fov = prm.fov_mm > 0 ? prm.fov_mm : rng.uniform(200, 260);
    const double ps = fov / static_cast<double>(n);
    double dz = prm.slice_spacing;
    if (dz == 0) {
        static const double choices[4] = {2.5, 3.0, 4.0, 5.0};
        dz = choices[rng.randint(0, 3)];
    }
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
        const double half = 0.5 * static_cast<double>(nz - 1) * dz;
        const double centre = prm.slab_anywhere ? rng.uniform(z_lo_all + half, z_hi_all - half) : rng.uniform(-2, 16) * k;
        z0 = std::clamp(centre - half, z_lo_all, z_hi_all - 2 * half);
    }
    const double z1 = z0 + static_cast<double>(nz - 1) * dz;
    // pose: pitch (flexion of the neck) is the widest, the head rests in the holder turned and tilted a little
    const double j = prm.pose_jitter, deg = 3.14159265358979 / 180;
    const double yaw = rng.uniform(-10, 10) * j * deg, pitch = rng.uniform(-12, 20) * j * deg,
                 roll = rng.uniform(-6, 6) * j * deg;
    // offset: up to 15 mm, but the head stays inside the field of view when it fits (the scan is planned so)
    const double room_x = std::max(0.0, 0.5 * fov - (H.A() + 2)), room_y = std::max(0.0, 0.5 * fov - (H.B() + 2));
    const double off_x = std::clamp(rng.uniform(-15, 15) * j, -room_x, room_x);
    const double off_y = std::clamp(rng.uniform(-15, 15) * j, -room_y, room_y);
    rotation_zxy(yaw, pitch, roll, g.R);
    // affine (RAS): column i -> patient left (-x), row j -> posterior (-y), slice k -> superior, tilt shears y
    const double tilt = prm.gantry_tilt_deg * deg;
    io::Affine& aff = g.affine;
    aff(0, 0) = -ps;
    aff(1, 1) = -ps;
    aff(2, 2) = dz;
    aff(1, 2) = dz * std::tan(tilt);
    aff(0, 3) = ps * static_cast<double>(n - 1) / 2;
    aff(1, 3) = ps * static_cast<double>(n - 1) / 2 - (z0 * std::tan(tilt));
    aff(2, 3) = z0;
    g.n = n;
    g.nz = nz;
    g.fov = fov;
    g.ps = ps;
    g.dz = dz;
    g.z0 = z0;
    g.z1 = z1;
    g.off_x = off_x;
    g.off_y = off_y;
    g.yaw = yaw;
    g.pitch = pitch;
    g.roll = roll;
    // between-slice motion (drawn whatever the flags, so the stream does not depend on them): the head nods or
    // turns by 1-4 degrees and shifts by 1-4 mm between two slices of a sequential acquisition
    const bool moves = rng.bernoulli(0.12);
    const int64_t from = nz > 1 ? rng.randint(1, nz - 1) : 0;
    const double m_ang = rng.uniform(1, 4) * deg * (rng.bernoulli(0.5) ? 1 : -1);
    const int m_axis = static_cast<int>(rng.randint(0, 2));
    const double m_shift = rng.uniform(1, 4), m_dir = rng.uniform(0, 6.283185307179586);
    if (prm.artefacts && moves && nz > 1 && j > 0) {
        g.motion_from = from;
        rotation_zxy(m_axis == 0 ? m_ang : 0, m_axis == 1 ? m_ang : 0, m_axis == 2 ? m_ang : 0, g.motion.R);
        g.motion.t = V3{m_shift * std::cos(m_dir), m_shift * std::sin(m_dir), 0};
    }
    return g;
}

/// Motion of the head during the rotation of one slice: the inconsistent projections leave a displaced copy of
/// the edges (ghost) and straight streaks tangent to the skull.
struct SliceMotion {
    int64_t slice = 0;
    double dx_mm = 0, dy_mm = 0;  ///< displacement of the ghost
    double weight = 0;            ///< share of the projections taken after the movement
    int n_streaks = 0;
    std::array<double, 4> angle{}, offset_mm{}, amp_hu{};  ///< streak direction, distance from the centre, HU
    double streak_sigma_mm = 0.7;
};

/// The scanner's image formation: tube voltage and calibration, Gaussian PSF (sigma in mm), noise level and
/// texture, motion during slices.
struct Scanner {
    double noise_sd = 0;          ///< HU at the case's slice thickness, for a slice of water-equivalent diameter 180 mm
    double psf_sigma_mm = 0;
    double noise_corr_mm = 0.8;   ///< correlation length of the noise (reconstruction kernel)
    double kvp = 120;
    double bone_factor = 1;       ///< (HU - 100) of dense material scales by this at the case's kVp
    double hu_offset = 0;         ///< calibration offset (HU)
    std::vector<SliceMotion> motion;

    /// The HU a material of nominal (120 kVp, calibrated) value `hu` shows on this scanner.
    double transfer(double hu) const {
        if (hu > 100) hu = 100 + (hu - 100) * bone_factor;
        return hu + hu_offset;
    }
};

/// Drawn after the lesions. Every draw happens whatever the flags (the random stream does not depend on them).
inline Scanner draw_scanner(Rng& rng, const PhantomParams& prm, const Geometry& g) {
    Scanner s;
    const double drawn_sd = rng.uniform(2.5, 8);
    const double sd = prm.noise_sd >= 0 ? prm.noise_sd : drawn_sd;
    s.noise_sd = sd * std::sqrt(5.0 / g.dz);  // quantum noise: variance inversely proportional to the thickness
    s.psf_sigma_mm = rng.uniform(0.35, 0.6);
    // added with issue 15
    s.noise_corr_mm = rng.uniform(0.5, 1.5);
    const double u = rng.uniform();
    const double kvp = u < 0.05 ? 80 : (u < 0.25 ? 100 : (u < 0.85 ? 120 : 140));
    const double bf = kvp == 80 ? 1.28 : (kvp == 100 ? 1.12 : (kvp == 140 ? 0.93 : 1.0));
    const double off = rng.uniform(-5, 5);
    const bool moves = rng.bernoulli(0.15);
    const int n_moving = static_cast<int>(rng.randint(1, 3));
    std::vector<SliceMotion> motion;
    for (int i = 0; i < n_moving; ++i) {
        SliceMotion m;
        m.slice = rng.randint(0, g.nz - 1);
        const double d = rng.uniform(1.5, 5), dir = rng.uniform(0, 6.283185307179586);
        m.dx_mm = d * std::cos(dir);
        m.dy_mm = d * std::sin(dir);
        m.weight = rng.uniform(0.2, 0.45);
        m.n_streaks = static_cast<int>(rng.randint(2, 4));
        for (size_t t = 0; t < 4; ++t) {
            m.angle[t] = rng.uniform(0, 3.14159265358979);
            m.offset_mm[t] = rng.uniform(-70, 70);
            m.amp_hu[t] = rng.uniform(15, 50) * (rng.bernoulli(0.5) ? 1 : -1);
        }
        m.streak_sigma_mm = rng.uniform(0.5, 1.0);
        motion.push_back(m);
    }
    if (prm.artefacts) {
        s.kvp = kvp;
        s.bone_factor = bf;
        s.hu_offset = off;
        if (moves && prm.pose_jitter > 0) s.motion = motion;
    }
    return s;
}

/// Bilinear sample of slice `img` (n x n) at continuous pixel (x, y), clamped to the border.
inline double sample_bilinear(const float* img, int64_t n, double x, double y) {
    x = std::clamp(x, 0.0, static_cast<double>(n - 1));
    y = std::clamp(y, 0.0, static_cast<double>(n - 1));
    const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(x), n - 2 < 0 ? 0 : n - 2);
    const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(y), n - 2 < 0 ? 0 : n - 2);
    const int64_t x1 = std::min<int64_t>(x0 + 1, n - 1), y1 = std::min<int64_t>(y0 + 1, n - 1);
    const double fx = x - static_cast<double>(x0), fy = y - static_cast<double>(y0);
    return (1 - fy) * ((1 - fx) * img[y0 * n + x0] + fx * img[y0 * n + x1]) +
           fy * ((1 - fx) * img[y1 * n + x0] + fx * img[y1 * n + x1]);
}

/// Motion during slices (`sc.motion`): each affected slice becomes (1 - w) x itself + w x itself displaced, plus
/// straight streaks across the field of view. Applied to the sampled slice before the PSF and the noise.
inline void motion_artefacts(io::Volume& ct, const Scanner& sc, double ps) {
    const int64_t n = ct.nx(), plane = n * n;
    for (const SliceMotion& m : sc.motion) {
        if (m.slice < 0 || m.slice >= ct.nz()) continue;
        float* px = ct.voxels.data() + m.slice * plane;
        const std::vector<float> orig(px, px + plane);
        const double sx = m.dx_mm / ps, sy = m.dy_mm / ps, c = 0.5 * static_cast<double>(n - 1);
        for (int64_t y = 0; y < n; ++y)
            for (int64_t x = 0; x < n; ++x) {
                const double ghost = sample_bilinear(orig.data(), n, static_cast<double>(x) - sx, static_cast<double>(y) - sy);
                double v = (1 - m.weight) * orig[static_cast<size_t>(y * n + x)] + m.weight * ghost;
                for (int t = 0; t < m.n_streaks; ++t) {
                    const double a = m.angle[static_cast<size_t>(t)];
                    const double dl = (-(static_cast<double>(x) - c) * std::sin(a) + (static_cast<double>(y) - c) * std::cos(a)) * ps -
                                      m.offset_mm[static_cast<size_t>(t)];
                    v += m.amp_hu[static_cast<size_t>(t)] * std::exp(-0.5 * dl * dl / (m.streak_sigma_mm * m.streak_sigma_mm));
                }
                px[y * n + x] = static_cast<float>(v);
            }
    }
}

/// Water-equivalent diameter (mm) of a slice (AAPM report 220): 2 sqrt(A_w / pi), A_w = sum over the pixels above
/// -500 HU of (1 + max(0, HU - 100) / 1000) x pixel area: soft tissue, blood and fluid count as water (they are
/// within ~10 % of it), bone by its excess attenuation. So the noise level does not depend on a hemorrhage.
inline double water_equivalent_diameter(const float* px, int64_t count, double ps) {
    double aw = 0;
    for (int64_t i = 0; i < count; ++i)
        if (px[i] > -500.f) aw += 1.0 + std::max(0.0, px[i] - 100.0) / 1000.0;
    return 2 * std::sqrt(aw * ps * ps / 3.14159265358979);
}

/// The noise of a slice of water-equivalent diameter `wed` (mm) relative to `Scanner::noise_sd` (see
/// blur_and_noise).
inline double noise_slice_factor(double wed) {
    return wed > 0 ? std::clamp(std::exp(0.0095 * (wed - 180.0)), 0.6, 1.8) : 1.0;
}

/// Blur each slice of `ct` (n x n, pixel size `ps` mm) in-plane with the PSF, then add Gaussian noise correlated
/// over `noise_corr_mm`, and clamp to the CT range [-1024, 3071] HU. The noise standard deviation of slice k is
/// `noise_sd` x exp(0.0095 / mm x (WED_k - 180 mm)), clamped to [0.6, 1.8] x `noise_sd`: noise grows with the
/// attenuation of the slice (half the water attenuation coefficient at ~70 keV: sigma ~ 1 / sqrt(photons), photons
/// ~ exp(-mu WED)), so slices through the skull base are noisier than the vertex. The noise of voxel i is a pure
/// function of (seed, i).
inline void blur_and_noise(io::Volume& ct, const Scanner& sc, double ps, uint64_t seed) {
    const int64_t nz = ct.nz(), n = ct.nx(), plane = n * n;
    const double sig_px = std::max(0.35, sc.psf_sigma_mm / ps);
    const int64_t rad = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(2.5 * sig_px)));
    std::vector<double> ker(static_cast<size_t>(2 * rad + 1));
    double ks = 0;
    for (int64_t t = -rad; t <= rad; ++t) ks += ker[static_cast<size_t>(t + rad)] = std::exp(-0.5 * t * t / (sig_px * sig_px));
    for (double& v : ker) v /= ks;
    const double nsig_px = std::clamp(sc.noise_corr_mm / ps, 0.5, 2.5);  // noise correlation length (pixels)
    const int64_t nrad = static_cast<int64_t>(std::ceil(2.5 * nsig_px));
    std::vector<double> nker(static_cast<size_t>(2 * nrad + 1));
    double nks = 0, nk2 = 0;
    for (int64_t t = -nrad; t <= nrad; ++t) nks += nker[static_cast<size_t>(t + nrad)] = std::exp(-0.5 * t * t / (nsig_px * nsig_px));
    for (double& v : nker) {
        v /= nks;
        nk2 += v * v;
    }
    const double nscale = sc.noise_sd / nk2;  // separable: std after 2 passes = sigma * sum(k^2)
    const uint64_t noise_stream = stream_id(seed, 0x7015e);
    parallel_for(nz, [&](int64_t kz) {
        float* px = ct.voxels.data() + kz * plane;
        const double wed = water_equivalent_diameter(px, plane, ps);
        const double slice_scale = noise_slice_factor(wed);
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
        for (int64_t i = 0; i < plane; ++i) a[static_cast<size_t>(i)] = px[i];
        blur(a, ker, rad);
        std::vector<double> noise(static_cast<size_t>(plane));
        for (int64_t i = 0; i < plane; ++i)
            noise[static_cast<size_t>(i)] = random_normal(seed, noise_stream, static_cast<uint64_t>(kz * plane + i));
        blur(noise, nker, nrad);
        for (int64_t i = 0; i < plane; ++i) {
            const double v = a[static_cast<size_t>(i)] + slice_scale * nscale * noise[static_cast<size_t>(i)];
            px[i] = static_cast<float>(std::clamp(v, -1024.0, 3071.0));
        }
    });
}

}  // namespace ichseg::data::phantom
