/// @file unet.hpp (nn)
/// @brief The study's networks (SPEC §3): the 2-D U-Net, its encoder with an MLP head (global contrastive and
/// classification pretext tasks) and the partial U-Net with a 1x1-conv head (local contrastive).
///
/// All three share the child names "encoder" (blocks.0 .. blocks.{depth-1}) and "decoder" (blocks.0 ..), so
/// transfer learning copies weights by name and shape; their last parts have distinct names ("head",
/// "mlp_head", "projection_head"), so no head is ever copied from one network type into another. Parameter names equal the PyTorch state_dict keys of
/// benchmarks/reference/ichseg_torch.py. Paper configuration: base width 32, depth 5, 256x256 input.
#pragma once

#include <vector>

#include "ichseg/autograd/grad_mode.hpp"
#include "ichseg/nn/activation.hpp"
#include "ichseg/nn/batchnorm2d.hpp"
#include "ichseg/nn/container.hpp"
#include "ichseg/nn/conv2d.hpp"
#include "ichseg/nn/conv_transpose2d.hpp"
#include "ichseg/nn/linear.hpp"
#include "ichseg/nn/unet_config.hpp"
#include "ichseg/ops/concat.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/ops/max_pool2d.hpp"

namespace ichseg::nn {

/// relu(bn(conv(x))), the U-Net blocks' unit. In evaluation mode (bn not training) with no tape being recorded
/// (NoGradGuard, as predict/ and the study's evaluation run) it is one convolution whose epilogue applies the batch
/// norm's running-statistics affine map and the ReLU (conv2d_bn_fprop_infer; equal to the two modules up to the
/// rounding of one multiply-add). Otherwise (training, or evaluation with gradients) the two modules run as they
/// always have, so training is unchanged bit for bit.
template <class T>
Var<T> conv_bn_relu(Conv2d<T>& conv, BatchNorm2d<T>& bn, const Var<T>& x) {
    if (bn.is_training() || grad_enabled()) return bn.forward_relu(conv.forward(x));
    const Tensor<T> cb = conv.bias.defined() ? conv.bias.value() : Tensor<T>();
    const Tensor<T> gamma = bn.weight.defined() ? bn.weight.value() : Tensor<T>();
    const Tensor<T> beta = bn.bias.defined() ? bn.bias.value() : Tensor<T>();
    return Var<T>(conv2d_bn_fprop_infer(x.value(), conv.weight.value(), cb, gamma, beta, bn.running_mean,
                                        bn.running_var, conv.params(), bn.params(true)));
}

/// conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU (BN + ReLU fused; in inference also with the conv: conv_bn_relu).
template <class T = float>
class DownBlock : public Module<T> {
public:
    DownBlock(int64_t in, int64_t mid, int64_t out, Generator& gen = default_generator()) {
        conv1 = this->register_module("conv1", std::make_shared<Conv2d<T>>(in, mid, 3, Conv2dParams::same(3), true, gen));
        bn1 = this->register_module("bn1", std::make_shared<BatchNorm2d<T>>(mid));
        conv2 = this->register_module("conv2", std::make_shared<Conv2d<T>>(mid, out, 3, Conv2dParams::same(3), true, gen));
        bn2 = this->register_module("bn2", std::make_shared<BatchNorm2d<T>>(out));
    }
    Var<T> forward(const Var<T>& x) override { return conv_bn_relu(*conv2, *bn2, conv_bn_relu(*conv1, *bn1, x)); }
    std::string type_name() const override { return "DownBlock"; }

    std::shared_ptr<Conv2d<T>> conv1, conv2;
    std::shared_ptr<BatchNorm2d<T>> bn1, bn2;
};

/// 2x2 stride-2 transposed conv (in -> in/2), cat([skip, up]), then conv in -> in/2, conv in/2 -> in/2.
template <class T = float>
class UpBlock : public Module<T> {
public:
    explicit UpBlock(int64_t in, Generator& gen = default_generator()) {
        const int64_t c = in / 2;
        up = this->register_module("up", std::make_shared<ConvTranspose2d<T>>(in, c, 2, 2, true, gen));
        conv1 = this->register_module("conv1", std::make_shared<Conv2d<T>>(2 * c, c, 3, Conv2dParams::same(3), true, gen));
        bn1 = this->register_module("bn1", std::make_shared<BatchNorm2d<T>>(c));
        conv2 = this->register_module("conv2", std::make_shared<Conv2d<T>>(c, c, 3, Conv2dParams::same(3), true, gen));
        bn2 = this->register_module("bn2", std::make_shared<BatchNorm2d<T>>(c));
    }
    Var<T> forward(const Var<T>& x, const Var<T>& skip) {
        Var<T> u = concat<T>({skip, up->forward(x)}, 1);
        return conv_bn_relu(*conv2, *bn2, conv_bn_relu(*conv1, *bn1, u));
    }
    std::string type_name() const override { return "UpBlock"; }

    std::shared_ptr<ConvTranspose2d<T>> up;
    std::shared_ptr<Conv2d<T>> conv1, conv2;
    std::shared_ptr<BatchNorm2d<T>> bn1, bn2;
};

/// Encoder blocks with 2x2 max-pooling between them; forward() returns the bottleneck.
template <class T = float>
class UNetEncoder : public Module<T> {
public:
    explicit UNetEncoder(const UNetConfig& cfg, Generator& gen = default_generator())
        : cfg_(cfg), dropout_gen_(gen.seed() ^ (gen.next_stream() * 0x9E3779B97F4A7C15ull)) {
        cfg.validate();
        auto list = this->register_module("blocks", std::make_shared<ModuleList<T>>());
        int64_t in = cfg.in_channels;
        for (int64_t i = 0; i < cfg.depth; ++i) {
            const int64_t out = cfg.width(i);
            blocks.push_back(list->push_back(std::make_shared<DownBlock<T>>(in, out / cfg.mid_channels_factor, out, gen)));
            in = out;
        }
    }
    /// Output of every block, shallowest first (the last is the bottleneck).
    std::vector<Var<T>> forward_features(const Var<T>& x) {
        cfg_.check_input(x.shape());
        std::vector<Var<T>> feats;
        Var<T> h = x;
        for (size_t i = 0; i < blocks.size(); ++i) {
            if (i > 0) h = max_pool2d(h);
            h = blocks[i]->forward(h);
            if (cfg_.dropout > 0) h = dropout(h, cfg_.dropout, this->is_training(), dropout_gen_);
            feats.push_back(h);
        }
        return feats;
    }
    Var<T> forward(const Var<T>& x) override { return forward_features(x).back(); }
    std::string type_name() const override { return "UNetEncoder"; }
    const UNetConfig& config() const { return cfg_; }

    std::vector<std::shared_ptr<DownBlock<T>>> blocks;

private:
    UNetConfig cfg_;
    Generator dropout_gen_;
};

/// The first n_blocks decoder blocks (depth - 1 for a full U-Net).
template <class T = float>
class UNetDecoder : public Module<T> {
public:
    UNetDecoder(const UNetConfig& cfg, int64_t n_blocks, Generator& gen = default_generator()) {
        ICHSEG_CHECK(n_blocks >= 1 && n_blocks <= cfg.depth - 1, "UNetDecoder: ", n_blocks,
                     " blocks requested, depth ", cfg.depth, " allows 1..", cfg.depth - 1);
        auto list = this->register_module("blocks", std::make_shared<ModuleList<T>>());
        for (int64_t i = 0; i < n_blocks; ++i)
            blocks.push_back(list->push_back(std::make_shared<UpBlock<T>>(cfg.width(cfg.depth - 1 - i), gen)));
    }
    /// feats: the encoder's forward_features().
    Var<T> forward_features(const std::vector<Var<T>>& feats) {
        ICHSEG_CHECK(feats.size() >= blocks.size() + 1, "UNetDecoder: ", feats.size(), " encoder features for ",
                     blocks.size(), " blocks");
        Var<T> h = feats.back();
        for (size_t i = 0; i < blocks.size(); ++i) h = blocks[i]->forward(h, feats[feats.size() - 2 - i]);
        return h;
    }
    std::string type_name() const override { return "UNetDecoder"; }

    std::vector<std::shared_ptr<UpBlock<T>>> blocks;
};

/// The 2-D U-Net: encoder, decoder, 1x1 "head" conv, optional sigmoid.
template <class T = float>
class UNet : public Module<T> {
public:
    explicit UNet(const UNetConfig& cfg = {}, Generator& gen = default_generator());
    ~UNet() override;
    /// Logits (before the sigmoid).
    Var<T> forward_logits(const Var<T>& x) { return head->forward(decoder->forward_features(encoder->forward_features(x))); }
    Var<T> forward(const Var<T>& x) override {
        Var<T> y = forward_logits(x);
        return cfg_.output_sigmoid ? sigmoid(y) : y;
    }
    std::string type_name() const override { return "UNet"; }
    const UNetConfig& config() const { return cfg_; }

    std::shared_ptr<UNetEncoder<T>> encoder;
    std::shared_ptr<UNetDecoder<T>> decoder;
    std::shared_ptr<Conv2d<T>> head;

private:
    UNetConfig cfg_;
};

// The networks' constructors and destructors are defined outside their classes: an in-class body is inline, and
// GCC compiles an inline member of an `extern template` class in every translation unit that calls it, so a
// program built with ICHSEG_EXTERN_TEMPLATES (ichseg::float) would still compile the whole tree of modules.
template <class T>
UNet<T>::UNet(const UNetConfig& cfg, Generator& gen) : cfg_(cfg) {
    cfg.validate();
    encoder = this->register_module("encoder", std::make_shared<UNetEncoder<T>>(cfg, gen));
    decoder = this->register_module("decoder", std::make_shared<UNetDecoder<T>>(cfg, cfg.depth - 1, gen));
    head = this->register_module("head", std::make_shared<Conv2d<T>>(cfg.base_width, cfg.out_channels, 1,
                                                                      Conv2dParams{}, true, gen));
}
template <class T>
UNet<T>::~UNet() = default;

/// Encoder -> global average pool -> MLP head `mlp_head` (Linear, ReLU, Linear, ...; no activation after the last).
/// Global contrastive: {512, 512, 128}; binary: {512, 1024, 256, 2}; multi-label: {512, 1024, 256, 7}.
/// The three network types name their last part differently (UNet `head`, EncoderMLP `mlp_head`, PartialUNet
/// `projection_head`), so a transfer by name and shape (load_matching) never copies one type's head into another.
template <class T = float>
class EncoderMLP : public Module<T> {
public:
    EncoderMLP(const UNetConfig& cfg, const std::vector<int64_t>& head_widths, Generator& gen = default_generator());
    ~EncoderMLP() override;
    /// The pooled bottleneck (N, width): the representation shown in the t-SNE plots.
    Var<T> features(const Var<T>& x) { return global_avg_pool(encoder->forward(x)); }
    Var<T> forward(const Var<T>& x) override { return mlp_head->forward(features(x)); }
    std::string type_name() const override { return "EncoderMLP"; }

    std::shared_ptr<UNetEncoder<T>> encoder;
    std::shared_ptr<Sequential<T>> mlp_head;
};

template <class T>
EncoderMLP<T>::EncoderMLP(const UNetConfig& cfg, const std::vector<int64_t>& head_widths, Generator& gen) {
    cfg.validate();
    ICHSEG_CHECK(head_widths.size() >= 2 && head_widths.front() == cfg.width(cfg.depth - 1),
                 "EncoderMLP: head widths must start at the bottleneck width ", cfg.width(cfg.depth - 1));
    encoder = this->register_module("encoder", std::make_shared<UNetEncoder<T>>(cfg, gen));
    mlp_head = this->register_module("mlp_head", std::make_shared<Sequential<T>>());
    for (size_t i = 0; i + 1 < head_widths.size(); ++i) {
        if (i > 0) mlp_head->push_back(std::make_shared<ReLU<T>>());
        mlp_head->push_back(std::make_shared<Linear<T>>(head_widths[i], head_widths[i + 1], true, gen));
    }
}
template <class T>
EncoderMLP<T>::~EncoderMLP() = default;

/// Encoder + the first n_decoder decoder blocks + a 1x1-conv `projection_head` (default 64 -> 128 -> 32 for the
/// paper's widths: Conv2d, ReLU, Conv2d).
template <class T = float>
class PartialUNet : public Module<T> {
public:
    PartialUNet(const UNetConfig& cfg, int64_t n_decoder = 3, std::vector<int64_t> head_widths = {},
                Generator& gen = default_generator());
    ~PartialUNet() override;
    Var<T> forward(const Var<T>& x) override {
        return projection_head->forward(decoder->forward_features(encoder->forward_features(x)));
    }
    std::string type_name() const override { return "PartialUNet"; }

    std::shared_ptr<UNetEncoder<T>> encoder;
    std::shared_ptr<UNetDecoder<T>> decoder;
    std::shared_ptr<Sequential<T>> projection_head;
};

template <class T>
PartialUNet<T>::PartialUNet(const UNetConfig& cfg, int64_t n_decoder, std::vector<int64_t> head_widths,
                            Generator& gen) {
    cfg.validate();
    ICHSEG_CHECK(n_decoder >= 1 && n_decoder <= cfg.depth - 1, "PartialUNet: ", n_decoder,
                 " decoder blocks requested, but depth ", cfg.depth, " allows 1..", cfg.depth - 1);
    const int64_t feat = cfg.width(cfg.depth - 1 - n_decoder);
    if (head_widths.empty()) head_widths = {feat, 2 * feat, feat / 2};
    ICHSEG_CHECK(head_widths.size() >= 2 && head_widths.front() == feat, "PartialUNet: head widths must start at ",
                 feat, " (the width after ", n_decoder, " decoder blocks)");
    encoder = this->register_module("encoder", std::make_shared<UNetEncoder<T>>(cfg, gen));
    decoder = this->register_module("decoder", std::make_shared<UNetDecoder<T>>(cfg, n_decoder, gen));
    projection_head = this->register_module("projection_head", std::make_shared<Sequential<T>>());
    for (size_t i = 0; i + 1 < head_widths.size(); ++i) {
        if (i > 0) projection_head->push_back(std::make_shared<ReLU<T>>());
        projection_head->push_back(
            std::make_shared<Conv2d<T>>(head_widths[i], head_widths[i + 1], 1, Conv2dParams{}, true, gen));
    }
}
template <class T>
PartialUNet<T>::~PartialUNet() = default;

}  // namespace ichseg::nn

// Compiled once into ichseg::float (src/ichseg_float.cpp) when ICHSEG_EXTERN_TEMPLATES is set (config.hpp).
#if ICHSEG_EXTERN_TEMPLATES
namespace ichseg::nn {
ICHSEG_EXTERN_TEMPLATE template Var<float> conv_bn_relu<float>(Conv2d<float>&, BatchNorm2d<float>&, const Var<float>&);
ICHSEG_EXTERN_TEMPLATE template class DownBlock<float>;
ICHSEG_EXTERN_TEMPLATE template class UpBlock<float>;
ICHSEG_EXTERN_TEMPLATE template class UNetEncoder<float>;
ICHSEG_EXTERN_TEMPLATE template class UNetDecoder<float>;
ICHSEG_EXTERN_TEMPLATE template class UNet<float>;
ICHSEG_EXTERN_TEMPLATE template class EncoderMLP<float>;
ICHSEG_EXTERN_TEMPLATE template class PartialUNet<float>;
}  // namespace ichseg::nn
#endif
