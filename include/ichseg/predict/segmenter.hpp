/// @file segmenter.hpp (predict)
/// @brief `ichseg::Segmenter`: segment intracranial hemorrhage in a CT volume with a trained model file, in a
/// few lines of application code:
/// ```cpp
///   ichseg::Segmenter seg("ich.safetensors", "icm_tissue.safetensors", "icm_bone.safetensors");
///   ichseg::predict::SegmentationResult r = seg.segment(ct);          // ct: io::Volume in HU
///   std::printf("%.1f mL on %lld slices\n", r.report.volume_ml, (long long)r.report.slices_involved);
/// ```
/// Pipeline (SPEC §1, §7, §8; docs/predict.md §3), per model (ICH U-Net, and optionally the two ICM U-Nets):
///  1. preprocessing, per stored axial slice: the model's HU window -> [0, 1] (from the model file's metadata),
///     then the anti-aliased bilinear resize to the model's input size (exactly the training pipeline's
///     `VolumeSlices` steps: window first, then resize);
///  2. batch inference (inference.hpp, shared with the study's evaluation: `batch_size` slices per forward pass)
///     in eval mode under `NoGradGuard`, on the GPU when the program links the CUDA backend (`ichseg::cuda`,
///     which defines ICHSEG_WITH_CUDA) and a device is present (`SegmenterOptions::device`), on the CPU otherwise;
///     the output is the sigmoid probability map on the network grid (S x S);
///  3. postprocessing, per slice, on the **native** grid (ny x nx of the source):
///     * `MaskResample::bilinear` (default): each network's probability map is resized back to the native
///       slice with the same (anti-aliased when down-sampling) bilinear filter, then thresholded
///       (`p >= threshold`, 0.5: the evaluation's convention, eval/metrics.hpp). Smooth boundaries at native
///       resolution, as nnU-Net resamples probabilities rather than labels;
///     * `MaskResample::nearest`: threshold on the network grid, then nearest-neighbour resize of the binary
///       masks (SPEC §1's mask resize; exactly the masks the evaluation scored, blocky at native resolution);
///     * ICM (SPEC §7, inference.hpp): cavity = tissue-window mask OR bone-window mask; hemorrhage = ICH mask
///       AND cavity ("predictions outside set to 0"), applied at native resolution;
///  4. the mask keeps the source grid: same (nz, ny, nx), same affine, same stored voxel order (no
///     reorientation anywhere: training used the stored order too, docs/data.md §1);
///  5. report (report.hpp): volume in mL, slices involved, largest axial extent, and per slice the maximum
///     hemorrhage probability on the native grid inside the cavity (the map that was thresholded), so a slice
///     has mask voxels exactly when its maximum probability is >= threshold.
///
/// Input checks (each an ichseg::Error with a message for the user; options can turn them off): the slices must
/// be axial (slice normal within 30 degrees of the S-I axis, from the affine) and the values must look like head
/// CT in Hounsfield units (some air at <= -500 HU and some bone at >= 300 HU; this refuses MR images and CT whose
/// rescale was not applied).
///
/// Not thread-safe (the networks keep per-call state); use one Segmenter per thread. Pre- and postprocessing run
/// on the CPU; only the forward passes move to the GPU.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ichseg/core/device_choice.hpp"
#include "ichseg/core/error.hpp"
#include "ichseg/core/parallel.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/cpu/bf16.hpp"
#include "ichseg/data/resize.hpp"
#include "ichseg/data/window.hpp"
#include "ichseg/io/volume.hpp"
#include "ichseg/nn/model_file.hpp"
#include "ichseg/predict/inference.hpp"
#include "ichseg/predict/report.hpp"

namespace ichseg::predict {

/// How the network-grid outputs return to the native slice grid (see the file comment, step 3).
enum class MaskResample { bilinear, nearest };

inline const char* to_string(MaskResample m) { return m == MaskResample::bilinear ? "bilinear" : "nearest"; }

struct SegmenterOptions {
    double threshold = 0.5;              ///< p >= threshold is foreground (SPEC §8)
    int64_t batch_size = 8;              ///< slices per forward pass
    MaskResample resample = MaskResample::bilinear;
    bool keep_probabilities = false;     ///< fill SegmentationResult::probabilities (network grid, raw ICH sigmoid)
    bool keep_cavity = false;            ///< fill SegmentationResult::cavity (native grid) when ICM models are loaded
    bool keep_plain_mask = false;        ///< fill SegmentationResult::plain_mask (the ICH mask before the ICM)
    bool check_axial = true;             ///< refuse volumes whose slices are not axial
    bool check_hu = true;                ///< refuse volumes that do not look like CT in Hounsfield units
    int threads = 0;                     ///< > 0: set_num_threads(threads) at construction (process-wide)
    /// Where the networks run: "auto" (the GPU when this program was built with the CUDA backend and a device is
    /// present, else the CPU), "cpu", or "cuda" (an error when no GPU can be used).
    std::string device = "auto";
    /// Product precision of the CPU forward passes (core/precision.hpp): FP32, or BF16 products with FP32
    /// accumulation (where the CPU build lacks BF16 instructions, FP32; `describe()` and the CLI say which).
    /// Default: the process default (FP32, or the environment variable ICHSEG_PRECISION).
    Precision precision = default_precision();
};

/// Reported during `segment`: stage is "ich", "icm_tissue", "icm_bone" (slices done / total of that network)
/// or "postprocess"; `fraction` is the overall progress in [0, 1].
struct Progress {
    std::string stage;
    int64_t done = 0, total = 0;
    double fraction = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

/// A loaded model file.
struct LoadedModel {
    std::string path;
    nn::ModelInfo info;
    std::shared_ptr<nn::UNet<float>> net;
    Device device = Device::cpu();  ///< where the network's parameters live
};

struct SegmentationResult {
    io::Mask mask;                            ///< hemorrhage, native grid, source affine and provenance
    io::Mask cavity;                          ///< intracranial cavity (native grid); only with keep_cavity + ICM
    io::Mask plain_mask;                      ///< the ICH network's mask without the ICM; only with keep_plain_mask
    io::Volume probabilities;                 ///< raw ICH sigmoid (nz, S, S) on the network grid; keep_probabilities
    std::vector<float> slice_max_probability; ///< per slice, as in the file comment (step 5)
    int64_t cavity_voxels = -1;               ///< voxels of the ICM's cavity (native grid); -1 without ICM
    Report report;
    double seconds_inference = 0;             ///< preprocessing + forward passes, all networks
    double seconds_postprocess = 0;           ///< resampling, thresholds, ICM, report
};

/// Affine of the network grid (S x S per slice) of a native grid (ny x nx): network pixel u covers native
/// continuous index i = (u + 0.5) * nx / S - 0.5 (the resize's half-pixel convention), same slices.
inline io::Affine network_grid_affine(const io::Affine& a, int64_t nx, int64_t ny, int64_t S) {
    io::Affine o = a;
    const double sx = static_cast<double>(nx) / static_cast<double>(S), sy = static_cast<double>(ny) / static_cast<double>(S);
    for (int r = 0; r < 3; ++r) {
        o(r, 3) = a(r, 3) + a(r, 0) * (sx - 1) / 2 + a(r, 1) * (sy - 1) / 2;
        o(r, 0) = a(r, 0) * sx;
        o(r, 1) = a(r, 1) * sy;
    }
    return o;
}

/// Angle (degrees) between the slice normal (column 0 x column 1 of the affine) and the S-I axis.
inline double slice_normal_angle_deg(const io::Affine& a) {
    const double c0[3] = {a(0, 0), a(1, 0), a(2, 0)}, c1[3] = {a(0, 1), a(1, 1), a(2, 1)};
    const double n[3] = {c0[1] * c1[2] - c0[2] * c1[1], c0[2] * c1[0] - c0[0] * c1[2], c0[0] * c1[1] - c0[1] * c1[0]};
    const double len = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    if (!(len > 0)) return 90.0;
    return std::acos(std::min(1.0, std::fabs(n[2]) / len)) * 180.0 / 3.14159265358979323846;
}

/// Error unless the slices of `v` are axial (normal within `max_deg` of S-I).
inline void check_axial(const io::Volume& v, double max_deg = 30.0) {
    const double ang = slice_normal_angle_deg(v.affine);
    if (ang > max_deg)
        fail(v.source.path.empty() ? std::string("input") : v.source.path, ": the slices are not axial (orientation ",
             io::axis_codes(v.affine), ", slice normal ", static_cast<int>(std::lround(ang)),
             " degrees from the head-foot axis); the models segment axial slices: reorient the volume to axial first");
}

/// Error unless `v` looks like head CT in Hounsfield units: at least 0.5 % of the voxels air (<= -500 HU) and
/// at least 0.05 % bone (>= 300 HU). MR images, CT without the rescale applied (stored values 0..4095) and
/// skull-stripped volumes fail; the message says how to bypass the check.
inline void check_hu_plausible(const io::Volume& v) {
    const Tensor<float> c = v.voxels.contiguous();
    const int64_t n = c.numel();
    const float* p = c.data();
    int64_t air = 0, bone = 0;
    double lo = n ? p[0] : 0, hi = n ? p[0] : 0;
    for (int64_t i = 0; i < n; ++i) {
        air += p[i] <= -500.f;
        bone += p[i] >= 300.f;
        lo = std::min<double>(lo, p[i]);
        hi = std::max<double>(hi, p[i]);
    }
    const double fa = n ? 100.0 * static_cast<double>(air) / static_cast<double>(n) : 0;
    const double fb = n ? 100.0 * static_cast<double>(bone) / static_cast<double>(n) : 0;
    if (fa < 0.5 || fb < 0.05) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%.3g %% of the voxels are air (<= -500 HU; >= 0.5 %% expected) and %.3g %% bone "
                      "(>= 300 HU; >= 0.05 %% expected), values range from %.6g to %.6g", fa, fb, lo, hi);
        fail(v.source.path.empty() ? std::string("input") : v.source.path,
             ": does not look like a head CT in Hounsfield units: ", buf,
             ". MR images, CT whose RescaleSlope / RescaleIntercept was not applied, and skull-stripped or cropped "
             "volumes are refused; if this is head CT in HU, disable the check (--no-hu-check, "
             "SegmenterOptions::check_hu = false)");
    }
}

/// Load a model file and check that it is a 1-channel-in, 1-channel-out U-Net for `expect_target`
/// ("ich" or "cavity"; empty: any). `role` names the model in messages ("--model", "--icm-tissue", ...).
inline LoadedModel load_segmentation_model(const std::string& path, const std::string& expect_target,
                                           const std::string& role) {
    LoadedModel m;
    m.path = path;
    try {
        m.net = nn::load_model<float>(path, &m.info);
    } catch (const Error& e) {
        fail(role, ": cannot load model: ", e.what());
    }
    const auto& c = m.info.unet;
    ICHSEG_CHECK(c.in_channels == 1 && c.out_channels == 1, role, ": ", path, ": the U-Net has ", c.in_channels,
                 " input and ", c.out_channels, " output channels; a segmentation model has 1 and 1");
    const int64_t mult = int64_t(1) << (c.depth - 1);
    ICHSEG_CHECK(m.info.input_size % mult == 0, role, ": ", path, ": input size ", m.info.input_size,
                 " is not a multiple of ", mult, " (2^(depth-1))");
    if (!expect_target.empty() && m.info.target != expect_target)
        fail(role, ": ", path, " segments '", m.info.target, "', but an '", expect_target, "' model is expected here",
             expect_target == "cavity" ? " (ICM models segment the intracranial cavity)" : "");
    m.net->eval();
    return m;
}

inline nlohmann::json model_json(const LoadedModel& m) {
    return {{"path", m.path},
            {"target", m.info.target},
            {"description", m.info.description},
            {"window_hu", {m.info.window_lo, m.info.window_hi}},
            {"input_size", m.info.input_size},
            {"unet", nn::unet_config_json(m.info.unet)}};
}

namespace detail {

/// Nearest-neighbour sampling of a float map (same index rule as data::resize_nearest_mask).
inline void resize_nearest_float(const float* src, int64_t sh, int64_t sw, float* dst, int64_t dh, int64_t dw) {
    std::vector<int64_t> xs(static_cast<size_t>(dw));
    for (int64_t x = 0; x < dw; ++x)
        xs[static_cast<size_t>(x)] =
            std::min<int64_t>(sw - 1, static_cast<int64_t>(std::floor((x + 0.5) * sw / static_cast<double>(dw))));
    for (int64_t y = 0; y < dh; ++y) {
        const int64_t sy = std::min<int64_t>(sh - 1, static_cast<int64_t>(std::floor((y + 0.5) * sh / static_cast<double>(dh))));
        for (int64_t x = 0; x < dw; ++x) dst[y * dw + x] = src[sy * sw + xs[static_cast<size_t>(x)]];
    }
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace detail

/// One slice of network input: HU window -> [0, 1], then the anti-aliased bilinear resize to S x S (the training
/// pipeline's order, data/slices.hpp). `win` and `tmp` are scratch buffers.
inline void preprocess_slice(const float* hu, int64_t ny, int64_t nx, const data::Window& w, int64_t S, float* out,
                             std::vector<float>& win, std::vector<float>& tmp) {
    win.resize(static_cast<size_t>(ny * nx));
    data::apply_window(hu, win.data(), ny * nx, w);
    data::resize_bilinear(win.data(), ny, nx, out, S, S, &tmp);
}

/// Network probabilities (nz, S, S) of one model on a CT volume: window -> anti-aliased resize -> U-Net ->
/// sigmoid, `batch_size` slices per forward pass (inference.hpp). `on_batch(done)` is called after each batch.
inline Tensor<float> network_probabilities(LoadedModel& m, const io::Volume& ct, int64_t batch_size,
                                           const std::function<void(int64_t)>& on_batch = {}) {
    const Tensor<float> vox = ct.voxels.contiguous();
    const int64_t ny = ct.ny(), nx = ct.nx(), S = m.info.input_size;
    const data::Window w{static_cast<float>(m.info.window_lo), static_cast<float>(m.info.window_hi)};
    std::vector<float> win, tmp;
    auto fill = [&](int64_t k, float* dst) { preprocess_slice(vox.data() + k * ny * nx, ny, nx, w, S, dst, win, tmp); };
    return batched_probabilities(*m.net, m.device, ct.nz(), S, S, batch_size, fill, on_batch);
}

/// Segments hemorrhage in CT volumes with an ICH model file and, optionally, the two ICM model files.
class Segmenter {
public:
    /// `icm_tissue` and `icm_bone` are both given or both empty. Throws ichseg::Error naming the file on a
    /// missing / malformed model file or a model of the wrong kind.
    explicit Segmenter(const std::string& ich_model, const std::string& icm_tissue = "",
                       const std::string& icm_bone = "", SegmenterOptions opt = {})
        : opt_(opt) {
        ICHSEG_CHECK(opt.threshold > 0 && opt.threshold < 1, "Segmenter: threshold must lie in (0, 1), got ", opt.threshold);
        ICHSEG_CHECK(opt.batch_size >= 1, "Segmenter: batch_size must be >= 1, got ", opt.batch_size);
        ICHSEG_CHECK(icm_tissue.empty() == icm_bone.empty(),
                     "Segmenter: the intracranial cavity mask needs both ICM models (tissue and bone window); got only ",
                     icm_tissue.empty() ? "the bone" : "the tissue", " model");
        if (opt.threads > 0) set_num_threads(opt.threads);
        ich_ = load_segmentation_model(ich_model, "ich", "ICH model");
        if (!icm_tissue.empty()) {
            tissue_ = load_segmentation_model(icm_tissue, "cavity", "ICM tissue model");
            bone_ = load_segmentation_model(icm_bone, "cavity", "ICM bone model");
        }
        device_ = resolve_device(opt.device);
        if (device_.is_cuda()) {
            for (LoadedModel* m : {&ich_, &tissue_, &bone_})
                if (m->net) {
                    m->net->to(device_);
                    m->device = device_;
                }
        }
    }

    /// The device the networks run on ("cpu" or "cuda").
    Device device() const { return device_; }

    /// "auto" | "cpu" | "cuda" -> the device to use (ichseg::resolve_device, core/device_choice.hpp); `why_not`
    /// receives the reason when "auto" falls back to the CPU.
    static Device resolve_device(const std::string& want, std::string* why_not = nullptr) {
        const DeviceChoice c = ichseg::resolve_device(want);
        if (why_not) *why_not = c.reason;
        return c.device;
    }

    bool has_icm() const { return static_cast<bool>(tissue_.net); }
    const SegmenterOptions& options() const { return opt_; }
    SegmenterOptions& options() { return opt_; }
    const LoadedModel& ich_model() const { return ich_; }
    const LoadedModel& icm_tissue_model() const { return tissue_; }
    const LoadedModel& icm_bone_model() const { return bone_; }

    /// Models, options: for reports.
    nlohmann::json describe() const {
        nlohmann::json j;
        j["ich_model"] = model_json(ich_);
        if (has_icm()) {
            j["icm_tissue_model"] = model_json(tissue_);
            j["icm_bone_model"] = model_json(bone_);
        }
        j["icm"] = has_icm();
        j["threshold"] = opt_.threshold;
        j["resample"] = to_string(opt_.resample);
        j["batch_size"] = opt_.batch_size;
        j["threads"] = num_threads();
        j["device"] = device_.is_cuda() ? "cuda" : "cpu";
        j["precision"] = precision_name(opt_.precision);
        if (!device_.is_cuda()) j["precision_detail"] = cpu::describe_precision(opt_.precision);
        return j;
    }

    /// Segment one CT volume (HU, any in-plane size, axial slices). See the file comment for the pipeline.
    SegmentationResult segment(const io::Volume& ct, const ProgressFn& progress = {}) {
        ICHSEG_CHECK(ct.voxels.defined() && ct.voxels.dim() == 3 && ct.nz() >= 1 && ct.ny() >= 1 && ct.nx() >= 1,
                     "Segmenter::segment: the CT must be a non-empty 3-D volume");
        ICHSEG_CHECK(ct.voxels.device().is_cpu(), "Segmenter::segment: the CT must be on the CPU");
        ICHSEG_CHECK(std::isfinite(ct.affine.det3()) && std::fabs(ct.affine.det3()) > 0,
                     ct.source.path, ": singular or non-finite affine: cannot place the slices");
        if (opt_.check_axial) check_axial(ct);
        if (opt_.check_hu) check_hu_plausible(ct);
        const int64_t nz = ct.nz(), ny = ct.ny(), nx = ct.nx();
        SegmentationResult r;
        const PrecisionGuard precision_guard(opt_.precision);
#if ICHSEG_WITH_CUDA
        std::optional<cuda::PrecisionGuard> cuda_precision;  // BF16 on a GPU: the CUDA backend's BF16 policy
        if (device_.is_cuda() && opt_.precision == Precision::BF16) cuda_precision.emplace(cuda::Precision::BF16);
#endif
        const auto t0 = std::chrono::steady_clock::now();
        const int n_nets = has_icm() ? 3 : 1;
        int net_index = 0;
        auto run = [&](LoadedModel& m, const char* stage) {
            const int idx = net_index++;
            auto cb = [&](int64_t done) {
                if (progress)
                    progress({stage, done, nz, (idx + static_cast<double>(done) / nz) / (n_nets + 0.02)});
            };
            return network_probabilities(m, ct, opt_.batch_size, cb);
        };
        const Tensor<float> p_ich = run(ich_, "ich");
        Tensor<float> p_tis, p_bone;
        if (has_icm()) {
            p_tis = run(tissue_, "icm_tissue");
            p_bone = run(bone_, "icm_bone");
        }
        r.seconds_inference = detail::seconds_since(t0);
        const auto t1 = std::chrono::steady_clock::now();

        r.mask = ct.like<uint8_t>();
        const bool keep_cav = opt_.keep_cavity && has_icm();
        if (keep_cav) r.cavity = ct.like<uint8_t>();
        if (opt_.keep_plain_mask) r.plain_mask = ct.like<uint8_t>();
        r.slice_max_probability.assign(static_cast<size_t>(nz), 0.f);
        std::vector<int64_t> cavity_count(static_cast<size_t>(nz), 0);
        const double thr = opt_.threshold;
        const int64_t S_ich = ich_.info.input_size;
        const int64_t S_tis = has_icm() ? tissue_.info.input_size : 0, S_bone = has_icm() ? bone_.info.input_size : 0;
        const MaskResample mode = opt_.resample;
        auto back = [&](const Tensor<float>& p, int64_t S, int64_t k, float* dst, std::vector<float>& tmp) {
            const float* src = p.data() + k * S * S;
            if (mode == MaskResample::bilinear) data::resize_bilinear(src, S, S, dst, ny, nx, &tmp);
            else detail::resize_nearest_float(src, S, S, dst, ny, nx);
        };
#pragma omp parallel for schedule(static) num_threads(num_threads()) if (nz > 1)
        for (int64_t k = 0; k < nz; ++k) {
            std::vector<float> pi(static_cast<size_t>(ny * nx)), pt, pb, tmp;
            back(p_ich, S_ich, k, pi.data(), tmp);
            if (has_icm()) {
                pt.resize(pi.size());
                pb.resize(pi.size());
                back(p_tis, S_tis, k, pt.data(), tmp);
                back(p_bone, S_bone, k, pb.data(), tmp);
            }
            uint8_t* mk = r.mask.voxels.data() + k * ny * nx;
            uint8_t* ck = keep_cav ? r.cavity.voxels.data() + k * ny * nx : nullptr;
            uint8_t* pk = opt_.keep_plain_mask ? r.plain_mask.voxels.data() + k * ny * nx : nullptr;
            float best = 0.f;
            for (int64_t i = 0; i < ny * nx; ++i) {
                const size_t s = static_cast<size_t>(i);
                const bool cav = !has_icm() || in_cavity(pt[s], pb[s], thr);
                cavity_count[static_cast<size_t>(k)] += cav;
                if (ck) ck[i] = cav ? 1 : 0;
                if (pk) pk[i] = pi[s] >= thr ? 1 : 0;
                mk[i] = hemorrhage(pi[s], cav, thr) ? 1 : 0;
                if (cav) best = std::max(best, pi[s]);
            }
            r.slice_max_probability[static_cast<size_t>(k)] = best;
        }
        if (has_icm()) {
            r.cavity_voxels = 0;
            for (int64_t c : cavity_count) r.cavity_voxels += c;
        }
        if (opt_.keep_probabilities) {
            r.probabilities.voxels = p_ich;
            r.probabilities.affine = network_grid_affine(ct.affine, nx, ny, S_ich);
            r.probabilities.spacing = r.probabilities.affine.spacing();
            r.probabilities.source = ct.source;
        }
        r.report = compute_report(r.mask, &r.slice_max_probability);
        r.seconds_postprocess = detail::seconds_since(t1);
        if (progress) progress({"postprocess", nz, nz, 1.0});
        return r;
    }

private:
    SegmenterOptions opt_;
    Device device_ = Device::cpu();
    LoadedModel ich_, tissue_, bone_;
};

}  // namespace ichseg::predict

namespace ichseg {
using predict::Segmenter;  ///< ichseg::Segmenter
}  // namespace ichseg
