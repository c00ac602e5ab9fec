// ichseg::Segmenter (predict/segmenter.hpp): output grid and affine, thresholds, the ICM rule, the two resampling
// modes, the network-grid affine, progress, bad models and bad volumes, batch-size invariance; the hand-set band
// model on a generated phantom, and on a phantom whose hemorrhage it finds exactly (volume vs ground truth).
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/predict/segmenter.hpp"
#include "predict/predict_test_util.hpp"

using namespace ichseg;

namespace {

/// Constant models in one folder: ich_<p>, cav_<p> (target cavity).
struct ConstModels {
    test::TempDir dir;
    std::string ich(double p, int64_t size = 32) {
        const std::string f = dir / ("ich_" + std::to_string(p) + "_" + std::to_string(size) + ".safetensors");
        if (!std::filesystem::exists(f)) test::write_constant_model(f, p, "ich", -50, 150, size);
        return f;
    }
    std::string cav(double p, double lo = 0, double hi = 600) {
        const std::string f = dir / ("cav_" + std::to_string(p) + "_" + std::to_string(lo) + ".safetensors");
        if (!std::filesystem::exists(f)) test::write_constant_model(f, p, "cavity", lo, hi);
        return f;
    }
};

io::Volume phantom_ct(uint64_t seed = 3, int64_t size = 48, int64_t slices = 5) {
    return test::ich_phantom(seed, size, slices).ct;
}

int64_t count(const io::Mask& m) {
    int64_t c = 0;
    for (int64_t i = 0; i < m.voxels.numel(); ++i) c += m.voxels.data()[i] ? 1 : 0;
    return c;
}

}  // namespace

TEST_CASE("segmenter: output on the source grid with the source affine, threshold p >= t", "[predict][segmenter]") {
    ConstModels cm;
    io::Volume ct = phantom_ct(3, 40, 5);  // 40 x 40 native, network 32 x 32
    ct.affine(0, 3) = -12.25;              // an arbitrary offset must be kept exactly
    {
        Segmenter seg(cm.ich(0.7));
        const auto r = seg.segment(ct);
        CHECK(r.mask.voxels.shape() == ct.voxels.shape());
        CHECK(r.mask.affine == ct.affine);
        CHECK(r.mask.spacing == ct.spacing);
        CHECK(count(r.mask) == ct.voxels.numel());  // 0.7 >= 0.5 everywhere
        for (float p : r.slice_max_probability) CHECK(p == Approx(0.7).epsilon(1e-6));
        CHECK(r.report.volume_ml == Approx(ct.voxels.numel() * std::fabs(ct.affine.det3()) / 1000).epsilon(1e-12));
        CHECK(r.report.slices_involved == 5);
        CHECK_FALSE(r.probabilities.voxels.defined());  // not kept unless asked
    }
    {
        Segmenter seg(cm.ich(0.3));
        CHECK(count(seg.segment(ct).mask) == 0);
    }
    {
        predict::SegmenterOptions o;
        o.threshold = 0.25;  // 0.3 >= 0.25
        Segmenter seg(cm.ich(0.3), "", "", o);
        CHECK(count(seg.segment(ct).mask) == ct.voxels.numel());
    }
}

TEST_CASE("segmenter: ICM keeps hemorrhage only inside tissue-window OR bone-window cavity", "[predict][segmenter]") {
    ConstModels cm;
    const io::Volume ct = phantom_ct();
    const int64_t n = ct.voxels.numel();
    predict::SegmenterOptions o;
    o.keep_cavity = true;
    struct Case {
        double tissue, bone;
        bool inside;
    };
    for (const Case c : {Case{0.9, 0.1, true}, Case{0.1, 0.9, true}, Case{0.9, 0.9, true}, Case{0.1, 0.1, false}}) {
        Segmenter seg(cm.ich(0.8), cm.cav(c.tissue, 0, 600), cm.cav(c.bone, 150, 650), o);
        REQUIRE(seg.has_icm());
        const auto r = seg.segment(ct);
        INFO("tissue " << c.tissue << " bone " << c.bone);
        CHECK(count(r.cavity) == (c.inside ? n : 0));
        CHECK(count(r.mask) == (c.inside ? n : 0));
        // Outside the cavity the slice maximum is 0 (probabilities outside are set to 0).
        for (float p : r.slice_max_probability) CHECK(p == Approx(c.inside ? 0.8 : 0.0).margin(1e-6));
    }
    CHECK_THROWS_WITH(Segmenter(cm.ich(0.8), cm.cav(0.9), ""), Catch::Contains("needs both ICM models"));
    CHECK_THROWS_WITH(Segmenter(cm.ich(0.8), cm.ich(0.9), cm.cav(0.9)), Catch::Contains("an 'cavity' model is expected"));
    CHECK_THROWS_WITH(Segmenter(cm.cav(0.9)), Catch::Contains("segments 'cavity'"));
    // device choice: test_predict is built without the CUDA backend, so "auto" is the CPU and "cuda" is refused
    predict::SegmenterOptions dev_opt;
    dev_opt.device = "gpu0";
    CHECK_THROWS_WITH(Segmenter(cm.ich(0.8), "", "", dev_opt), Catch::Contains("auto, cpu, cuda or cuda:N") && Catch::Contains("'gpu0'"));
    dev_opt.device = "cuda";
    CHECK_THROWS_WITH(Segmenter(cm.ich(0.8), "", "", dev_opt), Catch::Contains("device 'cuda' requested"));
    dev_opt.device = "auto";
    CHECK(Segmenter(cm.ich(0.8), "", "", dev_opt).device().is_cpu());
    CHECK(Segmenter(cm.ich(0.8)).describe()["device"] == "cpu");
}

TEST_CASE("segmenter: nearest mode equals thresholding on the network grid then nearest resize", "[predict][segmenter]") {
    // With the band model: run the network, threshold on the 64 x 64 grid, nearest-resize to 80 x 80, and
    // compare with the Segmenter's nearest mode; the bilinear mode must agree on most voxels.
    const data::Phantom ph = test::ich_phantom(101, 80, 6);
    predict::SegmenterOptions o;
    o.resample = predict::MaskResample::nearest;
    o.keep_probabilities = true;
    Segmenter seg(test::band_ich_model(), "", "", o);
    const auto r = seg.segment(ph.ct);
    REQUIRE(r.probabilities.voxels.shape() == Shape{6, 64, 64});
    int64_t diff = 0;
    std::vector<uint8_t> m64(64 * 64), back(80 * 80);
    for (int64_t k = 0; k < 6; ++k) {
        for (int64_t i = 0; i < 64 * 64; ++i) m64[size_t(i)] = r.probabilities.voxels.data()[k * 4096 + i] >= 0.5f;
        data::resize_nearest_mask(m64.data(), 64, 64, back.data(), 80, 80);
        for (int64_t i = 0; i < 80 * 80; ++i) diff += back[size_t(i)] != r.mask.slice(k)[i];
    }
    CHECK(diff == 0);
    seg.options().resample = predict::MaskResample::bilinear;
    const auto rb = seg.segment(ph.ct);
    int64_t agree = 0;
    for (int64_t i = 0; i < r.mask.voxels.numel(); ++i) agree += r.mask.voxels.data()[i] == rb.mask.voxels.data()[i];
    // The two modes differ only along mask boundaries (sub-pixel placement of the 0.5 contour): >= 98 % agree.
    CHECK(double(agree) / double(r.mask.voxels.numel()) >= 0.98);
    // In both modes a slice is involved exactly when its maximum probability reaches the threshold.
    for (const auto* x : {&r, &rb})
        for (int64_t k = 0; k < 6; ++k)
            CHECK((x->report.slices[size_t(k)].voxels > 0) == (x->slice_max_probability[size_t(k)] >= 0.5f));
}

TEST_CASE("segmenter: progress through the stages, and the report describes the returned mask", "[predict][segmenter]") {
    // A generated phantom through both resizes (96 x 96 -> 64 x 64 network grid -> 96 x 96). The band model marks
    // voxels of 55..100 HU; after the down-sampling blur that includes the skull's inner edge, so the mask is far
    // from the hemorrhage ground truth (the exact hemorrhage checks are the "known hemorrhage" cases), but it is a
    // non-trivial mask for the report to describe.
    const data::Phantom ph = test::ich_phantom(202, 96, 8);
    Segmenter seg(test::band_ich_model());
    std::vector<std::string> stages;
    double last = -1;
    bool monotone = true;
    const auto r = seg.segment(ph.ct, [&](const predict::Progress& p) {
        if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
        monotone = monotone && p.fraction >= last && p.fraction <= 1.0;
        last = p.fraction;
    });
    CHECK(stages == std::vector<std::string>{"ich", "postprocess"});
    CHECK(monotone);
    CHECK(last == 1.0);
    const int64_t n = count(r.mask);
    REQUIRE(n > 0);
    CHECK(r.mask.voxels.shape() == ph.ct.voxels.shape());
    // The report is the mask's: count x |det| / 1000, the same slices, the report of the mask recomputed.
    CHECK(r.report.voxels == n);
    CHECK(r.report.volume_ml == Approx(double(n) * std::fabs(ph.ct.affine.det3()) / 1000).epsilon(1e-12));
    const predict::Report again = predict::compute_report(r.mask);
    CHECK(again.slices_involved == r.report.slices_involved);
    CHECK(again.largest_axial_extent_mm == r.report.largest_axial_extent_mm);
    for (size_t k = 0; k < r.report.slices.size(); ++k)
        CHECK((r.report.slices[k].voxels > 0) == (r.slice_max_probability[k] >= 0.5f));
}

TEST_CASE("segmenter: network grid affine places network pixels on the resize's sample points", "[predict][segmenter]") {
    io::Affine a;
    a(0, 0) = -0.45;
    a(1, 1) = 0.45;
    a(0, 1) = 0.02;
    a(2, 2) = 5;
    a(0, 3) = 100;
    a(1, 3) = -80;
    a(2, 3) = 12;
    const int64_t nx = 512, ny = 400, S = 256;
    const io::Affine n = predict::network_grid_affine(a, nx, ny, S);
    for (int64_t u : {0, 17, 255})
        for (int64_t v : {0, 100, 255}) {
            const double i = (u + 0.5) * double(nx) / S - 0.5, j = (v + 0.5) * double(ny) / S - 0.5;
            const auto w1 = n.apply(double(u), double(v), 3), w2 = a.apply(i, j, 3);
            for (int r = 0; r < 3; ++r) CHECK(w1[size_t(r)] == Approx(w2[size_t(r)]).margin(1e-9));
        }
    // The probabilities returned carry it.
    ConstModels cm;
    predict::SegmenterOptions o;
    o.keep_probabilities = true;
    Segmenter seg(cm.ich(0.6), "", "", o);
    io::Volume ct = phantom_ct(4, 40, 3);
    const auto r = seg.segment(ct);
    CHECK(r.probabilities.voxels.shape() == Shape{3, 32, 32});
    CHECK(io::max_abs_diff(r.probabilities.affine, predict::network_grid_affine(ct.affine, 40, 40, 32)) == 0);
}

TEST_CASE("segmenter: refuses non-CT values, non-axial slices, empty volumes and bad model files", "[predict][segmenter]") {
    ConstModels cm;
    Segmenter seg(cm.ich(0.7));
    // MR-like intensities: 0 .. 1000, no air, no bone.
    io::Volume mr = io::Volume::zeros(4, 32, 32, {1, 1, 4});
    for (int64_t i = 0; i < mr.voxels.numel(); ++i) mr.voxels.data()[i] = float(i % 1000);
    mr.source.path = "mr.nii.gz";
    CHECK_THROWS_WITH(seg.segment(mr), Catch::Contains("mr.nii.gz") && Catch::Contains("does not look like a head CT"));
    // CT stored without the rescale (0 .. 4095 raw values): no air either.
    io::Volume raw = phantom_ct();
    for (int64_t i = 0; i < raw.voxels.numel(); ++i) raw.voxels.data()[i] += 1024;
    CHECK_THROWS_WITH(seg.segment(raw), Catch::Contains("RescaleIntercept"));
    seg.options().check_hu = false;
    CHECK_NOTHROW(seg.segment(raw));
    seg.options().check_hu = true;
    // Sagittal slices: the index axes i, j span y and z.
    io::Volume sag = phantom_ct();
    sag.affine = io::Affine::identity();
    sag.affine(0, 0) = 0;
    sag.affine(1, 0) = 1;
    sag.affine(1, 1) = 0;
    sag.affine(2, 1) = 1;
    sag.affine(0, 2) = 5;
    sag.affine(2, 2) = 0;
    CHECK_THROWS_WITH(seg.segment(sag), Catch::Contains("not axial"));
    // A 20-degree gantry tilt is still axial.
    io::Volume tilt = phantom_ct();
    tilt.affine(1, 2) = tilt.affine(2, 2) * std::tan(20 * M_PI / 180);
    CHECK_NOTHROW(seg.segment(tilt));
    CHECK_THROWS(seg.segment(io::Volume{}));

    CHECK_THROWS_WITH(Segmenter(cm.dir / "missing.safetensors"), Catch::Contains("missing.safetensors"));
    // A checkpoint without the model metadata (a bare state dict).
    nn::UNet<float> net(test::tiny_unet());
    nn::save_state_dict(net, cm.dir / "bare.safetensors");
    CHECK_THROWS_WITH(Segmenter(cm.dir / "bare.safetensors"), Catch::Contains("not an ichseg model file"));
    test::write_bytes(cm.dir / "garbage.safetensors", "not a safetensors file at all");
    CHECK_THROWS_WITH(Segmenter(cm.dir / "garbage.safetensors"), Catch::Contains("garbage.safetensors"));
    predict::SegmenterOptions bad;
    bad.threshold = 1.0;
    CHECK_THROWS_WITH(Segmenter(cm.ich(0.7), "", "", bad), Catch::Contains("threshold"));
}

TEST_CASE("segmenter: batch size does not change the result", "[predict][segmenter]") {
    test::TempDir d;
    test::write_random_model(d / "random.safetensors", 31, 64);
    const data::Phantom ph = test::ich_phantom(303, 64, 7);  // 64 x 64 = the input size: no resize
    predict::SegmenterOptions o;
    o.keep_probabilities = true;
    o.batch_size = 1;
    Segmenter seg(d / "random.safetensors", "", "", o);
    const auto a = seg.segment(ph.ct);
    seg.options().batch_size = 4;  // 7 slices: batches of 4 and 3
    const auto b = seg.segment(ph.ct);
    // Eval-mode batch norm uses running statistics, so a slice's output does not depend on the other slices of
    // its batch. The GEMM blocking does depend on the batch (the column count), which changes the fp32
    // summation order: differences of a few ulp, far below 1e-5 on probabilities in (0, 1).
    const auto pa = a.probabilities.voxels.to_vector(), pb = b.probabilities.voxels.to_vector();
    REQUIRE(pa.size() == pb.size());
    double d_max = 0;
    for (size_t i = 0; i < pa.size(); ++i) d_max = std::max(d_max, std::fabs(double(pa[i]) - double(pb[i])));
    INFO("max |batch 1 - batch 4| = " << d_max);
    CHECK(d_max < 1e-5);
    // Masks may differ only where the probability is that close to the threshold.
    int64_t flips = 0, unexplained = 0;
    for (size_t i = 0; i < pa.size(); ++i)
        if (a.mask.voxels.data()[i] != b.mask.voxels.data()[i]) {
            ++flips;
            unexplained += std::fabs(double(pa[i]) - 0.5) >= 1e-5;
        }
    INFO(flips << " mask voxels differ");
    CHECK(unexplained == 0);
}

TEST_CASE("segmenter: known hemorrhage: mask equals the ground truth, volume equals its count x spacing", "[predict][segmenter]") {
    test::TempDir d;
    const int64_t n = 48, nz = 6;
    const std::array<double, 3> sp{0.7, 0.6, 4.5};
    test::write_band_model(d / "band.safetensors", n);  // input size = slice size: no resize either way
    const test::BandPhantom b = test::band_phantom(n, nz, sp);
    const int64_t gt = count(b.blood);
    REQUIRE(gt > 50);
    // Ground truth from the spacing alone (not through the affine or report.hpp).
    const double gt_ml = double(gt) * sp[0] * sp[1] * sp[2] / 1000.0;
    int64_t gt_slices = 0;
    for (int64_t k = 0; k < nz; ++k) {
        int64_t c = 0;
        for (int64_t i = 0; i < n * n; ++i) c += b.blood.slice(k)[i];
        gt_slices += c > 0;
    }
    for (auto mode : {predict::MaskResample::bilinear, predict::MaskResample::nearest}) {
        predict::SegmenterOptions o;
        o.resample = mode;
        Segmenter seg(d / "band.safetensors", "", "", o);
        const auto r = seg.segment(b.ct);
        INFO("resample " << predict::to_string(mode));
        CHECK(r.mask.voxels.to_vector() == b.blood.voxels.to_vector());
        CHECK(r.mask.affine == b.ct.affine);
        CHECK(r.report.voxels == gt);
        // Relative 1e-12: |det| of the diagonal affine and the spacing product differ by rounding only.
        CHECK(r.report.volume_ml == Approx(gt_ml).epsilon(1e-12));
        CHECK(r.report.slices_involved == gt_slices);
        CHECK(r.report.slices[0].voxels == 0);  // no blood on the first slice
        CHECK(r.report.slices[0].max_probability < 0.01f);
        CHECK(r.report.slices[size_t(nz - 1)].max_probability > 0.99f);
    }
}
