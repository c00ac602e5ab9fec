/// @file trainer.hpp (train)
/// @brief The epoch loop every stage of the study uses: batches from a BatchSource, a loss function, Adam,
/// per-epoch learning-rate decay, progress lines, atomic training-state checkpoints, resume, and a clear stop
/// on a non-finite loss.
///
/// Resume: when `checkpoint` exists, fit() restores weights, optimiser moments and position, and continues at
/// the recorded batch (the source is asked to skip the batches already done, so a seeded source reproduces the
/// same remaining order). A checkpoint marked finished makes fit() return at once. Checkpoints are written at
/// the end of every epoch, every `checkpoint_every` batches when set, and at the end (marked finished).
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ichseg/core/precision.hpp"
#include "ichseg/train/checkpoint.hpp"
#include "ichseg/train/progress.hpp"

namespace ichseg::train {

/// The batches of one training stage.
template <class Batch>
class BatchSource {
public:
    virtual ~BatchSource() = default;
    virtual int64_t batches_per_epoch() const = 0;
    /// Prepare epoch `epoch` (e.g. a shuffle seeded by it); the first `skip` batches will not be requested.
    virtual void start_epoch(int epoch, int64_t skip) = 0;
    /// The next batch of the current epoch.
    virtual Batch next() = 0;
    /// Images per batch, for the throughput figure.
    virtual int64_t batch_images(const Batch&) const { return 1; }
};

struct FitOptions {
    std::string name = "train";
    int epochs = 1;
    double lr_decay = 0.96;         ///< learning rate multiplied by this after every epoch
    std::string checkpoint;         ///< training-state file ("" = no checkpoints, no resume)
    int64_t checkpoint_every = 0;   ///< also checkpoint every N batches (0 = epoch ends only)
    bool progress = true;
    double progress_interval_s = 5.0;
    /// Asked before every batch and before every checkpoint; when it returns false, fit() throws train::Stopped
    /// without writing anything more (a study worker whose claim on the unit was taken over, study/work_queue.hpp).
    std::function<bool()> keep_going;
    /// Product precision of the CPU ops during training (core/precision.hpp): FP32, or BF16 products with FP32
    /// accumulation, master weights, batch-norm statistics, loss and optimiser state. Default: the process default
    /// (FP32, or the environment variable ICHSEG_PRECISION).
    Precision precision = default_precision();
};

/// Thrown by fit() when FitOptions::keep_going returned false.
class Stopped : public Error {
public:
    explicit Stopped(const std::string& what) : Error(what) {}
};

struct FitResult {
    std::vector<double> epoch_loss;  ///< mean loss of each epoch run in this call
    bool resumed = false;
    bool already_finished = false;
    int start_epoch = 0;
    int64_t start_batch = 0;
};

/// Train `model` with `opt` on `data`; `loss_fn(batch)` runs the forward pass and returns the scalar loss.
template <class T, class Batch>
FitResult fit(nn::Module<T>& model, optim::Adam<T>& opt, BatchSource<Batch>& data,
              const std::function<Var<T>(Batch&)>& loss_fn, const FitOptions& o) {
    FitResult r;
    TrainPosition pos;
    pos.lr = opt.lr();
    if (!o.checkpoint.empty() && file_exists(o.checkpoint)) {
        pos = load_training_state(o.checkpoint, model, opt);
        r.resumed = true;
        if (pos.finished) {
            r.already_finished = true;
            if (o.progress) std::fprintf(stderr, "[%s] already finished (%s)\n", o.name.c_str(), o.checkpoint.c_str());
            return r;
        }
        if (o.progress)
            std::fprintf(stderr, "[%s] resuming from %s at epoch %d, batch %lld\n", o.name.c_str(),
                         o.checkpoint.c_str(), pos.epoch + 1, static_cast<long long>(pos.batch));
    }
    r.start_epoch = pos.epoch;
    r.start_batch = pos.batch;
    const int64_t nb = data.batches_per_epoch();
    ICHSEG_CHECK(nb > 0, "[", o.name, "] the training set yields no batch");
    const PrecisionGuard precision_guard(o.precision);  // forward and backward of every step
    Progress prog(o.name, o.epochs, nb, o.progress_interval_s, o.progress);
    prog.set_remaining(static_cast<int64_t>(o.epochs - pos.epoch) * nb - pos.batch);
    model.train();
    for (int epoch = pos.epoch; epoch < o.epochs; ++epoch) {
        const int64_t first = epoch == pos.epoch ? pos.batch : 0;
        data.start_epoch(epoch, first);
        for (int64_t b = first; b < nb; ++b) {
            if (o.keep_going && !o.keep_going())
                throw Stopped("[" + o.name + "] stopped at epoch " + std::to_string(epoch + 1) + ", batch " +
                              std::to_string(b + 1) + ": another worker took this unit over");
            Batch batch = data.next();
            opt.zero_grad();
            Var<T> loss = loss_fn(batch);
            const double lv = static_cast<double>(loss.value().to_vector().at(0));
            if (!std::isfinite(lv))
                fail("[", o.name, "] training stopped: the loss is ", lv, " at epoch ", epoch + 1, ", batch ", b + 1,
                     o.checkpoint.empty() ? std::string() : "; the last good checkpoint is " + o.checkpoint,
                     " (lower the learning rate or check the inputs)");
            loss.backward();
            opt.step();
            prog.batch(epoch, b, lv, data.batch_images(batch));
            if (!o.checkpoint.empty() && o.checkpoint_every > 0 && (b + 1) % o.checkpoint_every == 0 && b + 1 < nb)
                save_training_state(o.checkpoint, model, opt, {epoch, b + 1, opt.lr(), false});
        }
        r.epoch_loss.push_back(prog.end_epoch(epoch));
        opt.set_lr(opt.lr() * o.lr_decay);
        if (o.keep_going && !o.keep_going())
            throw Stopped("[" + o.name + "] stopped after epoch " + std::to_string(epoch + 1) +
                          ": another worker took this unit over");
        if (!o.checkpoint.empty())
            save_training_state(o.checkpoint, model, opt, {epoch + 1, 0, opt.lr(), epoch + 1 == o.epochs});
    }
    return r;
}

}  // namespace ichseg::train
