/// @file test_modules.cpp
/// @brief nn::Module behaviour: train/eval propagation, BatchNorm2d buffers and num_batches_tracked, Dropout
/// in eval, Sequential naming, freezing, PyTorch default initialisation bounds, network construction errors.
#include <catch2/catch.hpp>

#include "ichseg/nn/unet.hpp"
#include "ichseg/ops/arithmetic.hpp"
#include "ichseg/optim/adam.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_modules {

TEST_CASE("train() / eval() propagate to every submodule", "[nn][module]") {
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 3;
    nn::UNet<float> net(cfg);
    CHECK(net.is_training());
    net.eval();
    CHECK_FALSE(net.is_training());
    CHECK_FALSE(net.encoder->blocks[1]->bn2->is_training());
    CHECK_FALSE(net.decoder->blocks[0]->up->is_training());
    net.train();
    CHECK(net.decoder->blocks[1]->bn1->is_training());
}

TEST_CASE("BatchNorm2d: batch statistics and counting in train mode, running statistics in eval mode",
          "[nn][module][batchnorm2d]") {
    nn::BatchNorm2d<double> bn(3);
    CHECK(bn.running_mean.to_vector() == std::vector<double>(3, 0.0));
    CHECK(bn.running_var.to_vector() == std::vector<double>(3, 1.0));
    CHECK(bn.weight.value().to_vector() == std::vector<double>(3, 1.0));
    CHECK(bn.bias.value().to_vector() == std::vector<double>(3, 0.0));
    const auto x = uniform<double>({4, 3, 5, 5}, 1, 2.0, 4.0);
    Var<double> y = bn(Var<double>(x));
    CHECK(bn.num_batches_tracked.data()[0] == 1.0);
    // train mode output has zero mean per channel, running mean moved 10% towards the batch mean (~3)
    double m = 0;
    for (int64_t n = 0; n < 4; ++n)
        for (int64_t i = 0; i < 25; ++i) m += y.value().data()[(n * 3 + 1) * 25 + i];
    CHECK(std::abs(m / 100) < 1e-12);
    CHECK(bn.running_mean(1) == Approx(0.3).epsilon(0.05));
    bn.eval();
    const auto rm = bn.running_mean.clone();
    Var<double> ye = bn(Var<double>(x));
    CHECK(bn.num_batches_tracked.data()[0] == 1.0);  // not counted in eval mode
    CHECK(bn.running_mean.to_vector() == rm.to_vector());
    CHECK(ye.value()(0, 1, 0, 0) ==
          Approx((x(0, 1, 0, 0) - bn.running_mean(1)) / std::sqrt(bn.running_var(1) + 1e-5)).epsilon(1e-13));
    // fused ReLU equals relu(bn(x))
    Var<double> yr = bn.forward_relu(Var<double>(x));
    for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(yr.value().data()[i] == std::max(0.0, ye.value().data()[i]));
    // a failed forward (wrong channel count) changes no state
    bn.train();
    ICHSEG_REQUIRE_ERROR(bn(Var<double>(uniform<double>({2, 4, 3, 3}, 5))), {"batchnorm2d", "[2, 4, 3, 3]"});
    CHECK(bn.num_batches_tracked.data()[0] == 1.0);
    CHECK(bn.running_mean.to_vector() == rm.to_vector());
    auto names = bn.named_buffers();
    REQUIRE(names.size() == 3u);
    CHECK(names[2].name == "num_batches_tracked");
    CHECK(std::string(names[2].file_dtype) == "I64");
}

TEST_CASE("Dropout module: active in train mode, identity in eval mode", "[nn][module]") {
    nn::Dropout<float> d(0.5);
    const auto x = Tensor<float>::full({1000}, 1.f);
    auto yt = d(Var<float>(x)).value().to_vector();
    CHECK(std::count(yt.begin(), yt.end(), 0.f) > 300);
    d.eval();
    CHECK(d(Var<float>(x)).value().to_vector() == x.to_vector());
    ICHSEG_REQUIRE_ERROR(nn::Dropout<float>(1.5), {"Dropout", "1.5"});
}

TEST_CASE("Sequential names children by position, parameter-free layers included (PyTorch keys)", "[nn][module]") {
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 3;
    nn::EncoderMLP<float> m(cfg, {16, 12, 8, 2});
    std::vector<std::string> head;
    for (auto& [n, v] : m.named_parameters())
        if (n.rfind("mlp_head.", 0) == 0) head.push_back(n);
    CHECK(head == std::vector<std::string>({"mlp_head.0.weight", "mlp_head.0.bias", "mlp_head.2.weight",
                                            "mlp_head.2.bias", "mlp_head.4.weight", "mlp_head.4.bias"}));
    const auto y = m(Var<float>(uniform<float>({2, 1, 8, 8}, 2)));
    CHECK(y.shape() == Shape{2, 2});
    ICHSEG_REQUIRE_ERROR(nn::EncoderMLP<float>(cfg, {32, 2}), {"EncoderMLP", "16"});
}

TEST_CASE("PyTorch default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases",
          "[nn][module][init]") {
    Generator g(3);
    nn::Conv2d<float> conv(16, 8, 3, Conv2dParams::same(3), true, g);
    nn::ConvTranspose2d<float> up(16, 8, 2, 2, true, g);
    nn::Linear<float> lin(50, 7, true, g);
    auto check = [](const Tensor<float>& t, double bound) {
        double lo = 0, hi = 0;
        for (float v : t.to_vector()) {
            lo = std::min<double>(lo, v);
            hi = std::max<double>(hi, v);
        }
        CHECK(lo >= -bound);
        CHECK(hi <= bound);
        CHECK(hi - lo > bound);  // spread over the interval, not all zero
    };
    check(conv.weight.value(), 1 / std::sqrt(16.0 * 9));
    check(conv.bias.value(), 1 / std::sqrt(16.0 * 9));
    check(up.weight.value(), 1 / std::sqrt(8.0 * 4));  // PyTorch: fan-in of a transposed conv = weight.size(1) k^2
    check(lin.weight.value(), 1 / std::sqrt(50.0));
    CHECK(up.weight.shape() == Shape{16, 8, 2, 2});
}

TEST_CASE("freezing a subtree: no gradients, Adam leaves it unchanged", "[nn][module]") {
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 3;
    nn::UNet<float> net(cfg);
    net.encoder->set_requires_grad(false);
    const auto enc_w = net.encoder->blocks[0]->conv1->weight.value().clone();
    const auto dec_w = net.decoder->blocks[0]->conv1->weight.value().clone();
    optim::Adam<float> opt(net.parameters());
    Var<float> y = net(Var<float>(uniform<float>({2, 1, 8, 8}, 3)));
    mean(y).backward();
    CHECK_FALSE(net.encoder->blocks[0]->conv1->weight.grad().defined());
    CHECK(net.decoder->blocks[0]->conv1->weight.grad().defined());
    opt.step();
    CHECK(net.encoder->blocks[0]->conv1->weight.value().to_vector() == enc_w.to_vector());
    CHECK(net.decoder->blocks[0]->conv1->weight.value().to_vector() != dec_w.to_vector());
}

TEST_CASE("network construction and input errors name the module and the values", "[nn][module][bad_input]") {
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 3;
    nn::UNet<float> net(cfg);
    ICHSEG_REQUIRE_ERROR(net(Var<float>(uniform<float>({2, 1, 10, 8}, 1))), {"UNet", "multiples of 4", "[2, 1, 10, 8]"});
    ICHSEG_REQUIRE_ERROR(net(Var<float>(uniform<float>({2, 3, 8, 8}, 1))), {"UNet", "[2, 3, 8, 8]"});
    nn::UNetConfig bad = cfg;
    bad.mid_channels_factor = 3;
    ICHSEG_REQUIRE_ERROR(nn::UNet<float>{bad}, {"mid_channels_factor", "3"});
    bad = cfg;
    bad.depth = 1;
    ICHSEG_REQUIRE_ERROR(nn::UNet<float>{bad}, {"UNetConfig", "depth 1"});
    // asking for more decoder blocks than the encoder has levels
    ICHSEG_REQUIRE_ERROR((nn::PartialUNet<float>{cfg, 3}), {"PartialUNet", "3 decoder blocks", "depth 3"});
    ICHSEG_REQUIRE_ERROR((nn::PartialUNet<float>{cfg, 0}), {"PartialUNet", "0 decoder blocks"});
    ICHSEG_REQUIRE_ERROR(nn::Conv2d<float>(0, 4, 3), {"Conv2d", "in=0"});
    ICHSEG_REQUIRE_ERROR(nn::Linear<float>(4, -1), {"Linear", "out=-1"});
    nn::UpBlock<float> up(8);  // needs the skip connection too
    ICHSEG_REQUIRE_ERROR(up(Var<float>(uniform<float>({1, 8, 2, 2}, 2))), {"UpBlock", "single-input"});
}

}  // namespace test_modules
