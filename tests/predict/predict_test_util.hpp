/// @file predict_test_util.hpp (tests/predict)
/// @brief Models and volumes for the prediction tests: constant-output model files (plumbing: thresholds, ICM
/// logic, grids), a hand-set "hyperdense band" model with a phantom whose hemorrhage it finds exactly (volumes
/// against ground truth end to end, and a real non-trivial mask on the generated phantoms), random-weight models,
/// phantom volumes, and running the ichseg_predict binary as a child process.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "ichseg/data/phantom.hpp"
#include "ichseg/data/window.hpp"
#include "ichseg/ichseg.hpp"
#include "ichseg/io/nifti.hpp"
#include "ichseg/nn/model_file.hpp"
#include "io/io_test_util.hpp"
#include "support/files.hpp"

namespace ichseg::test {

/// A small U-Net config for tests (base width 4, depth 3: ~7k parameters).
inline nn::UNetConfig tiny_unet(int64_t base = 4, int64_t depth = 3) {
    nn::UNetConfig c;
    c.base_width = base;
    c.depth = depth;
    return c;
}

/// A model file whose output is the constant probability `p` everywhere: all weights 0, batch norm the identity
/// (running mean 0, variance 1, gamma 1, beta 0), so every block outputs relu(0) = 0 and the head outputs its
/// bias logit(p).
inline void write_constant_model(const std::string& path, double p, const std::string& target, double lo = -50,
                                 double hi = 150, int64_t input_size = 32) {
    nn::UNet<float> net(tiny_unet());
    {
        NoGradGuard g;
        for (auto& [name, v] : net.named_parameters()) {
            const bool bn_weight = name.find(".bn") != std::string::npos && name.size() > 7 &&
                                   name.compare(name.size() - 7, 7, ".weight") == 0;
            v.mutable_value().fill_(bn_weight ? 1.f : 0.f);
        }
        net.head->bias.mutable_value().fill_(static_cast<float>(std::log(p / (1 - p))));
    }
    nn::ModelInfo info;
    info.window_lo = lo;
    info.window_hi = hi;
    info.input_size = input_size;
    info.target = target;
    info.description = "constant " + std::to_string(p);
    nn::save_model(net, info, path);
}

/// A "hyperdense band" model (window [-50, 150] HU, input `input_size`): probability ~0.993 where the voxel is
/// between about 55 and 100 HU, ~0.007 elsewhere, computed pixel by pixel (centre taps only). With x the windowed
/// value: encoder block 0 gives relu(x - x55) and relu(x - x100), then relu(first - 10 x second); the last decoder
/// block copies it from the skip connection, the head outputs 100 x it - 5. Every other weight is 0 and batch norm
/// is the identity, so the deeper levels contribute nothing. On band_phantom() (blood 75 HU, brain 35, bone 1100,
/// air -1000, no noise) its mask is exactly the blood when the input size equals the slice size (no resize).
inline void write_band_model(const std::string& path, int64_t input_size) {
    nn::UNetConfig c = tiny_unet(4, 3);
    c.mid_channels_factor = 2;  // block 0: conv1 1 -> 2 channels, conv2 2 -> 4
    nn::UNet<float> net(c);
    const float x55 = (55.f + 50.f) / 200.f, x100 = (100.f + 50.f) / 200.f;
    NoGradGuard g;
    for (auto& [name, v] : net.named_parameters()) {
        Tensor<float>& t = v.mutable_value();
        const bool bn_weight = name.find(".bn") != std::string::npos && name.size() > 7 &&
                               name.compare(name.size() - 7, 7, ".weight") == 0;
        t.fill_(bn_weight ? 1.f : 0.f);
        // Conv weights (out, in, 3, 3): centre tap of (o, i) at ((o * in + i) * 3 + 1) * 3 + 1.
        auto centre = [&](int64_t o, int64_t i, float w) { t.data()[((o * t.shape()[1] + i) * 3 + 1) * 3 + 1] = w; };
        if (name == "encoder.blocks.0.conv1.weight") centre(0, 0, 1.f), centre(1, 0, 1.f);
        if (name == "encoder.blocks.0.conv1.bias") t.data()[0] = -x55, t.data()[1] = -x100;
        if (name == "encoder.blocks.0.conv2.weight") centre(0, 0, 1.f), centre(0, 1, -10.f);
        // Last decoder block: its input is cat([skip of level 0, up]); channel 0 is the skip's channel 0.
        if (name == "decoder.blocks." + std::to_string(c.depth - 2) + ".conv1.weight") centre(0, 0, 1.f);
        if (name == "decoder.blocks." + std::to_string(c.depth - 2) + ".conv2.weight") centre(0, 0, 1.f);
    }
    net.head->weight.mutable_value().data()[0] = 100.f;
    net.head->bias.mutable_value().fill_(-5.f);
    nn::ModelInfo info;
    info.unet = c;
    info.input_size = input_size;
    info.target = "ich";
    info.description = "tests/predict: hyperdense band 55..100 HU";
    nn::save_model(net, info, path);
}

/// A head-like volume with a known hemorrhage and its ground-truth mask: `n` x `n` pixels of `spacing`, `nz`
/// slices; air -1000 HU, an elliptic skull 1100 HU, brain 35 HU, and per slice a blood ellipse of 75 HU whose size
/// and place change with the slice (none on the first slice). No noise, no partial volume: every voxel is one of
/// the four values.
struct BandPhantom {
    io::Volume ct;
    io::Mask blood;
};
inline BandPhantom band_phantom(int64_t n, int64_t nz, std::array<double, 3> spacing) {
    BandPhantom b;
    b.ct = io::Volume::zeros(nz, n, n, spacing);
    b.ct.affine(0, 3) = -0.5 * double(n) * spacing[0];
    b.ct.affine(1, 3) = -0.5 * double(n) * spacing[1];
    b.ct.affine(2, 3) = 10;
    b.blood = io::Mask::zeros(nz, n, n, spacing);
    b.blood.affine = b.ct.affine;
    const double c = 0.5 * double(n - 1);
    for (int64_t k = 0; k < nz; ++k)
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < n; ++i) {
                const double r = std::hypot((double(i) - c) / (0.46 * double(n)), (double(j) - c) / (0.40 * double(n)));
                float v = -1000.f;
                if (r < 1.0) v = 1100.f;
                if (r < 0.85) v = 35.f;
                const double bx = double(i) - (0.35 + 0.04 * double(k)) * double(n), by = double(j) - 0.45 * double(n);
                const double br = 0.6 * double(k) + 1.0;
                const bool blood = k > 0 && r < 0.85 && std::hypot(bx, 0.7 * by) < br * double(n) / 24.0;
                if (blood) v = 75.f;
                b.ct.voxels.data()[(k * n + j) * n + i] = v;
                b.blood.voxels.data()[(k * n + j) * n + i] = blood ? 1 : 0;
            }
    return b;
}

/// A CT of the trunk for the non-head checks: `kind` "chest" (lungs -850 HU, heart, spine with its canal, ribs,
/// sternum, 15 mm of subcutaneous fat) or "abdomen" (liver, kidneys, bowel with gas, visceral and 25 mm of
/// subcutaneous fat, spine); an elliptic body 340 x 230 mm, `n` x `n` pixels over 400 mm, `nz` slices of 5 mm,
/// the axial-DICOM affine of the phantoms (row 0 anterior), +-5 HU of deterministic noise.
inline io::Volume body_phantom(const std::string& kind, int64_t n = 128, int64_t nz = 6) {
    const double ps = 400.0 / double(n);
    io::Volume v = io::Volume::zeros(nz, n, n, {ps, ps, 5.0});
    v.affine(0, 0) = -ps;
    v.affine(1, 1) = -ps;
    v.affine(0, 3) = ps * double(n - 1) / 2;
    v.affine(1, 3) = ps * double(n - 1) / 2;
    v.affine(2, 3) = -100;
    const bool chest = kind == "chest";
    const double fat = chest ? 15 : 25;
    auto in_ell = [](double x, double y, double cx, double cy, double a, double b) {
        const double u = (x - cx) / a, w = (y - cy) / b;
        return u * u + w * w < 1;
    };
    uint64_t h = 12345;
    for (int64_t k = 0; k < nz; ++k)
        for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < n; ++i) {
                const double x = (double(i) - 0.5 * double(n - 1)) * ps, y = (0.5 * double(n - 1) - double(j)) * ps;
                double hu = -1000;
                if (in_ell(x, y, 0, 0, 170, 115)) hu = 40;                                  // skin
                if (in_ell(x, y, 0, 0, 168, 113)) hu = -100;                                // subcutaneous fat
                if (in_ell(x, y, 0, 0, 168 - fat, 113 - fat)) hu = 50;                      // muscle wall
                if (in_ell(x, y, 0, 0, 158 - fat, 103 - fat)) hu = chest ? 35 : -90;        // mediastinum / visceral fat
                if (chest) {
                    if (in_ell(x, y, 75, 5, 60, 75) || in_ell(x, y, -75, 5, 60, 75)) hu = -850;  // lungs
                    if (in_ell(x, y, 15, 20, 50, 42)) hu = 40;                                   // heart
                    for (int r = 0; r < 12; ++r) {                                               // ribs
                        const double a = 0.35 + r * (2 * 3.14159265 - 0.7) / 11;
                        if (in_ell(x, y, (150 - fat) * std::sin(a), (100 - fat) * std::cos(a), 7, 7)) hu = 600;
                    }
                    if (in_ell(x, y, 0, 100 - fat, 15, 6)) hu = 500;                             // sternum
                } else {
                    if (in_ell(x, y, -60, 15, 80, 65)) hu = 60;                                  // liver
                    if (in_ell(x, y, 70, -55, 25, 35) || in_ell(x, y, -70, -55, 25, 35)) hu = 30;  // kidneys
                    for (int b = 0; b < 6; ++b) {                                                // bowel, gas
                        const double bx = 40 + 20 * (b % 3), by = 30 - 25 * (b / 3);
                        if (in_ell(x, y, bx, by, 14, 14)) hu = 30;
                        if (in_ell(x, y, bx + 3, by + 3, 6, 6)) hu = -1000;
                    }
                }
                // spine: vertebral body, posterior arch around the canal
                if (in_ell(x, y, 0, -70, 18, 16)) hu = in_ell(x, y, 0, -70, 15, 13) ? 350 : 1000;
                if (in_ell(x, y, 0, -95, 14, 13)) hu = in_ell(x, y, 0, -95, 8, 7) ? 20 : 700;
                h = h * 6364136223846793005ULL + 1442695040888963407ULL;
                const double noise = (double((h >> 33) % 1001) / 100.0) - 5.0;
                v.voxels.data()[(k * n + j) * n + i] = static_cast<float>(hu + (hu > -990 ? noise : 0));
            }
    return v;
}

/// Phantom with at least one hemorrhage: `size` x `size` pixels, `slices` slices of 5 mm.
inline data::Phantom ich_phantom(uint64_t seed, int64_t size = 64, int64_t slices = 8) {
    data::PhantomParams p;
    p.size = size;
    p.slices = slices;
    p.slice_spacing = 5.0;
    p.ich = 1;
    return data::generate_phantom(p, seed);
}

/// The hyperdense-band model (write_band_model) with input size 64, written once per process; the path is
/// returned. On the generated phantoms it finds most of the hemorrhage (acute blood is 50-90 HU there) plus some
/// mimics (sinuses 55-68 HU, calcifications): a real, non-trivial mask for the end-to-end tests.
inline const std::string& band_ich_model() {
    static std::string path;
    static std::once_flag once;
    std::call_once(once, [] {
        static TempDir dir;  // lives until exit
        path = dir / "band_ich.safetensors";
        write_band_model(path, 64);
    });
    return path;
}

/// A U-Net (base width 8, depth 3) with seeded random weights, eval mode, written as a model file.
inline void write_random_model(const std::string& path, uint64_t seed, int64_t input_size) {
    Generator gen(seed);
    nn::UNet<float> net(tiny_unet(8, 3), gen);
    net.eval();
    nn::ModelInfo info;
    info.input_size = input_size;
    info.target = "ich";
    info.description = "tests/predict: random weights, seed " + std::to_string(seed);
    nn::save_model(net, info, path);
}

/// Result of running a program: exit status (-1 when it did not exit normally) and its stderr + stdout.
struct ProgramRun {
    int status = -1;
    std::string output;
};

/// Run `argv` (no shell) with stdout and stderr captured into a file; waits for it.
inline ProgramRun run_program(const std::vector<std::string>& argv) {
    static int counter = 0;
    const std::string log = (std::filesystem::temp_directory_path() /
                             ("ichseg-predict-run-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log"))
                                .string();
    ProgramRun r;
    const pid_t pid = ::fork();
    if (pid == 0) {
        FILE* f = std::freopen(log.c_str(), "w", stdout);
        if (f) ::dup2(::fileno(stdout), 2);
        std::vector<char*> a;
        for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        ::execv(a[0], a.data());
        std::_Exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    r.output = ss.str();
    std::remove(log.c_str());
    return r;
}

/// Files of a folder (names only, sorted).
inline std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> v;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace ichseg::test
