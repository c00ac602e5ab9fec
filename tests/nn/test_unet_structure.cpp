/// @file test_unet_structure.cpp
/// @brief U-Net parameter counts (SPEC §3 targets), state_dict names, and output shapes of the three networks.
#include <catch2/catch.hpp>

#include "ichseg/nn/unet.hpp"

using namespace ichseg;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_unet_structure {

TEST_CASE("UNet parameter counts match the paper's two width conventions", "[nn][unet]") {
    nn::UNetConfig cfg;
    cfg.mid_channels_factor = 2;
    CHECK(nn::UNet<float>(cfg).num_parameters() == 5409089);
    cfg.mid_channels_factor = 1;
    CHECK(nn::UNet<float>(cfg).num_parameters() == 7765409);
}

TEST_CASE("UNet parameter names are PyTorch state_dict keys", "[nn][unet]") {
    nn::UNet<float> net;
    auto params = net.named_parameters();
    REQUIRE(params.front().first == "encoder.blocks.0.conv1.weight");
    REQUIRE(params.back().first == "head.bias");
    bool found_up = false, found_bn = false;
    for (auto& [n, v] : params) found_up = found_up || n == "decoder.blocks.0.up.weight";
    for (auto& b : net.named_buffers()) found_bn = found_bn || b.name == "decoder.blocks.3.bn2.num_batches_tracked";
    CHECK(found_up);
    CHECK(found_bn);
}

}  // namespace test_unet_structure
