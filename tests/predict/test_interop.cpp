// PyTorch parity of the prediction path on committed golden values (tests/predict/golden, written by
// gen_predict_golden.py with tools/torch_interop.py): a model file written from PyTorch is read by ichseg, and
// ichseg's preprocessing and probabilities are compared with PyTorch's on the same HU volume. No Python needed.
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/io/safetensors.hpp"
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/predict/segmenter.hpp"

using namespace ichseg;

namespace {

std::string golden(const std::string& name) { return std::string(ICHSEG_PREDICT_GOLDEN_DIR) + "/" + name; }

struct ConvAlgorithmScope {
    ConvAlgorithm prev = default_conv_algorithm();
    explicit ConvAlgorithmScope(ConvAlgorithm a) { set_default_conv_algorithm(a); }
    ~ConvAlgorithmScope() { set_default_conv_algorithm(prev); }
};

double max_abs_diff(const Tensor<float>& a, const Tensor<double>& b) {
    REQUIRE(a.numel() == b.numel());
    double d = 0;
    for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(double(a.data()[i]) - b.data()[i]));
    return d;
}

}  // namespace

TEST_CASE("interop: ichseg probabilities equal PyTorch's on the golden model file and volume", "[predict][interop]") {
    predict::LoadedModel m = predict::load_segmentation_model(golden("interop_model.safetensors"), "ich", "golden");
    CHECK(m.info.input_size == 32);
    CHECK(m.info.unet.base_width == 4);
    const io::SafetensorsFile c = io::SafetensorsFile::read(golden("interop_case.safetensors"));
    io::Volume v;
    v.voxels = c.get<float>("hu");
    v.affine = io::Affine::diagonal(0.5, 0.5, 5);
    const Tensor<double> x64 = c.get<double>("x64"), p64 = c.get<double>("prob64");
    const Tensor<float> p32 = c.get<float>("prob32");
    REQUIRE(v.nz() == 3);

    // Preprocessing (window + anti-aliased resize 40 x 48 -> 32 x 32) against PyTorch's antialias=True bilinear
    // in float64: float32 rounding of a 4-tap-per-axis weighted sum of values in [0, 1] stays below 1e-6.
    {
        Tensor<float> x = Tensor<float>::empty({3, 32, 32});
        std::vector<float> win, tmp;
        for (int64_t k = 0; k < 3; ++k)
            predict::preprocess_slice(v.voxels.data() + k * 40 * 48, 40, 48, {-50.f, 150.f}, 32, x.data() + k * 1024, win, tmp);
        CHECK(max_abs_diff(x, x64) < 1e-6);
    }
    // Sanity of the golden itself: PyTorch float32 vs float64 differ by ~1e-6 at most.
    CHECK(max_abs_diff(p32, p64) < 5e-6);

    // Direct convolution (im2col + GEMM), like PyTorch's CPU path: fp32 accumulation-order differences only.
    // Measured max |ichseg - PyTorch fp64| ~1e-6 on probabilities in [0.001, 0.92]; bound 1e-5 (10x margin).
    {
        ConvAlgorithmScope s(ConvAlgorithm::Im2colGemm);
        const Tensor<float> p = predict::network_probabilities(m, v, 2);
        const double d = max_abs_diff(p, p64);
        INFO("max |ichseg(im2col) - torch fp64| = " << d);
        CHECK(d < 1e-5);
    }
    // The default (Winograd F(2x2,3x3) for eligible layers): its transforms add ~1e-6 relative rounding per layer
    // (docs/design.md); bound 5e-5 on probabilities.
    {
        const Tensor<float> p = predict::network_probabilities(m, v, 3);
        const double d = max_abs_diff(p, p64);
        INFO("max |ichseg(default) - torch fp64| = " << d);
        CHECK(d < 5e-5);
    }
}
