// The independent phantom family (family B, data/phantom_indep.hpp): determinism, masks and labels that agree,
// each hemorrhage kind, CT values through the projection-domain scanner, noise level, clinical sizes, and that the
// family shares no code with the first generator (data/phantom/).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "ichseg/data/phantom_indep.hpp"

using namespace ichseg;
using namespace ichseg::data::indep;
using io::IchSubtype;

namespace {

IndepParams small(int ich = -1, uint32_t subtypes = 0, bool physics = false) {
    IndepParams p;
    p.size = 64;
    p.slices = 8;
    p.thickness_mm = 5;
    p.ich = ich;
    p.subtypes = subtypes;
    p.physics = physics;
    return p;
}

void check_consistency(const IndepCase& c) {
    const int64_t plane = c.ct.slice_size();
    REQUIRE(static_cast<int64_t>(c.slice_labels.size()) == c.ct.nz());
    io::IchLabels vol = io::IchLabels::negative();
    for (int64_t k = 0; k < c.ct.nz(); ++k) {
        io::IchLabels l = io::IchLabels::negative();
        for (int64_t i = k * plane; i < (k + 1) * plane; ++i) {
            const uint8_t ich = c.ich.voxels.data()[i], bits = c.subtype_bits.voxels.data()[i];
            REQUIRE(ich <= 1);
            if (ich) {
                REQUIRE(c.brain.voxels.data()[i] == 1);
                REQUIRE(bits != 0);
                l.any = 1;
                for (int s = 0; s < 5; ++s)
                    if (bits & (1u << s)) l.subtype[static_cast<size_t>(s)] = 1;
            } else {
                REQUIRE(bits == 0);
            }
        }
        REQUIRE(l == c.slice_labels[static_cast<size_t>(k)]);
        vol.merge(l);
    }
    REQUIRE(vol == c.labels);
}

/// Cavity voxels whose 5 x 5 in-plane neighbourhood is all cavity.
std::vector<uint8_t> inner(const IndepCase& c) {
    const int64_t n = c.ct.nx(), plane = n * n;
    std::vector<uint8_t> out(static_cast<size_t>(c.ct.voxels.numel()), 0);
    for (int64_t k = 0; k < c.ct.nz(); ++k)
        for (int64_t y = 2; y < n - 2; ++y)
            for (int64_t x = 2; x < n - 2; ++x) {
                bool all = true;
                for (int64_t dy = -2; dy <= 2 && all; ++dy)
                    for (int64_t dx = -2; dx <= 2 && all; ++dx) all = c.brain.voxels.data()[k * plane + (y + dy) * n + x + dx] != 0;
                out[static_cast<size_t>(k * plane + y * n + x)] = all;
            }
    return out;
}

double median(std::vector<float> v) {
    if (v.empty()) return std::nan("");
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
}

}  // namespace

TEST_CASE("family B: deterministic in (params, seed), different across seeds", "[data][phantom_indep]") {
    const IndepCase a = generate_indep_phantom(small(1), 3), b = generate_indep_phantom(small(1), 3);
    const IndepCase c = generate_indep_phantom(small(1), 4);
    REQUIRE(a.ct.voxels.shape() == std::vector<int64_t>{8, 64, 64});
    CHECK(std::equal(a.ct.voxels.data(), a.ct.voxels.data() + a.ct.voxels.numel(), b.ct.voxels.data()));
    CHECK(std::equal(a.ich.voxels.data(), a.ich.voxels.data() + a.ich.voxels.numel(), b.ich.voxels.data()));
    CHECK_FALSE(std::equal(a.ct.voxels.data(), a.ct.voxels.data() + a.ct.voxels.numel(), c.ct.voxels.data()));
    check_consistency(a);
    CHECK(a.labels.any == 1);
    CHECK_THROWS(generate_indep_phantom(IndepParams{8}, 1));  // size 8 is refused
}

TEST_CASE("family B: each hemorrhage kind when requested, in the cavity, with clinical HU", "[data][phantom_indep]") {
    for (int t = 0; t < 5; ++t) {
        IndepParams p = small(1, 1u << t);
        p.size = 96;
        const IndepCase c = generate_indep_phantom(p, 20 + static_cast<uint64_t>(t));
        INFO(io::subtype_name(static_cast<IchSubtype>(t)) << ": " << c.description);
        check_consistency(c);
        CHECK(c.labels.subtype[static_cast<size_t>(t)] == 1);
        REQUIRE(c.lesions.size() == 1);
        CHECK(c.lesions[0].volume_ml > 0);
        std::vector<float> blood;
        for (int64_t i = 0; i < c.ct.voxels.numel(); ++i)
            if (c.ich.voxels.data()[i]) blood.push_back(c.ct.voxels.data()[i]);
        const double m = median(blood);
        INFO("median blood HU " << m << ", kind " << c.lesions[0].kind << ", drawn " << c.lesions[0].hu);
        CHECK(m > 5);    // chronic SDH down to 12 HU, partial volume with CSF for SAH
        CHECK(m < 100);
    }
}

TEST_CASE("family B: the scanner gives CT values, beam hardening and the requested noise", "[data][phantom_indep]") {
    IndepParams p = small(0, 0, true);
    p.size = 128;
    p.slices = 4;
    const IndepCase ct = generate_indep_phantom(p, 7);
    p.physics = false;
    const IndepCase ref = generate_indep_phantom(p, 7);  // same draws, no scanner
    CHECK(std::equal(ct.brain.voxels.data(), ct.brain.voxels.data() + ct.brain.voxels.numel(), ref.brain.voxels.data()));
    const auto in = inner(ct);
    std::vector<float> brain, bone, air;
    for (int64_t i = 0; i < ct.ct.voxels.numel(); ++i) {
        const float v = ct.ct.voxels.data()[i], r = ref.ct.voxels.data()[i];
        if (in[static_cast<size_t>(i)]) brain.push_back(v);
        if (r > 1200) bone.push_back(v);
        if (r < -990) air.push_back(v);
    }
    REQUIRE(brain.size() > 1000);
    CHECK(median(brain) > 15);
    CHECK(median(brain) < 45);
    CHECK(median(bone) > 900);  // cortical bone, blurred by the reconstruction
    CHECK(median(air) < -900);
    // noise: where the nominal image is flat (3 x 3 neighbourhood within 2 HU), the reconstruction minus the nominal
    // image is the noise plus a smooth beam-hardening offset; its spread over the central slices is the target
    // within the approximations of the calibration (linear interpolation, apodisation, off-centre rays): 0.5x-1.7x
    const int64_t n = ct.ct.nx(), plane = n * n;
    std::vector<double> d;
    for (int64_t k = 0; k < ct.ct.nz(); ++k)
        for (int64_t y = n / 3; y < 2 * n / 3; ++y)
            for (int64_t x = n / 3; x < 2 * n / 3; ++x) {
                const int64_t i = k * plane + y * n + x;
                if (!in[static_cast<size_t>(i)]) continue;
                float lo = 1e9f, hi = -1e9f;
                for (int64_t dy = -1; dy <= 1; ++dy)
                    for (int64_t dx = -1; dx <= 1; ++dx) {
                        const float r = ref.ct.voxels.data()[i + dy * n + dx];
                        lo = std::min(lo, r);
                        hi = std::max(hi, r);
                    }
                if (hi - lo < 2) d.push_back(ct.ct.voxels.data()[i] - ref.ct.voxels.data()[i]);
            }
    REQUIRE(d.size() > 300);
    double s1 = 0, s2 = 0;
    for (double v : d) s1 += v, s2 += v * v;
    const double sd = std::sqrt(s2 / d.size() - (s1 / d.size()) * (s1 / d.size()));
    INFO("noise " << sd << " HU, target " << ct.noise_target_hu << " HU, offset " << s1 / d.size() << " HU");
    CHECK(sd > 0.5 * ct.noise_target_hu);
    CHECK(sd < 1.7 * ct.noise_target_hu);
    CHECK(std::fabs(s1 / d.size()) < 15);  // beam hardening shifts the brain by a few HU, not tens
}

TEST_CASE("family B: hemorrhage volumes are clinical", "[data][phantom_indep]") {
    // IPH volumes are drawn log-uniformly in 1.5-70 mL (thalamic and pontine up to 20, cerebellar up to 35); the
    // mask holds the part inside the cavity and the slab, on whole-head coverage nearly all of it
    for (uint64_t s = 0; s < 4; ++s) {
        IndepParams p = small(1, 1u << static_cast<int>(IchSubtype::IPH));
        p.size = 48;
        p.slices = 0;
        const IndepCase c = generate_indep_phantom(p, 60 + s);
        INFO(c.lesions[0].kind << " " << c.lesions[0].volume_ml << " mL");
        CHECK(c.lesions[0].volume_ml > 0.5);
        CHECK(c.lesions[0].volume_ml < 90);
    }
}

#ifdef ICHSEG_SOURCE_DIR
TEST_CASE("family B shares no code with the first phantom generator", "[data][phantom_indep]") {
    // its files include nothing of data/phantom/ and name none of that generator's types or functions
    const std::regex include_re(R"(#\s*include\s*["<]ichseg/data/phantom(/|\.hpp|_layouts))");
    const std::regex names_re(R"(\b(HeadModel|LesionModel|Mimics|WaveField|generate_phantom|PhantomParams|phantom::)\b)");
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::string(ICHSEG_SOURCE_DIR) + "/include/ichseg/data/phantom_indep")) {
        std::ifstream f(e.path());
        std::stringstream ss;
        ss << f.rdbuf();
        const std::string text = ss.str();
        INFO(e.path().string());
        CHECK_FALSE(std::regex_search(text, include_re));
        CHECK_FALSE(std::regex_search(text, names_re));
        ++files;
    }
    CHECK(files >= 5);
}
#endif
