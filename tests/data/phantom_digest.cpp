/// @file phantom_digest.cpp
/// @brief Prints an FNV-1a digest of everything `data::generate_phantom` returns (CT voxels bit for bit, the three
/// masks, labels, lesion records, affine, description) for a fixed set of parameter sets and seeds that reaches
/// every branch of the generator (each subtype forced, random cases, no mimics, gantry tilt, lesion scale, fixed
/// field of view, full skull-base-to-vertex coverage, thick and thin slices, one full-size 256 px volume, random slice
/// spacing, artefacts off), plus cases of the independent family (data/phantom_indep.hpp, "B-" lines).
/// A refactoring of the generator must leave the output unchanged: build this program before and after the
/// change (same compiler and flags) and compare the two outputs, e.g.
///   build/tests/data/ichseg_phantom_digest > before.txt; <change>; ...; diff before.txt after.txt
/// The digests depend on the compiler, the flags (-march=native, FMA contraction) and libm, so they are compared
/// between two builds on one machine, not stored as a test expectation.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ichseg/data/phantom.hpp"
#include "ichseg/data/phantom_indep.hpp"

namespace {

using namespace ichseg;

struct Fnv {
    uint64_t h = 1469598103934665603ull;
    void bytes(const void* p, size_t n) {
        const auto* c = static_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
    }
    template <class T>
    void pod(const T& v) { bytes(&v, sizeof v); }
    void str(const std::string& s) { pod(s.size()); bytes(s.data(), s.size()); }
    void labels(const io::IchLabels& l) { pod(l.any); for (auto s : l.subtype) pod(s); }
};

template <class T>
uint64_t tensor_digest(const Tensor<T>& t) {
    Fnv f;
    const Tensor<T> c = t.contiguous();
    for (int64_t d : c.shape()) f.pod(d);
    f.bytes(c.data(), static_cast<size_t>(c.numel()) * sizeof(T));
    return f.h;
}

void print(const char* name, const data::PhantomParams& p, uint64_t seed) {
    const data::Phantom ph = data::generate_phantom(p, seed);
    Fnv meta;
    meta.bytes(ph.ct.affine.m.data(), sizeof(double) * 16);
    for (double s : ph.ct.spacing) meta.pod(s);
    for (const auto& l : ph.slice_labels) meta.labels(l);
    meta.labels(ph.labels);
    meta.bytes(ph.slice_fracture.data(), ph.slice_fracture.size());
    meta.pod(ph.fracture);
    for (const auto& l : ph.lesions) {
        meta.pod(l.type);
        for (double c : l.center) meta.pod(c);
        meta.pod(l.size_mm);
        meta.pod(l.hu);
        meta.str(l.variant);
        meta.pod(l.voxels);
    }
    const data::PhantomScan& sc = ph.scan;
    for (double v : {sc.fov_mm, sc.pixel_mm, sc.slice_mm, sc.kvp, sc.hu_offset, sc.noise_sd, sc.psf_sigma_mm, sc.yaw_deg,
                     sc.pitch_deg, sc.roll_deg, sc.offset_x_mm, sc.offset_y_mm})
        meta.pod(v);
    meta.pod(sc.motion_step_slice);
    for (int64_t k : sc.motion_slices) meta.pod(k);
    meta.pod(ph.seed);
    meta.str(ph.description);
    meta.str(ph.ct.source.format);
    meta.str(ph.ct.source.path);
    std::printf("%-14s seed %3" PRIu64 ": ct %016" PRIx64 " ich %016" PRIx64 " brain %016" PRIx64
                " bits %016" PRIx64 " meta %016" PRIx64 "  %s\n",
                name, seed, tensor_digest(ph.ct.voxels), tensor_digest(ph.ich.voxels), tensor_digest(ph.brain.voxels),
                tensor_digest(ph.subtype_bits.voxels), meta.h, ph.description.c_str());
}

void print_indep(const char* name, const data::indep::IndepParams& p, uint64_t seed) {
    const data::indep::IndepCase c = data::indep::generate_indep_phantom(p, seed);
    Fnv meta;
    meta.bytes(c.ct.affine.m.data(), sizeof(double) * 16);
    for (const auto& l : c.slice_labels) meta.labels(l);
    for (const auto& l : c.lesions) {
        meta.pod(l.type);
        meta.str(l.kind);
        meta.pod(l.hu);
        meta.pod(l.volume_ml);
    }
    meta.str(c.description);
    std::printf("%-14s seed %3" PRIu64 ": ct %016" PRIx64 " ich %016" PRIx64 " brain %016" PRIx64
                " bits %016" PRIx64 " meta %016" PRIx64 "  %s\n",
                name, seed, tensor_digest(c.ct.voxels), tensor_digest(c.ich.voxels), tensor_digest(c.brain.voxels),
                tensor_digest(c.subtype_bits.voxels), meta.h, c.description.c_str());
}

}  // namespace

int main() {
    data::PhantomParams small;
    small.size = 64;
    small.slices = 6;
    for (uint64_t seed = 1; seed <= 12; ++seed) print("random", small, seed);
    for (int s = 0; s < io::kNumSubtypes; ++s) {
        data::PhantomParams p = small;
        p.subtypes = 1u << s;
        for (uint64_t seed = 1; seed <= 4; ++seed) print(("subtype" + std::to_string(s)).c_str(), p, seed);
    }
    {
        data::PhantomParams p = small;
        p.subtypes = 0x1f;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("all-subtypes", p, seed);
        p.mimics = false;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("no-mimics", p, seed);
    }
    {
        data::PhantomParams p = small;
        p.ich = 0;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("no-ich", p, seed);
        p.ich = 1;
        p.gantry_tilt_deg = 12;
        p.pose_jitter = 0;
        p.noise_sd = 0;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("tilt-still", p, seed);
    }
    {
        data::PhantomParams p = small;
        p.subtypes = 0x1f;
        p.lesion_scale = 2.0;
        p.fov_mm = 200;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("scale2-fov200", p, seed);
        p.lesion_scale = 0.5;
        for (uint64_t seed = 1; seed <= 2; ++seed) print("scale0.5", p, seed);
    }
    {
        data::PhantomParams p;
        p.size = 48;
        p.slices = 0;  // skull base to vertex
        p.slice_spacing = 2.5;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("full-cover", p, seed);
        p.slices = 40;
        p.slice_spacing = 1.0;
        p.ich = 1;
        for (uint64_t seed = 1; seed <= 2; ++seed) print("thin-slices", p, seed);
    }
    {
        data::PhantomParams p;  // the default 256 px
        p.slices = 4;
        print("full-size", p, 7);
    }
    {
        data::PhantomParams p = small;
        p.slice_spacing = 0;  // drawn per case
        for (uint64_t seed = 1; seed <= 3; ++seed) print("random-spacing", p, seed);
        p.artefacts = false;
        for (uint64_t seed = 1; seed <= 3; ++seed) print("no-artefacts", p, seed);
    }
    // family B (data/phantom_indep): each kind forced, healthy, random, without the scanner
    for (int s = 0; s < io::kNumSubtypes; ++s) {
        data::indep::IndepParams p;
        p.size = 48;
        p.slices = 6;
        p.subtypes = 1u << s;
        print_indep(("B-subtype" + std::to_string(s)).c_str(), p, 1);
    }
    {
        data::indep::IndepParams p;
        p.size = 48;
        p.slices = 0;
        p.ich = 0;
        print_indep("B-healthy", p, 2);
        p.ich = -1;
        for (uint64_t seed = 3; seed <= 5; ++seed) print_indep("B-random", p, seed);
        p.physics = false;
        print_indep("B-no-scanner", p, 3);
    }
    return 0;
}
