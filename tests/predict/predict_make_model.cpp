/// @file predict_make_model.cpp (tests/predict)
/// @brief Helper of the PyTorch round-trip test: writes an ichseg model file from C++ (nn::save_model), so that
/// the Python side reads a file that ichseg wrote. Random weights (seeded) and random batch-norm statistics and
/// affine parameters, so that eval-mode batch norm matters; the head weights are multiplied by HEAD_SCALE (default
/// 6) so that the logits spread and the probabilities compared are not near-constant.
///   predict_make_model OUT.safetensors SEED BASE_WIDTH DEPTH FACTOR INPUT_SIZE [HEAD_SCALE]
/// Also, for the DICOM SEG check (dicom_seg_highdicom_test.py): the hand-set "hyperdense band" model of
/// predict_test_util.hpp, whose mask is exactly the 55..100 HU pixels of a head slice at the model's input size:
///   predict_make_model --band OUT.safetensors INPUT_SIZE
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ichseg/ichseg.hpp"
#include "ichseg/nn/model_file.hpp"
#include "predict_test_util.hpp"

using namespace ichseg;

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--band") {
        try {
            test::write_band_model(argv[2], std::atoll(argv[3]));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "predict_make_model: %s\n", e.what());
            return 1;
        }
        return 0;
    }
    if (argc != 7 && argc != 8) {
        std::fprintf(stderr, "usage: %s OUT SEED BASE_WIDTH DEPTH FACTOR INPUT_SIZE [HEAD_SCALE]\n", argv[0]);
        return 2;
    }
    try {
        nn::UNetConfig c;
        c.base_width = std::atoll(argv[3]);
        c.depth = std::atoll(argv[4]);
        c.mid_channels_factor = std::atoll(argv[5]);
        Generator gen(static_cast<uint64_t>(std::atoll(argv[2])));
        nn::UNet<float> net(c, gen);
        NoGradGuard g;
        for (auto& [name, v] : net.named_parameters()) {
            const bool bn = name.find(".bn") != std::string::npos;
            Tensor<float>& t = v.mutable_value();
            if (!bn) continue;
            const bool weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
            for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = weight ? gen.uniform(0.5f, 1.5f) : gen.uniform(-0.3f, 0.3f);
        }
        for (auto& b : net.named_buffers()) {
            Tensor<float>& t = *b.tensor;
            const bool mean = b.name.find("running_mean") != std::string::npos;
            const bool var = b.name.find("running_var") != std::string::npos;
            for (int64_t i = 0; i < t.numel(); ++i) {
                if (mean) t.data()[i] = gen.uniform(-0.5f, 0.5f);
                else if (var) t.data()[i] = gen.uniform(0.5f, 2.0f);
                else t.data()[i] = 3;  // num_batches_tracked
            }
        }
        Tensor<float>& hw = net.head->weight.mutable_value();
        const float head_scale = argc == 8 ? std::strtof(argv[7], nullptr) : 6.0f;
        for (int64_t i = 0; i < hw.numel(); ++i) hw.data()[i] *= head_scale;
        nn::ModelInfo info;
        info.input_size = std::atoll(argv[6]);
        info.target = "ich";
        info.description = "predict_make_model seed " + std::string(argv[2]);
        nn::save_model(net, info, argv[1]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "predict_make_model: %s\n", e.what());
        return 1;
    }
    return 0;
}
