/// @file test_checkpoint.cpp
/// @brief Checkpoints: save/load round trip with PyTorch keys and dtypes, strict-load errors (missing key,
/// wrong shape, unexpected key, corrupt file) that name the key and both shapes and leave the model untouched,
/// and the partial (transfer) load report.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>

#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/unet.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_checkpoint {

namespace {
nn::UNetConfig small() {
    nn::UNetConfig c;
    c.base_width = 4;
    c.depth = 3;
    return c;
}
std::string tmp_path(const std::string& name) { return std::string(ICHSEG_TEST_BINARY_DIR) + "/" + name; }

/// Every parameter and buffer value of a module, in state_dict order.
std::vector<std::vector<float>> snapshot(const nn::Module<float>& m) {
    std::vector<std::vector<float>> out;
    for (auto& [n, v] : m.named_parameters()) out.push_back(v.value().to_vector());
    for (auto& b : m.named_buffers()) out.push_back(b.tensor->to_vector());
    return out;
}

/// A safetensors file holding the state of `m`, edited by `edit(writer-side map)`.
void write_edited(const nn::Module<float>& m, const std::string& path,
                  const std::function<void(std::map<std::string, Tensor<float>>&)>& edit) {
    std::map<std::string, Tensor<float>> t;
    for (auto& [n, v] : m.named_parameters()) t[n] = v.value();
    for (auto& b : m.named_buffers()) t[b.name] = *b.tensor;
    edit(t);
    io::SafetensorsWriter w;
    for (auto& [k, v] : t) w.add(k, v, k.find("num_batches_tracked") != std::string::npos ? "I64" : "F32");
    w.write(path);
}
}  // namespace

TEST_CASE("save_state_dict / load_state_dict round trip with PyTorch keys and dtypes", "[nn][checkpoint]") {
    manual_seed(1);
    nn::UNet<float> a(small());
    a.train();
    a(Var<float>(Tensor<float>::full({2, 1, 8, 8}, 0.5f)));  // move BN statistics, num_batches_tracked = 1
    const std::string path = tmp_path("ckpt_roundtrip.safetensors");
    nn::save_state_dict(a, path, {{"epoch", "3"}});
    const auto f = io::SafetensorsFile::read(path);
    CHECK(f.metadata().at("format") == "pt");
    CHECK(f.metadata().at("epoch") == "3");
    CHECK(f.entry("encoder.blocks.0.conv1.weight").dtype == "F32");
    CHECK(f.entry("encoder.blocks.0.bn1.num_batches_tracked").dtype == "I64");
    CHECK(f.entry("encoder.blocks.0.bn1.num_batches_tracked").shape == Shape{});
    CHECK(f.keys().size() == a.named_parameters().size() + a.named_buffers().size());
    manual_seed(2);
    nn::UNet<float> b(small());
    CHECK(snapshot(a) != snapshot(b));
    nn::load_state_dict(b, path);
    CHECK(snapshot(a) == snapshot(b));
    CHECK(b.encoder->blocks[0]->bn1->num_batches_tracked.data()[0] == 1.f);
    std::remove(path.c_str());
}

TEST_CASE("strict load: missing key, wrong shape, unexpected key give errors naming the key and the shapes",
          "[nn][checkpoint][bad_input]") {
    manual_seed(3);
    nn::UNet<float> src(small());
    manual_seed(4);
    nn::UNet<float> dst(small());
    const auto before = snapshot(dst);
    const std::string path = tmp_path("ckpt_bad.safetensors");

    write_edited(src, path, [](auto& t) { t.erase("decoder.blocks.1.conv2.weight"); });
    ICHSEG_REQUIRE_ERROR(nn::load_state_dict(dst, path),
                         {path, "missing key 'decoder.blocks.1.conv2.weight'", "[4, 4, 3, 3]"});

    write_edited(src, path, [](auto& t) { t["encoder.blocks.1.bn2.running_var"] = Tensor<float>::zeros({5}); });
    ICHSEG_REQUIRE_ERROR(nn::load_state_dict(dst, path),
                         {path, "'encoder.blocks.1.bn2.running_var'", "[5]", "[8]"});

    write_edited(src, path, [](auto& t) { t["head.weight"] = Tensor<float>::zeros({1, 4, 3, 3}); });
    ICHSEG_REQUIRE_ERROR(nn::load_state_dict(dst, path), {path, "'head.weight'", "[1, 4, 3, 3]", "[1, 4, 1, 1]"});

    write_edited(src, path, [](auto& t) { t["extra.weight"] = Tensor<float>::zeros({2}); });
    ICHSEG_REQUIRE_ERROR(nn::load_state_dict(dst, path), {path, "unexpected", "'extra.weight'"});

    // nothing was copied by any failed load
    CHECK(snapshot(dst) == before);

    // a corrupt file: a clear error, the model untouched
    {
        std::string bytes;
        {
            std::ifstream in(path, std::ios::binary);
            bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<long>(bytes.size() / 2));
    }
    ICHSEG_REQUIRE_ERROR(nn::load_state_dict(dst, path), {path, "truncated"});
    CHECK(snapshot(dst) == before);
    std::remove(path.c_str());
}

TEST_CASE("load_matching copies by name and shape and reports the rest (transfer learning)", "[nn][checkpoint]") {
    nn::UNetConfig cfg = small();
    manual_seed(5);
    nn::EncoderMLP<float> pre(cfg, {16, 8, 2});  // pretext model: encoder + MLP head
    const std::string path = tmp_path("ckpt_transfer.safetensors");
    nn::save_state_dict(pre, path);
    manual_seed(6);
    nn::UNet<float> net(cfg);
    const auto dec_before = net.decoder->blocks[0]->conv1->weight.value().to_vector();
    const auto r = nn::load_matching(net, path);
    // every encoder tensor (parameters and BN buffers) copied; the decoder and head kept; MLP head unused
    const size_t enc = net.encoder->named_parameters().size() + net.encoder->named_buffers().size();
    CHECK(r.copied.size() == enc);
    CHECK(r.shape_mismatch.empty());
    CHECK(r.unused.size() == 4u);  // mlp_head.0.weight/bias, mlp_head.2.weight/bias
    CHECK(r.missing.size() == net.named_parameters().size() + net.named_buffers().size() - enc);
    CHECK(net.encoder->blocks[2]->conv2->weight.value().to_vector() ==
          pre.encoder->blocks[2]->conv2->weight.value().to_vector());
    CHECK(net.decoder->blocks[0]->conv1->weight.value().to_vector() == dec_before);
    CHECK(r.summary().find("copied " + std::to_string(enc)) != std::string::npos);
    // a shape mismatch is reported, not fatal
    nn::UNetConfig wide = cfg;
    wide.base_width = 8;
    nn::UNet<float> other(wide);
    const auto r2 = nn::load_matching(other, path);
    CHECK(r2.copied.empty() == false);  // num_batches_tracked scalars match in shape
    CHECK(r2.shape_mismatch.size() > 0);
    CHECK(r2.summary().find("shape mismatch") != std::string::npos);
    std::remove(path.c_str());
}

TEST_CASE("load_matching never copies a head across network types, even when its shapes would fit",
          "[nn][checkpoint]") {
    // With one name "head" for all three types, EncoderMLP {b, 8, 2} and PartialUNet {f, 8, 4} had a head.0.bias
    // of shape [8] each, and a U-Net head of shape [1, w, 1, 1] fits a projection head {w, 1}: a transfer by
    // name and shape copied them. The names now differ per type, so only encoder / decoder tensors move.
    nn::UNetConfig cfg = small();
    const int64_t b = cfg.width(cfg.depth - 1), f = cfg.width(cfg.depth - 2);
    manual_seed(11);
    nn::EncoderMLP<float> mlp(cfg, {b, 8, 2});
    nn::PartialUNet<float> proj(cfg, 1, {f, 8, 4});
    nn::PartialUNet<float> proj_w(cfg, cfg.depth - 1, {cfg.base_width, 1});  // head shaped like the U-Net's
    nn::UNet<float> unet(cfg);
    const std::string pm = tmp_path("ckpt_head_mlp.safetensors"), pp = tmp_path("ckpt_head_proj.safetensors"),
                      pw = tmp_path("ckpt_head_projw.safetensors"), pu = tmp_path("ckpt_head_unet.safetensors");
    nn::save_state_dict(mlp, pm);
    nn::save_state_dict(proj, pp);
    nn::save_state_dict(proj_w, pw);
    nn::save_state_dict(unet, pu);
    auto no_head_copied = [](const nn::TransferReport& r) {
        for (const auto& k : r.copied)
            if (k.find("head") != std::string::npos) return false;
        return !r.copied.empty();
    };
    manual_seed(12);
    nn::PartialUNet<float> proj2(cfg, 1, {f, 8, 4});
    CHECK(no_head_copied(nn::load_matching(proj2, pm)));  // MLP head -> projection head: nothing
    nn::EncoderMLP<float> mlp2(cfg, {b, 8, 2});
    CHECK(no_head_copied(nn::load_matching(mlp2, pp)));   // projection head -> MLP head: nothing
    nn::UNet<float> unet2(cfg);
    const auto head_before = unet2.head->weight.value().to_vector();
    CHECK(no_head_copied(nn::load_matching(unet2, pw)));  // a projection head shaped like the U-Net head
    CHECK(no_head_copied(nn::load_matching(unet2, pm)));
    CHECK(unet2.head->weight.value().to_vector() == head_before);
    nn::PartialUNet<float> proj_w2(cfg, cfg.depth - 1, {cfg.base_width, 1});
    CHECK(no_head_copied(nn::load_matching(proj_w2, pu)));  // and the U-Net head into a projection head
    // Within one type the head does transfer (context restoration: U-Net -> U-Net).
    const nn::TransferReport same = nn::load_matching(unet2, pu);
    CHECK(std::find(same.copied.begin(), same.copied.end(), "head.weight") != same.copied.end());
    for (const auto& p : {pm, pp, pw, pu}) std::remove(p.c_str());
}

TEST_CASE("load_state_dict reads the state_dict PyTorch wrote (I64 num_batches_tracked)", "[nn][checkpoint][golden]") {
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 4;
    nn::UNet<float> net(cfg);
    nn::load_state_dict(net, golden_path("unet_state"));
    const auto& f = golden("unet_state");
    for (auto& [name, v] : net.named_parameters()) REQUIRE(v.value().to_vector() == f.get<float>(name).to_vector());
    for (auto& b : net.named_buffers()) REQUIRE(b.tensor->to_vector() == f.get<float>(b.name).to_vector());
    CHECK(net.decoder->blocks[2]->bn2->num_batches_tracked.data()[0] == 3.f);
    // and a model of another size is refused with the key and both shapes
    nn::UNetConfig other = cfg;
    other.base_width = 8;
    nn::UNet<float> wrong(other);
    ICHSEG_REQUIRE_ERROR(nn::load_state_dict(wrong, golden_path("unet_state")),
                         {"unet_state.safetensors", "'encoder.blocks.0.conv1.weight'", "[2, 1, 3, 3]", "[4, 1, 3, 3]"});
}

}  // namespace test_checkpoint
