// Model files as untrusted input (nn/model_info.hpp, nn/model_file.hpp): the state dict computed from a
// configuration equals a built U-Net's; every malformed or hostile metadata value is refused with the file's name
// before anything is allocated from it; the tensors are compared with the configuration before the network is built.
#include <catch2/catch.hpp>

#include <chrono>

#include "ichseg/nn/model_file.hpp"
#include "io/io_test_util.hpp"

using namespace ichseg;
using Catch::Matchers::Contains;

namespace test_model_file {

/// A model file with the given metadata (ichseg.unet as raw JSON text) and the tensors of `tensors_of` (the
/// state dict of that configuration, or none).
void write_model(const std::string& path, const std::string& unet_json, const std::string& window = "[-50, 150]",
                 const std::string& input_size = "64", const nn::UNetConfig* tensors_of = nullptr,
                 const char* dtype = nullptr) {
    io::SafetensorsWriter w;
    if (tensors_of)
        for (const auto& [key, e] : nn::unet_state_shapes(*tensors_of))
            w.add(key, Tensor<float>::zeros(e.shape), dtype && std::string(e.dtype) == "F32" ? dtype : e.dtype);
    w.set_metadata("ichseg.model", "UNet");
    w.set_metadata("ichseg.unet", unet_json);
    w.set_metadata("ichseg.window", window);
    w.set_metadata("ichseg.input_size", input_size);
    w.write(path);
}

nn::UNetConfig small_config() {
    nn::UNetConfig c;
    c.base_width = 4;
    c.depth = 3;
    c.mid_channels_factor = 2;
    return c;
}

}  // namespace test_model_file

using namespace test_model_file;

TEST_CASE("model file: the state dict of a configuration equals the built U-Net's", "[predict][model]") {
    for (int64_t in : {1, 3})
        for (int64_t out : {1, 2})
            for (int64_t base : {2, 4, 6})
                for (int64_t depth : {2, 3, 5})
                    for (int64_t factor : {1, 2}) {
                        nn::UNetConfig c;
                        c.in_channels = in;
                        c.out_channels = out;
                        c.base_width = base;
                        c.depth = depth;
                        c.mid_channels_factor = factor;
                        const nn::UNet<float> net(c);
                        std::map<std::string, nn::StateEntry> built;
                        for (auto& [name, v] : net.named_parameters()) built[name] = {v.value().shape(), "F32"};
                        for (auto& b : net.named_buffers()) built[b.name] = {b.tensor->shape(), b.file_dtype ? b.file_dtype : "F32"};
                        const auto calc = nn::unet_state_shapes(c);
                        INFO("in " << in << " out " << out << " base " << base << " depth " << depth << " factor " << factor);
                        REQUIRE(calc.size() == built.size());
                        for (const auto& [k, e] : built) {
                            INFO(k);
                            REQUIRE(calc.count(k) == 1);
                            CHECK(calc.at(k).shape == e.shape);
                            CHECK(std::string(calc.at(k).dtype) == e.dtype);
                        }
                    }
}

TEST_CASE("model file: hostile or malformed metadata is refused, naming the file, before any allocation",
          "[predict][model][bad-input]") {
    test::TempDir d;
    const std::string f = d / "m.safetensors";
    auto refused = [&](const std::string& unet, const std::string& why, const std::string& window = "[-50, 150]",
                       const std::string& input_size = "64") {
        write_model(f, unet, window, input_size);
        CHECK_THROWS_WITH(nn::load_model<float>(f), Contains("m.safetensors") && Contains(why));
    };
    const std::string ok_tail = R"("depth": 3, "mid_channels_factor": 2})";
    const std::string head = R"({"in_channels": 1, "out_channels": 1, )";
    // Values nlohmann would convert with undefined behaviour or that overflow the width shifts.
    refused(head + R"("base_width": 1e300, )" + ok_tail, "'base_width' must be an integer in [1, 4096], got 1e+300");
    refused(head + R"("base_width": 4611686018427387904, )" + ok_tail, "'base_width' must be an integer in [1, 4096]");
    refused(head + R"("base_width": 18446744073709551615, )" + ok_tail, "'base_width' must be an integer");
    refused(R"({"in_channels": -1, "out_channels": 1, "base_width": 4, )" + ok_tail, "'in_channels' must be an integer");
    refused(R"({"in_channels": 1.5, "out_channels": 1, "base_width": 4, )" + ok_tail, "'in_channels' must be an integer");
    refused(R"({"in_channels": "1", "out_channels": 1, "base_width": 4, )" + ok_tail, "'in_channels' must be an integer");
    refused(head + R"("base_width": 4, "depth": 9, "mid_channels_factor": 2})", "'depth' must be an integer in [2, 8]");
    refused(head + R"("base_width": 4, "depth": 3, "mid_channels_factor": 3})", "'mid_channels_factor' must be");
    refused(head + R"("base_width": 1, "depth": 3, "mid_channels_factor": 2})", "smaller than mid_channels_factor");
    refused(head + R"("base_width": 4, "depth": 3})", "ichseg.unet has no 'mid_channels_factor'");
    refused(head + R"("base_width": 4, "depth": 3, "mid_channels_factor": 2, "sigmoid": "yes"})", "'sigmoid' must be");
    refused("[1, 2]", "ichseg.unet is not a JSON object");
    refused("{not json", "malformed model metadata");
    const std::string good = head + R"("base_width": 4, )" + ok_tail;
    refused(good, "invalid window [5, 5]", "[5, 5]");
    refused(good, "ichseg.window must be [lo, hi]", R"(["a", 1])");
    refused(good, "ichseg.window must be [lo, hi]", "[1]");
    refused(good, "ichseg.input_size '12abc' is not a pixel count", "[-50, 150]", "12abc");
    refused(good, "ichseg.input_size '99999999999' is not a pixel count", "[-50, 150]", "99999999999");
    refused(good, "input size 66 must be a multiple of 4", "[-50, 150]", "66");
    refused(good, "input size 0 must be", "[-50, 150]", "0");
}

TEST_CASE("model file: the tensors must be the configured U-Net's, checked before it is built", "[predict][model][bad-input]") {
    test::TempDir d;
    const nn::UNetConfig c = small_config();
    const std::string unet = nn::unet_config_json(c).dump();
    SECTION("a 300-byte file asking for the largest allowed U-Net is refused at once") {
        // Before this check, load_model built the network first: base width 4096 at depth 8 asks for terabytes
        // (such a 300-byte file kept ichseg_predict allocating and initialising gigabytes for a minute, under an 8 GB
        // address-space limit, before it failed).
        write_model(d / "huge.safetensors",
                    R"({"in_channels": 1, "out_channels": 1, "base_width": 4096, "depth": 8, "mid_channels_factor": 2})",
                    "[-50, 150]", "256");
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_THROWS_WITH(nn::load_model<float>(d / "huge.safetensors"),
                          Contains("huge.safetensors: missing key 'decoder.blocks.0.bn1.bias'"));
        CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5.0);
    }
    SECTION("a wrong shape, a missing and an extra tensor") {
        nn::UNetConfig other = c;
        other.base_width = 8;
        write_model(d / "shape.safetensors", unet, "[-50, 150]", "64", &other);
        CHECK_THROWS_WITH(nn::load_model<float>(d / "shape.safetensors"),
                          Contains("shape.safetensors: key 'decoder.blocks.0.bn1.bias' has shape [16] in the file but "
                                   "the U-Net of ichseg.unet needs [8]"));
        io::SafetensorsWriter w;
        for (const auto& [key, e] : nn::unet_state_shapes(c))
            if (key != "head.bias") w.add(key, Tensor<float>::zeros(e.shape), e.dtype);
        w.add("extra.weight", Tensor<float>::zeros({2}));
        for (const auto& kv : nn::model_metadata(nn::ModelInfo{c, -50, 150, 64, "ich", ""})) w.set_metadata(kv.first, kv.second);
        w.write(d / "keys.safetensors");
        CHECK_THROWS_WITH(nn::load_model<float>(d / "keys.safetensors"), Contains("missing key 'head.bias'"));
        w.add("head.bias", Tensor<float>::zeros({1}));
        w.write(d / "keys2.safetensors");
        CHECK_THROWS_WITH(nn::load_model<float>(d / "keys2.safetensors"),
                          Contains("keys2.safetensors: unexpected keys not in the model: 'extra.weight'"));
    }
    SECTION("a valid file loads, whatever numeric dtype its weights are stored in") {
        for (const char* dt : {"F32", "BF16", "F64"}) {
            write_model(d / "ok.safetensors", unet, "[-50, 150]", "64", &c, dt);
            nn::ModelInfo info;
            const auto net = nn::load_model<float>(d / "ok.safetensors", &info);
            CHECK(net->config().base_width == 4);
            CHECK(info.input_size == 64);
        }
    }
}
