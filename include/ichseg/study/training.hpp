/// @file training.hpp (study)
/// @brief The training recipes of the study, each a call of train::fit with a deterministic checkpoint path:
/// segmentation U-Nets (ICM, ICH-only, Mixed, fine-tuning; Dice / mixed Dice), and the six pretext tasks
/// (context restoration, global contrastive, local contrastive with a frozen encoder, binary classification,
/// multi-label with weighted BCE and with Dice). Adam, lr 1e-3, coupled L2 1e-6, x0.96 per epoch (SPEC §5).
/// Each recipe trains on `RunSpec::device` (resolved by core/device_choice.hpp): the network moves there before the optimiser
/// is built, every batch moves there in the loss function; host-side work (label conversion, cell sampling,
/// concatenating the two contrastive views) stays on the CPU. On the CPU nothing is copied.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ichseg/data/loader.hpp"
#include "ichseg/loss/bce_with_logits.hpp"
#include "ichseg/loss/cross_entropy.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/loss/local_contrastive.hpp"
#include "ichseg/loss/mse.hpp"
#include "ichseg/loss/nt_xent.hpp"
#include "ichseg/nn/checkpoint.hpp"
#include "ichseg/nn/unet.hpp"
#include "ichseg/ops/global_avg_pool.hpp"
#include "ichseg/optim/adam.hpp"
#include "ichseg/study/config.hpp"
#include "ichseg/train/loader_source.hpp"
#include "ichseg/train/trainer.hpp"

namespace ichseg::study {

/// Common knobs of one training run.
struct RunSpec {
    std::string name;        ///< progress prefix
    std::string checkpoint;  ///< training-state file (deterministic per stage / fold)
    StageSpec stage;
    uint64_t seed = 0;       ///< batch order and augmentation draws
    bool progress = true;
    Device device = Device::cpu();  ///< where the network, the optimiser state and the batches live
    double lr_decay = -1;    ///< per-epoch learning-rate factor; negative: the config's (label-budget runs rescale it)
    std::function<bool()> keep_going;  ///< train::FitOptions::keep_going (a worker's lease on the unit)
};

inline optim::AdamParams adam_params(const StudyConfig& c) {
    optim::AdamParams p;
    p.lr = c.lr;
    p.weight_decay = c.weight_decay;
    return p;
}

inline train::FitOptions fit_options(const StudyConfig& c, const RunSpec& r) {
    train::FitOptions o;
    o.name = r.name;
    o.epochs = r.stage.epochs;
    o.lr_decay = r.lr_decay >= 0 ? r.lr_decay : c.lr_decay;
    o.checkpoint = r.checkpoint;
    o.checkpoint_every = c.checkpoint_every;
    o.progress = r.progress;
    o.keep_going = r.keep_going;
    o.precision = c.precision;
    return o;
}

inline data::PipelineOptions pipeline(const StudyConfig& c, data::Task task, bool augment) {
    data::PipelineOptions p;
    p.task = task;
    p.out_h = p.out_w = c.input_size;
    p.seg.enabled = augment;
    p.context.swaps = c.context_swaps;
    p.context.patch_h = p.context.patch_w = c.context_patch;
    return p;
}

/// drop_last: requested, and the set holds at least one full batch.
inline data::LoaderOptions loader_options(const StudyConfig& c, const RunSpec& r, bool drop_last,
                                          int64_t n_samples = -1) {
    if (n_samples >= 0 && n_samples < r.stage.batch_size) drop_last = false;
    data::LoaderOptions o;
    o.batch_size = r.stage.batch_size;
    o.threads = c.loader_threads;
    o.seed = r.seed;
    o.shuffle = true;
    o.drop_last = drop_last;
    return o;
}

/// Segmentation training (ICM, baselines, fine-tuning): Dice loss with weight `alpha` on empty-mask samples.
inline train::FitResult train_segmentation(nn::UNet<float>& net, const StudyConfig& c, const RunSpec& r,
                                           std::shared_ptr<const data::SliceSource> src, std::vector<int64_t> slices,
                                           double alpha) {
    ICHSEG_CHECK(!slices.empty(), "[", r.name, "] no training slices");
    // drop_last only when it keeps at least one batch: a last batch of one is left out (its batch-norm statistics
    // would come from one image), but a tiny set still trains, a set of one slice on batches of one
    // (study/budget.hpp segmentation_batches counts the same way).
    const int64_t n = static_cast<int64_t>(slices.size());
    const bool drop_last = n > 1 && n % r.stage.batch_size == 1;
    train::LoaderSource data(std::move(src), std::move(slices), pipeline(c, data::Task::segmentation, c.augment),
                      loader_options(c, r, drop_last));
    const Device dev = r.device;
    net.to(dev);
    optim::Adam<float> opt(net.parameters(), adam_params(c));
    DiceParams dp;
    dp.alpha = alpha;
    std::function<Var<float>(data::Batch&)> loss = [&](data::Batch& b) {
        return dice_loss(net(Var<float>(b.images.to(dev))), b.targets.to(dev), dp);
    };
    return train::fit<float, data::Batch>(net, opt, data, loss, fit_options(c, r));
}

// ---- pretext tasks (SPEC §6) -----------------------------------------------------------------------------------

enum class Pretext { context_restoration, global_contrastive, local_contrastive, binary, multilabel_ce, multilabel_dl };

/// Each pretext task's file-name key and Table 3 row name, in the order the study runs them.
struct PretextName {
    Pretext task;
    const char* key;
    const char* title;
};
inline const std::vector<PretextName>& pretext_names() {
    static const std::vector<PretextName> v{{Pretext::context_restoration, "context_restoration", "Context restoration"},
                                            {Pretext::global_contrastive, "global_contrastive", "Global contrastive"},
                                            {Pretext::local_contrastive, "local_contrastive", "Local contrastive"},
                                            {Pretext::binary, "binary", "Binary classification"},
                                            {Pretext::multilabel_ce, "multilabel_ce", "Multi-label (CE)"},
                                            {Pretext::multilabel_dl, "multilabel_dl", "Multi-label (DL)"}};
    return v;
}
inline const std::vector<Pretext>& all_pretexts() {
    static const std::vector<Pretext> v = [] {
        std::vector<Pretext> out;
        for (const PretextName& n : pretext_names()) out.push_back(n.task);
        return out;
    }();
    return v;
}
inline const PretextName& pretext_name(Pretext p) {
    for (const PretextName& n : pretext_names())
        if (n.task == p) return n;
    fail("pretext_name: unknown pretext task ", static_cast<int>(p));
}
/// File-name key.
inline const char* pretext_key(Pretext p) { return pretext_name(p).key; }
/// Table 3 row name.
inline const char* pretext_title(Pretext p) { return pretext_name(p).title; }

/// MLP head widths scaled from the paper's (bottleneck 512): global 512-512-128, binary 512-1024-256-2,
/// multi-label 512-1024-256-7.
inline std::vector<int64_t> head_widths(const StudyConfig& c, Pretext p) {
    const int64_t b = c.bottleneck_width();
    if (p == Pretext::global_contrastive) return {b, b, std::max<int64_t>(b / 4, 2)};
    const int64_t out = p == Pretext::binary ? 2 : 7;
    return {b, 2 * b, std::max<int64_t>(b / 2, 2), out};
}

/// pos_weight_c = negatives_c / positives_c of the 7 labels over the training images (SPEC §4); a label without
/// positives gets weight 1.
inline Tensor<float> multilabel_pos_weight(const data::SliceSource& src, const std::vector<int64_t>& idx) {
    std::array<double, 7> pos{}, neg{};
    for (int64_t i : idx) {
        const auto v = src.labels(i).multilabel7();
        for (size_t k = 0; k < 7; ++k) {
            if (v[k] == 1.f) pos[k] += 1;
            else if (v[k] == 0.f) neg[k] += 1;
        }
    }
    Tensor<float> w = Tensor<float>::empty({7});
    for (size_t k = 0; k < 7; ++k) w.data()[k] = pos[k] > 0 ? static_cast<float>(neg[k] / pos[k]) : 1.f;
    return w;
}

/// Module exposing only the trainable part of the local-contrastive model (decoder + projection head), so the optimiser
/// and the training-state checkpoint cover exactly the parameters being trained.
class TrainableParts : public nn::Module<float> {
public:
    TrainableParts(std::shared_ptr<nn::UNetDecoder<float>> d, std::shared_ptr<nn::Sequential<float>> h) {
        register_module("decoder", std::move(d));
        register_module("projection_head", std::move(h));
    }
    Var<float> forward(const Var<float>& x) override { return x; }
    std::string type_name() const override { return "TrainableParts"; }
};

/// The per-sample pipeline of a pretext task's training images: context restoration and the classification
/// tasks get the segmentation augmentation of SPEC §2 when the config enables it (`augment`; for context
/// restoration before the swaps, as the authors' pipeline did, SPEC §7); the contrastive tasks draw their own
/// views (T_G, T_L), so the segmentation augmentation is off for them.
inline data::PipelineOptions pretext_pipeline(const StudyConfig& c, Pretext p) {
    switch (p) {
        case Pretext::context_restoration: return pipeline(c, data::Task::context_restoration, c.augment);
        case Pretext::global_contrastive: return pipeline(c, data::Task::global_contrastive, false);
        case Pretext::local_contrastive: return pipeline(c, data::Task::local_contrastive, false);
        case Pretext::binary:
        case Pretext::multilabel_ce:
        case Pretext::multilabel_dl: return pipeline(c, data::Task::classification, c.augment);
    }
    fail("pretext_pipeline: unknown pretext task ", static_cast<int>(p));
}

/// Train one pretext model and write its weights (state dict) to `weights_path`. `global_weights` is the global
/// contrastive model's file (needed by the local contrastive task). Returns the pooled-bottleneck feature
/// function's model as a Module (for t-SNE the caller rebuilds the model from the weights).
inline void train_pretext(Pretext p, const StudyConfig& c, const RunSpec& r,
                          std::shared_ptr<const data::SliceSource> src, const std::vector<int64_t>& train_idx,
                          const std::string& weights_path, const std::string& global_weights = "") {
    Generator gen(c.seed ^ (0x9e37ull * (static_cast<uint64_t>(p) + 1)));
    const nn::UNetConfig ucfg = c.unet_config(p != Pretext::context_restoration);
    const optim::AdamParams ap = adam_params(c);
    const train::FitOptions fo = fit_options(c, r);
    const Device dev = r.device;
    switch (p) {
        case Pretext::context_restoration: {
            nn::UNet<float> net(ucfg, gen);
            train::LoaderSource data(src, train_idx, pretext_pipeline(c, p),
                              loader_options(c, r, true, static_cast<int64_t>(train_idx.size())));
            net.to(dev);
            optim::Adam<float> opt(net.parameters(), ap);
            std::function<Var<float>(data::Batch&)> loss = [&](data::Batch& b) {
                return mse_loss(net(Var<float>(b.images.to(dev))), b.targets.to(dev));
            };
            train::fit<float, data::Batch>(net, opt, data, loss, fo);
            nn::save_state_dict(net, weights_path);
            return;
        }
        case Pretext::global_contrastive: {
            nn::EncoderMLP<float> net(ucfg, head_widths(c, p), gen);
            train::LoaderSource data(src, train_idx, pretext_pipeline(c, p),
                              loader_options(c, r, true, static_cast<int64_t>(train_idx.size())));
            net.to(dev);
            optim::Adam<float> opt(net.parameters(), ap);
            const double tau = c.contrastive_tau;
            std::function<Var<float>(data::Batch&)> loss = [&](data::Batch& b) {
                // Both views in one forward pass: rows [0, N) view 1, [N, 2N) view 2.
                Tensor<float> x = data::concat_batches(b.images, b.targets);  // on the CPU, then one copy
                return nt_xent_loss(net(Var<float>(x.to(dev))), tau);
            };
            train::fit<float, data::Batch>(net, opt, data, loss, fo);
            nn::save_state_dict(net, weights_path);
            return;
        }
        case Pretext::local_contrastive: {
            ICHSEG_CHECK(!global_weights.empty(), "local contrastive: the global contrastive weights are required");
            nn::PartialUNet<float> net(ucfg, c.local_decoder_blocks(), {}, gen);
            const nn::TransferReport tr = nn::load_matching(net, global_weights);
            ICHSEG_CHECK(!tr.copied.empty(), "local contrastive: nothing copied from ", global_weights);
            net.encoder->eval();  // frozen: no gradient, running statistics kept
            net.to(dev);  // the whole model: the frozen encoder runs on the device too
            TrainableParts parts(net.decoder, net.projection_head);
            train::LoaderSource data(src, train_idx, pretext_pipeline(c, p),
                              loader_options(c, r, true, static_cast<int64_t>(train_idx.size())));
            optim::Adam<float> opt(parts.parameters(), ap);
            Generator cell_gen(c.seed ^ 0x10ca1);
            const LocalContrastiveParams lp{c.local_cell, c.contrastive_tau};
            auto features = [&](const Tensor<float>& x) {
                std::vector<Var<float>> feats;
                {
                    NoGradGuard ng;
                    feats = net.encoder->forward_features(Var<float>(x));
                }
                std::vector<Var<float>> detached;
                for (auto& f : feats) detached.emplace_back(f.value());
                return net.projection_head->forward(net.decoder->forward_features(detached));
            };
            std::function<Var<float>(data::Batch&)> loss = [&](data::Batch& b) {
                net.encoder->eval();  // fit() switches the whole trainable module to train mode, not the encoder
                Var<float> f1 = features(b.images.to(dev)), f2 = features(b.targets.to(dev));
                const int64_t gh = f1.shape()[2] / lp.cell, gw = f1.shape()[3] / lp.cell;
                Tensor<int64_t> cells = sample_cells(b.size(), gh * gw, c.local_regions, cell_gen);
                return local_contrastive_loss(f1, f2, cells, lp);
            };
            train::fit<float, data::Batch>(parts, opt, data, loss, fo);
            nn::save_state_dict(net, weights_path);
            return;
        }
        case Pretext::binary:
        case Pretext::multilabel_ce:
        case Pretext::multilabel_dl: {
            nn::EncoderMLP<float> net(ucfg, head_widths(c, p), gen);
            train::LoaderSource data(src, train_idx, pretext_pipeline(c, p),
                              loader_options(c, r, true, static_cast<int64_t>(train_idx.size())));
            net.to(dev);
            optim::Adam<float> opt(net.parameters(), ap);
            const Tensor<float> pw = multilabel_pos_weight(*src, train_idx).to(dev);
            std::function<Var<float>(data::Batch&)> loss = [&](data::Batch& b) -> Var<float> {
                Var<float> y = net(Var<float>(b.images.to(dev)));
                if (p == Pretext::binary) {  // labels built on the CPU; the loss copies them to y's device
                    Tensor<int64_t> lab = Tensor<int64_t>::empty({b.size()});
                    for (int64_t i = 0; i < b.size(); ++i) lab.data()[i] = b.labels.data()[i * 7 + 1] == 1.f ? 1 : 0;
                    return cross_entropy_loss(y, lab);
                }
                if (p == Pretext::multilabel_ce) return bce_with_logits_loss(y, b.labels.to(dev), pw);
                return multilabel_dice_loss(y, b.labels.to(dev));
            };
            train::fit<float, data::Batch>(net, opt, data, loss, fo);
            nn::save_state_dict(net, weights_path);
            return;
        }
    }
}

}  // namespace ichseg::study
