/// @file generate.hpp (data/phantom_indep)
/// @brief Family B end to end: `generate_indep_phantom(params, seed)` draws the head (head.hpp), the pose, the
/// slab, the hemorrhages (bleed.hpp) and the scanner (scanner.hpp) from one random stream, samples each voxel's
/// material at 2 x 2 in-plane points (pixels over 0.6 mm) times one point per 1.7 mm of thickness, derives the
/// masks (hemorrhage and cavity where at least half of the samples are) and the labels, and reconstructs the CT
/// through the scanner. Deterministic in (params, seed).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ichseg/core/parallel.hpp"
#include "ichseg/data/phantom_indep/bleed.hpp"
#include "ichseg/data/phantom_indep/case.hpp"
#include "ichseg/data/phantom_indep/head.hpp"
#include "ichseg/data/phantom_indep/scanner.hpp"
#include "ichseg/data/random.hpp"

namespace ichseg::data::indep {

namespace detail {

/// World z range (mm) of the cranial cavity's floor and vertex for head H posed by R (head frame -> world).
inline void cranial_z_range(const IndepHead& H, const Rot& R, double& lo, double& hi) {
    const double s = H.scale();
    lo = 1e9;
    hi = -1e9;
    for (double x = -40 * s; x <= 40 * s; x += 10 * s)
        for (double y = -0.9 * H.back(); y <= 0.9 * H.front(); y += 10 * s) {
            lo = std::min(lo, R.apply(Vec{x, y, H.floor_z(x, y)}).z);
        }
    for (double x = -20 * s; x <= 20 * s; x += 10 * s)
        for (double y = -30 * s; y <= 30 * s; y += 10 * s) hi = std::max(hi, R.apply(Vec{x, y, H.top()}).z);
}

}  // namespace detail

/// One draw of a case (`attempt` selects the random stream).
inline IndepCase generate_indep_attempt(const IndepParams& prm, uint64_t seed, uint64_t attempt) {
    check_params(prm);
    Rng rng(seed, stream_id(0x1d3b, 2, attempt));
    const IndepHead H(rng);
    const double s = H.scale(), deg = 3.14159265358979 / 180;
    // acquisition geometry and pose
    const int64_t n = prm.size;
    const double fov_draw = rng.uniform(210, 250);
    const double fov = prm.fov_mm > 0 ? prm.fov_mm : fov_draw;
    const double ps = fov / static_cast<double>(n);
    const bool five = rng.bernoulli(0.5), thin = rng.bernoulli(0.5);
    const double thick = prm.thickness_mm > 0 ? prm.thickness_mm : (five ? 5.0 : (thin ? 2.5 : 3.75));
    const Vec omega{rng.uniform(-10, 22) * deg, std::clamp(rng.normal(0, 4), -9.0, 9.0) * deg,
                    std::clamp(rng.normal(0, 4), -9.0, 9.0) * deg};
    const Rot R = Rot::axis_angle(omega);
    const double room_x = std::max(0.0, 0.5 * fov - H.half_width() - 4);
    const double room_y = std::max(0.0, 0.5 * fov - std::max(H.front(), H.back()) - 4);
    const double tx = std::clamp(rng.uniform(-10, 10), -room_x, room_x);
    const double ty = std::clamp(rng.uniform(-10, 10), -room_y, room_y);
    double zlo, zhi;
    detail::cranial_z_range(H, R, zlo, zhi);
    zlo -= 6;
    zhi += 2;
    int64_t nz = prm.slices;
    const double slab_centre = R.apply(Vec{0, 0, rng.uniform(-2, 14) * s}).z;
    double z0;
    if (nz == 0) {
        nz = static_cast<int64_t>(std::ceil((zhi - zlo) / thick)) + 1;
        z0 = zlo;
    } else {
        z0 = slab_centre - 0.5 * static_cast<double>(nz - 1) * thick;
    }
    const Vec gravity = R.apply_t(Vec{0, -1, 0});
    // hemorrhages, scanner
    std::vector<Bleed> bleeds;
    for (IchSubtype t : draw_kinds(rng, prm)) bleeds.push_back(draw_bleed(rng, t, H, gravity));
    ScannerB scanner(rng, prm, n, ps, thick, nz);

    IndepCase out;
    out.seed = seed;
    out.kvp = scanner.kvp();
    out.noise_target_hu = prm.physics ? scanner.noise_target_hu() : 0;
    out.thickness_mm = thick;
    out.pixel_mm = ps;
    out.ct = io::Volume::zeros(nz, n, n);
    io::Affine& A = out.ct.affine;
    A(0, 0) = -ps;
    A(1, 1) = -ps;
    A(2, 2) = thick;
    A(0, 3) = ps * static_cast<double>(n - 1) / 2;
    A(1, 3) = ps * static_cast<double>(n - 1) / 2;
    A(2, 3) = z0;
    out.ct.spacing = A.spacing();
    out.ich = out.ct.like<uint8_t>();
    out.brain = out.ct.like<uint8_t>();
    out.subtype_bits = out.ct.like<uint8_t>();

    // sample the materials
    const int ss = ps > 0.6 ? 2 : 1;
    const int sz = std::max(1, static_cast<int>(std::ceil(thick / 1.7)));
    const int nsub = ss * ss * sz;
    const int64_t plane = n * n;
    std::vector<Map> wmap(static_cast<size_t>(nz)), bmap(static_cast<size_t>(nz));
    parallel_for(nz, [&](int64_t k) {
        Map W(static_cast<size_t>(plane)), B(static_cast<size_t>(plane));
        uint8_t* im = out.ich.voxels.data() + k * plane;
        uint8_t* bm = out.brain.voxels.data() + k * plane;
        uint8_t* sb = out.subtype_bits.voxels.data() + k * plane;
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < n; ++i) {
                double aw = 0, ab = 0;
                int ncav = 0, nblood = 0;
                uint8_t bits = 0;
                for (int a = 0; a < sz; ++a)
                    for (int v = 0; v < ss; ++v)
                        for (int u = 0; u < ss; ++u) {
                            const double fi = static_cast<double>(i) + (u + 0.5) / ss - 0.5;
                            const double fj = static_cast<double>(j) + (v + 0.5) / ss - 0.5;
                            const double fk = static_cast<double>(k) + (a + 0.5) / sz - 0.5;
                            const auto w = A.apply(fi, fj, fk);
                            const Vec p = R.apply_t(Vec{w[0] - tx, w[1] - ty, w[2]});
                            Material m = H.at(p);
                            if (m.cavity) {
                                ++ncav;
                                uint8_t here = 0;
                                double hu = 0, oedema_hu = 0;
                                bool any_oedema = false;
                                for (const Bleed& bl : bleeds) {
                                    double h;
                                    bool oed;
                                    if (bl.contains(H, p, m, h, oed)) {
                                        here |= static_cast<uint8_t>(1u << static_cast<int>(bl.type));
                                        hu = h;
                                    } else if (oed) {
                                        any_oedema = true;
                                        oedema_hu = h;
                                    }
                                }
                                if (here) {
                                    ++nblood;
                                    bits |= here;
                                    m.w = 1 + hu / 1000;
                                    m.b = 0;
                                } else if (any_oedema) {
                                    m.w = 1 + oedema_hu / 1000;
                                    m.b = 0;
                                }
                            }
                            aw += m.w;
                            ab += m.b;
                        }
                const int64_t idx = j * n + i;
                W[static_cast<size_t>(idx)] = static_cast<float>(aw / nsub);
                B[static_cast<size_t>(idx)] = static_cast<float>(ab / nsub);
                bm[idx] = 2 * ncav >= nsub ? 1 : 0;
                if (2 * nblood >= nsub && bm[idx]) {
                    im[idx] = 1;
                    sb[idx] = bits;
                }
            }
        wmap[static_cast<size_t>(k)] = std::move(W);
        bmap[static_cast<size_t>(k)] = std::move(B);
    });

    // the scanner
    if (prm.physics) {
        const double zref = R.apply(Vec{0, 0, 10 * s}).z;
        const int64_t kref = std::clamp<int64_t>(static_cast<int64_t>(std::lround((zref - z0) / thick)), 0, nz - 1);
        scanner.calibrate(wmap[static_cast<size_t>(kref)], bmap[static_cast<size_t>(kref)]);
        parallel_for(nz, [&](int64_t k) {
            const SliceMotionB* mo = nullptr;
            for (const auto& m : scanner.motion())
                if (m.slice == k) mo = &m;
            const std::vector<float> hu = scanner.reconstruct(wmap[static_cast<size_t>(k)], bmap[static_cast<size_t>(k)], mo, seed, k);
            std::copy(hu.begin(), hu.end(), out.ct.voxels.data() + k * plane);
        });
    } else {
        for (int64_t k = 0; k < nz; ++k)
            for (int64_t i = 0; i < plane; ++i)
                out.ct.voxels.data()[k * plane + i] = static_cast<float>(std::clamp(
                    scanner.nominal_hu(wmap[static_cast<size_t>(k)][static_cast<size_t>(i)],
                                       bmap[static_cast<size_t>(k)][static_cast<size_t>(i)]), -1024.0, 3071.0));
    }

    // labels
    out.slice_labels.assign(static_cast<size_t>(nz), IchLabels::negative());
    out.labels = IchLabels::negative();
    std::array<int64_t, 5> count{};
    for (int64_t k = 0; k < nz; ++k) {
        IchLabels l = IchLabels::negative();
        for (int64_t i = 0; i < plane; ++i) {
            if (!out.ich.voxels.data()[k * plane + i]) continue;
            l.any = 1;
            const uint8_t b = out.subtype_bits.voxels.data()[k * plane + i];
            for (int t = 0; t < io::kNumSubtypes; ++t)
                if (b & (1u << t)) {
                    l.subtype[static_cast<size_t>(t)] = 1;
                    ++count[static_cast<size_t>(t)];
                }
        }
        out.slice_labels[static_cast<size_t>(k)] = l;
        out.labels.merge(l);
    }
    const double vox_ml = ps * ps * thick / 1000;
    for (const Bleed& b : bleeds) {
        IndepLesion L;
        L.type = b.type;
        L.kind = b.kind;
        L.hu = b.hu;
        L.volume_ml = static_cast<double>(count[static_cast<size_t>(b.type)]) * vox_ml;
        out.lesions.push_back(L);
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "family B: %lldx%lldx%lld at %.3fx%.3fx%.2f mm, %.0f kV, noise %.1f HU, ",
                  static_cast<long long>(n), static_cast<long long>(n), static_cast<long long>(nz), ps, ps, thick,
                  out.kvp, out.noise_target_hu);
    out.description = buf + out.labels.str();
    out.ct.source.format = "phantom_indep";
    out.ct.source.path = "phantom_indep:" + std::to_string(seed);
    return out;
}

/// Draw one family-B case. Deterministic in (params, seed). When hemorrhage is requested (ich = 1 or `subtypes`)
/// and the masks miss a requested kind (a lesion outside the slab or thinner than half a voxel), the case is
/// redrawn (up to 8 times); the labels always come from the final masks.
inline IndepCase generate_indep_phantom(const IndepParams& prm, uint64_t seed) {
    IndepCase c;
    for (uint64_t attempt = 0; attempt < 8; ++attempt) {
        c = generate_indep_attempt(prm, seed, attempt);
        bool ok = true;
        if (prm.subtypes != 0) {
            for (int t = 0; t < io::kNumSubtypes; ++t)
                if ((prm.subtypes & (1u << t)) && c.labels.subtype[static_cast<size_t>(t)] != 1) ok = false;
        } else if (prm.ich == 1 && c.labels.any != 1) {
            ok = false;
        }
        if (ok) break;
    }
    return c;
}

}  // namespace ichseg::data::indep
