/// @file generate.hpp (data/phantom)
/// @brief Generation of one phantom: draw the case (head and mimics, geometry, lesions, scanner, in that order
/// from one random stream), sample every voxel at several points (through-plane always, in-plane when voxels are
/// coarse) and average them (partial volume), threshold the sample fractions into the masks, add the motion
/// artefacts, blur and add noise, derive the labels. `generate_phantom` redraws a case whose requested subtype fell outside the slab.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/data/phantom/acquisition.hpp"
#include "ichseg/data/phantom/anatomy.hpp"
#include "ichseg/data/phantom/labels.hpp"
#include "ichseg/data/phantom/lesions.hpp"
#include "ichseg/data/phantom/params.hpp"
#include "ichseg/data/random.hpp"

namespace ichseg::data {
namespace phantom {

/// One point sample at `world` (mm): its HU; `cavity`, the lesion subtype `bits` and `fractured` say what it hit.
inline double sample_point(const HeadModel& H, const Geometry& g, const LesionSet& ls, const Scanner& sc, V3 world,
                           int64_t kz, bool& cavity, uint8_t& bits, bool& fractured) {
    const V3 p = g.to_patient(world, kz);
    Tissue tissue;
    double d_in;
    const Sample s = H.base(p, tissue, d_in);
    double hu = s.hu;
    cavity = s.cavity;
    bits = 0;
    fractured = false;
    if (s.cavity) {
        bits = apply_lesions(ls.lesions, H, p, tissue, d_in, hu);
        hu += H.mimics().beam_hardening(p, d_in);
    } else if (tissue == T_BONE && ls.fracture.on) {
        if (ls.fracture.cuts(p, H.scale())) {
            hu = 45;
            fractured = true;
        }
    } else if (tissue == T_AIR && H.mimics().in_couch(world)) {
        hu = 180;
    }
    return sc.transfer(hu);
}

/// Sample every voxel of `ph` (its CT grid and affine set): the CT is the mean HU of the sub-samples, a voxel is
/// in the cavity / ICH mask when at least half of its sub-samples are. Returns, per slice, whether it shows the
/// fracture.
inline std::vector<uint8_t> sample_voxels(Phantom& ph, const HeadModel& H, const Geometry& g, const LesionSet& ls,
                                          const Scanner& sc) {
    const int64_t n = g.n, nz = g.nz, plane = n * n;
    const io::Affine& aff = g.affine;
    const int ss_xy = std::clamp(static_cast<int>(std::ceil(g.ps / 0.9)), 1, 3);
    const int ss_z = std::clamp(static_cast<int>(std::ceil(g.dz / 1.7)), 1, 5);
    const int nsub = ss_xy * ss_xy * ss_z;
    std::vector<uint8_t> frac_slice(static_cast<size_t>(nz), 0);
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
                            bool cavity, fractured;
                            uint8_t bits;
                            acc += sample_point(H, g, ls, sc, V3{w[0], w[1], w[2]}, kz, cavity, bits, fractured);
                            if (cavity) {
                                if (bits) {
                                    ++n_les;
                                    bits_any |= bits;
                                }
                                ++n_cav;
                            }
                            frac_here = frac_here || fractured;
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
    return frac_slice;
}

/// One draw of a case (`attempt` selects the random stream).
inline Phantom generate_attempt(const PhantomParams& prm, uint64_t seed, uint64_t attempt) {
    check_params(prm);
    Rng rng(seed, stream_id(0x9ea7, 1, attempt));
    // the draw order is part of the output: head (anatomy, then mimics), geometry, lesions, scanner
    const HeadModel H(rng, prm);
    const Geometry g = draw_geometry(rng, prm, H);
    const LesionSet ls = draw_lesions(rng, prm, H, g.z0, g.z1, g.dz);
    const Scanner sc = draw_scanner(rng, prm, g);

    Phantom ph;
    ph.seed = seed;
    ph.ct = io::Volume::zeros(g.nz, g.n, g.n);
    ph.ct.affine = g.affine;
    ph.ct.spacing = g.affine.spacing();
    ph.ich = ph.ct.like<uint8_t>();
    ph.brain = ph.ct.like<uint8_t>();
    ph.subtype_bits = ph.ct.like<uint8_t>();
    const std::vector<uint8_t> frac_slice = sample_voxels(ph, H, g, ls, sc);
    motion_artefacts(ph.ct, sc, g.ps);
    blur_and_noise(ph.ct, sc, g.ps, seed);
    PhantomScan& scan = ph.scan;
    scan.fov_mm = g.fov;
    scan.pixel_mm = g.ps;
    scan.slice_mm = g.dz;
    scan.kvp = sc.kvp;
    scan.hu_offset = sc.hu_offset;
    scan.noise_sd = sc.noise_sd;
    scan.psf_sigma_mm = sc.psf_sigma_mm;
    const double deg = 180 / 3.14159265358979;
    scan.yaw_deg = g.yaw * deg;
    scan.pitch_deg = g.pitch * deg;
    scan.roll_deg = g.roll * deg;
    scan.offset_x_mm = g.off_x;
    scan.offset_y_mm = g.off_y;
    scan.motion_step_slice = g.motion_from;
    for (const auto& m : sc.motion) scan.motion_slices.push_back(m.slice);
    derive_labels(ph, frac_slice, ls.lesions);

    const int64_t n = g.n;
    ph.ct.source.format = "phantom";
    ph.ct.source.path = "phantom:" + std::to_string(seed);
    ph.description = std::to_string(n) + "x" + std::to_string(n) + "x" + std::to_string(g.nz) + " at " +
                     std::to_string(g.ps).substr(0, 5) + "x" + std::to_string(g.ps).substr(0, 5) + "x" +
                     std::to_string(g.dz).substr(0, 5) + " mm, " + ph.labels.str();
    return ph;
}

}  // namespace phantom

/// Draw one phantom. Deterministic in (params, seed). When hemorrhage is requested (ich = 1 or `subtypes`) and a
/// draw leaves a requested subtype outside the slab (no voxel in the mask), the lesions are redrawn (up to 8
/// times); labels always come from the final masks.
inline Phantom generate_phantom(const PhantomParams& prm, uint64_t seed) {
    Phantom ph;
    for (uint64_t attempt = 0; attempt < 8; ++attempt) {
        ph = phantom::generate_attempt(prm, seed, attempt);
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
