/// @file acquisition.hpp (data/phantom)
/// @brief How one case is scanned: the reconstruction field of view, the slab of slices (count, spacing, where it
/// starts), the head's pose in the scanner (yaw / pitch / roll, offset), an optional gantry tilt, and the affine
/// that follows (a standard axial DICOM acquisition converted to RAS: column index towards patient left, row index
/// towards posterior, so row 0 is anterior; the tilt shears it). Then the scanner's image formation after
/// sampling: in-plane blur (the PSF) and spatially correlated noise.
/// The random draws happen in two steps, in the generator's order: the geometry before the lesions (which are
/// placed inside the slab), the scanner after them.
#pragma once

#include <algorithm>
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

/// Field of view, slab, pose and affine of one case.
struct Geometry {
    int64_t n = 0;        ///< nx = ny
    int64_t nz = 0;       ///< slices
    double ps = 0;        ///< pixel size (mm)
    double dz = 0;        ///< slice spacing (mm)
    double z0 = 0, z1 = 0;  ///< height of the first and last slice centre (patient mm, before the pose)
    double off_x = 0, off_y = 0;  ///< head offset in the field of view (mm)
    double R[3][3] = {};  ///< head rotation Rz(yaw) Rx(pitch) Ry(roll)
    io::Affine affine;    ///< voxel index -> world mm (RAS)

    /// Patient coordinates of a world point: R^T (world - offset).
    V3 to_patient(V3 w) const {
        const V3 q{w.x - off_x, w.y - off_y, w.z};
        return V3{R[0][0] * q.x + R[1][0] * q.y + R[2][0] * q.z, R[0][1] * q.x + R[1][1] * q.y + R[2][1] * q.z,
                  R[0][2] * q.x + R[1][2] * q.y + R[2][2] * q.z};
    }
};

/// Draw the geometry of a case with head `H`.
inline Geometry draw_geometry(Rng& rng, const PhantomParams& prm, const HeadModel& H) {
    Geometry g;
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
    double T[3][3];
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            T[a][b] = 0;
            for (int c = 0; c < 3; ++c) T[a][b] += Rx[a][c] * Ry[c][b];
        }
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            g.R[a][b] = 0;
            for (int c = 0; c < 3; ++c) g.R[a][b] += Rz[a][c] * T[c][b];
        }
    // affine (RAS): column i -> patient left (-x), row j -> posterior (-y), slice k -> superior, tilt shears y
    const double tilt = prm.gantry_tilt_deg * 3.14159265358979 / 180;
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
    g.ps = ps;
    g.dz = dz;
    g.z0 = z0;
    g.z1 = z1;
    g.off_x = off_x;
    g.off_y = off_y;
    return g;
}

/// The scanner's image formation: Gaussian PSF (sigma in mm) and the noise level (HU).
struct Scanner {
    double noise_sd = 0;
    double psf_sigma_mm = 0;
};

/// Drawn after the lesions.
inline Scanner draw_scanner(Rng& rng, const PhantomParams& prm) {
    Scanner s;
    s.noise_sd = prm.noise_sd >= 0 ? prm.noise_sd : rng.uniform(3, 7);
    s.psf_sigma_mm = rng.uniform(0.35, 0.6);
    return s;
}

/// Blur each slice of `ct` (n x n, pixel size `ps` mm) in-plane with the PSF, then add noise correlated over
/// ~0.8 pixel with standard deviation `noise_sd`, and clamp to the CT range [-1024, 3071] HU. The noise of voxel
/// i is a pure function of (seed, i).
inline void blur_and_noise(io::Volume& ct, const Scanner& sc, double ps, uint64_t seed) {
    const int64_t nz = ct.nz(), n = ct.nx(), plane = n * n;
    const double sig_px = std::max(0.35, sc.psf_sigma_mm / ps);
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
    const double nscale = sc.noise_sd / nk2;  // separable: std after 2 passes = sigma * sum(k^2)
    const uint64_t noise_stream = stream_id(seed, 0x7015e);
    parallel_for(nz, [&](int64_t kz) {
        float* px = ct.voxels.data() + kz * plane;
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
            const double v = a[static_cast<size_t>(i)] + nscale * noise[static_cast<size_t>(i)];
            px[i] = static_cast<float>(std::clamp(v, -1024.0, 3071.0));
        }
    });
}

}  // namespace ichseg::data::phantom
