/// @file loader.hpp
/// @brief Turning slices into training batches: the per-sample pipeline of each task and a multi-threaded,
/// prefetching, deterministic batch loader.
///
/// Per sample (`process_sample`): HU -> window (SPEC §1, skipped for pre-windowed sources) -> task:
///  * segmentation: joint image / mask augmentation + resize to out_h x out_w (augment.hpp); targets = mask;
///  * classification: the same augmentation on the image only; labels carry the 7-vector;
///  * global_contrastive: two independent T_G views (images = view 1, targets = view 2);
///  * local_contrastive: a T_L pair with shared geometry (images = view 1, targets = view 2);
///  * context_restoration: the segmentation augmentation (`seg`; disabled: resize only), then N patch swaps
///    (images = corrupted, targets = the augmented clean slice).
/// Every random draw of sample i in epoch e comes from Rng(seed, stream_id(e, i, task)), so a batch is the same
/// whatever the number of threads or the timing.
///
/// `BatchLoader`: indices are shuffled per epoch with (seed, epoch) (or kept in order); `threads` workers build
/// whole batches (one worker per batch, samples in order) up to `prefetch` batches ahead of the consumer;
/// `next()` returns them in order and nullopt at the end of the epoch. A slice whose source throws
/// ichseg::Error (a corrupt RSNA file) is logged and recorded in `skipped()` once, and replaced by the next index
/// of the epoch order (deterministically), so batches keep their size and a run never aborts on bad data.
/// Other exceptions (bugs) are rethrown by `next()`.
///
/// Output tensors: images (N, 1, H, W) float in [0, 1]; targets (N, 1, H, W) (masks 0/1, second views, clean
/// images) or undefined for classification; labels (N, 7) in SPEC order (no_ICH, ICH, EDH, IPH, IVH, SAH, SDH),
/// -1 where unknown.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/core/tensor.hpp"
#include "ichseg/data/augment.hpp"
#include "ichseg/data/corruption.hpp"
#include "ichseg/data/random.hpp"
#include "ichseg/data/slices.hpp"
#include "ichseg/data/views.hpp"
#include "ichseg/data/window.hpp"
#include "ichseg/io/log.hpp"

namespace ichseg::data {

enum class Task { segmentation, classification, global_contrastive, local_contrastive, context_restoration };

struct PipelineOptions {
    Task task = Task::segmentation;
    Window window = Window::segmentation();
    SegAugmentParams seg;                        ///< segmentation, classification and context restoration
                                                 ///< (enabled = false: resize only)
    ViewParams global = ViewParams::global();
    ViewParams local = ViewParams::local();
    ContextRestorationParams context;
    int64_t out_h = 256, out_w = 256;            ///< overrides the sizes inside the parameter structs
};

struct Batch {
    Tensor<float> images;   ///< (N, 1, H, W)
    Tensor<float> targets;  ///< (N, 1, H, W) or undefined
    Tensor<float> labels;   ///< (N, 7)
    std::vector<int64_t> indices;  ///< source index of each sample (after substitutions)
    int64_t epoch = 0, batch_index = 0;
    int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

/// (N, ...) and (N, ...) -> (2N, ...): two batches of the same shape in one (e.g. both contrastive views, rows
/// [0, N) of `a` then [N, 2N) of `b`, for one forward pass).
inline Tensor<float> concat_batches(const Tensor<float>& a, const Tensor<float>& b) {
    ICHSEG_CHECK(a.shape() == b.shape(), "concat_batches: shapes ", to_string(a.shape()), " and ",
                 to_string(b.shape()));
    Shape s = a.shape();
    s[0] *= 2;
    Tensor<float> out = Tensor<float>::empty(s);
    const Tensor<float> ac = a.contiguous(), bc = b.contiguous();
    std::copy(ac.data(), ac.data() + ac.numel(), out.data());
    std::copy(bc.data(), bc.data() + bc.numel(), out.data() + ac.numel());
    return out;
}

/// Scratch buffers of one worker.
struct SampleScratch {
    std::vector<float> windowed, tmp, view;
};

/// Process one sample into slot n of the output buffers (image, target: H*W floats each; target may be null).
inline void process_sample(const SliceSample& s, const PipelineOptions& p, Rng& rng, float* image, float* target,
                           SampleScratch& scratch) {
    const int64_t H = p.out_h, W = p.out_w, h = s.image.h, w = s.image.w;
    ICHSEG_CHECK(h >= 1 && w >= 1, "process_sample: empty image ", s.id);
    const float* win = s.image.data();
    if (!s.windowed) {
        scratch.windowed.resize(static_cast<size_t>(h * w));
        apply_window(s.image.data(), scratch.windowed.data(), h * w, p.window);
        win = scratch.windowed.data();
    }
    switch (p.task) {
        case Task::segmentation:
        case Task::classification: {
            SegAugmentParams sp = p.seg;
            sp.out_h = H;
            sp.out_w = W;
            const bool with_mask = p.task == Task::segmentation;
            if (with_mask && !s.mask.empty())
                ICHSEG_CHECK(s.mask.h == h && s.mask.w == w, s.id, ": mask ", s.mask.h, "x", s.mask.w,
                             " does not match the image ", h, "x", w);
            std::vector<uint8_t> m8;
            if (with_mask) m8.resize(static_cast<size_t>(H * W), 0);
            const Geometry g = draw_segmentation_geometry(rng, sp);
            transform_and_resize(win, with_mask && !s.mask.empty() ? s.mask.data() : static_cast<const uint8_t*>(nullptr), h, w, g, image,
                                 with_mask && !s.mask.empty() ? m8.data() : nullptr, H, W, &scratch.tmp);
            for (int64_t i = 0; i < H * W; ++i) image[i] = std::min(1.f, std::max(0.f, image[i]));  // as below
            if (with_mask && target)
                for (int64_t i = 0; i < H * W; ++i) target[i] = m8[static_cast<size_t>(i)] ? 1.f : 0.f;
            break;
        }
        case Task::global_contrastive: {
            ViewParams vp = p.global;
            vp.out_h = H;
            vp.out_w = W;
            global_view(win, h, w, image, vp, rng);
            if (target) global_view(win, h, w, target, vp, rng);
            break;
        }
        case Task::local_contrastive: {
            ViewParams vp = p.local;
            vp.out_h = H;
            vp.out_w = W;
            scratch.view.resize(static_cast<size_t>(H * W));
            local_view_pair(win, h, w, image, target ? target : scratch.view.data(), vp, rng);
            break;
        }
        case Task::context_restoration: {
            // the segmentation augmentation first (as the authors' pipeline did, SPEC §7), then the swaps: the
            // target is the augmented clean slice, the input the same slice corrupted
            SegAugmentParams sp = p.seg;
            sp.out_h = H;
            sp.out_w = W;
            const Geometry g = draw_segmentation_geometry(rng, sp);
            transform_and_resize<uint8_t>(win, nullptr, h, w, g, image, nullptr, H, W, &scratch.tmp);
            // the resize is a convex combination, but float rounding can land one ulp above 1 (saturated bone)
            for (int64_t i = 0; i < H * W; ++i) image[i] = std::min(1.f, std::max(0.f, image[i]));
            if (target) std::copy(image, image + H * W, target);
            corrupt_context(image, H, W, p.context, rng);
            break;
        }
    }
}

/// Stream of the random draws of sample `index` in `epoch`.
inline uint64_t sample_stream(int64_t epoch, int64_t index, Task task) {
    return stream_id(static_cast<uint64_t>(epoch), static_cast<uint64_t>(index), 0x7a5c0 + static_cast<uint64_t>(task));
}

struct LoaderOptions {
    int64_t batch_size = 16;
    int threads = 2;
    int prefetch = 4;           ///< batches built ahead of the consumer
    bool shuffle = true;
    bool drop_last = false;
    uint64_t seed = 0;
    int max_substitutions = 64; ///< per sample: how far to look for a readable replacement
};

class BatchLoader {
public:
    BatchLoader(std::shared_ptr<const SliceSource> src, std::vector<int64_t> indices, PipelineOptions pipe,
                LoaderOptions opt)
        : src_(std::move(src)), indices_(std::move(indices)), pipe_(pipe), opt_(opt) {
        ICHSEG_CHECK(src_ != nullptr, "BatchLoader: null source");
        ICHSEG_CHECK(opt_.batch_size >= 1, "BatchLoader: batch_size must be >= 1, got ", opt_.batch_size);
        ICHSEG_CHECK(opt_.threads >= 1 && opt_.prefetch >= 1, "BatchLoader: threads and prefetch must be >= 1");
        ICHSEG_CHECK(pipe_.out_h >= 1 && pipe_.out_w >= 1, "BatchLoader: invalid output size");
        for (int64_t i : indices_)
            ICHSEG_CHECK(i >= 0 && i < src_->size(), "BatchLoader: index ", i, " outside the source (", src_->size(), " slices)");
    }
    /// All slices of the source.
    BatchLoader(std::shared_ptr<const SliceSource> src, PipelineOptions pipe, LoaderOptions opt)
        : BatchLoader(src, all_indices(*src), pipe, opt) {}
    ~BatchLoader() { stop(); }
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    int64_t batches_per_epoch() const {
        const int64_t n = static_cast<int64_t>(indices_.size()), b = opt_.batch_size;
        return opt_.drop_last ? n / b : (n + b - 1) / b;
    }

    /// Start (or restart) an epoch: the order is a pure function of (seed, epoch).
    void start_epoch(int64_t epoch) {
        stop();
        epoch_ = epoch;
        order_ = indices_;
        if (opt_.shuffle) {
            Rng rng(opt_.seed, stream_id(static_cast<uint64_t>(epoch), 0x5f1e));
            for (int64_t i = static_cast<int64_t>(order_.size()) - 1; i > 0; --i)
                std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(rng.randint(0, i))]);
        }
        nbatches_ = batches_per_epoch();
        next_make_ = 0;
        next_take_ = 0;
        ready_.clear();
        stopping_ = false;
        running_ = true;
        for (int t = 0; t < opt_.threads; ++t) workers_.emplace_back([this] { work(); });
    }

    /// The next batch of the epoch in order, or nullopt when the epoch is done (or not started).
    std::optional<Batch> next() {
        std::unique_lock<std::mutex> lock(mu_);
        if (!running_ || next_take_ >= nbatches_) return std::nullopt;
        cv_take_.wait(lock, [&] { return ready_.count(next_take_) > 0; });
        Slot slot = std::move(ready_[next_take_]);
        ready_.erase(next_take_);
        ++next_take_;
        cv_make_.notify_all();
        if (slot.error) std::rethrow_exception(slot.error);
        return std::move(slot.batch);
    }

    /// Slices that could not be read (each reported once), with reasons.
    std::vector<io::Skipped> skipped() const {
        std::lock_guard<std::mutex> lock(skip_mu_);
        return skipped_;
    }

    /// Build one batch synchronously (what the workers do): samples order[begin, end) of `order`.
    Batch build(const std::vector<int64_t>& order, int64_t begin, int64_t end, int64_t epoch, int64_t batch_index) {
        const int64_t n = end - begin, H = pipe_.out_h, W = pipe_.out_w;
        Batch b;
        b.epoch = epoch;
        b.batch_index = batch_index;
        b.images = Tensor<float>::zeros({n, 1, H, W});
        const bool has_target = pipe_.task != Task::classification;
        if (has_target) b.targets = Tensor<float>::zeros({n, 1, H, W});
        b.labels = Tensor<float>::full({n, 7}, -1.f);
        SampleScratch scratch;
        for (int64_t s = 0; s < n; ++s) {
            const int64_t pos = begin + s;
            SliceSample sample;
            int64_t used = -1;
            for (int t = 0; t <= opt_.max_substitutions && used < 0; ++t) {
                const int64_t idx = order[static_cast<size_t>((pos + t) % static_cast<int64_t>(order.size()))];
                if (is_bad(idx)) continue;
                try {
                    sample = src_->get(idx);
                    used = idx;
                } catch (const Error& e) {
                    mark_bad(idx, e.what());
                }
            }
            if (used < 0)
                fail("BatchLoader: no readable slice among ", opt_.max_substitutions + 1, " candidates at position ", pos,
                     " (see skipped())");
            b.indices.push_back(used);
            Rng rng(opt_.seed, sample_stream(epoch, used, pipe_.task));
            float* img = b.images.data() + s * H * W;
            float* tgt = has_target ? b.targets.data() + s * H * W : nullptr;
            process_sample(sample, pipe_, rng, img, tgt, scratch);
            const auto ml = sample.labels.multilabel7();
            std::copy(ml.begin(), ml.end(), b.labels.data() + s * 7);
        }
        return b;
    }

private:
    struct Slot {
        std::optional<Batch> batch;
        std::exception_ptr error;
    };

    static std::vector<int64_t> all_indices(const SliceSource& s) {
        std::vector<int64_t> v(static_cast<size_t>(s.size()));
        for (int64_t i = 0; i < s.size(); ++i) v[static_cast<size_t>(i)] = i;
        return v;
    }
    bool is_bad(int64_t i) const {
        std::lock_guard<std::mutex> lock(skip_mu_);
        return bad_.count(i) > 0;
    }
    void mark_bad(int64_t i, const std::string& why) {
        std::lock_guard<std::mutex> lock(skip_mu_);
        if (bad_.insert(i).second) {
            io::log(io::LogLevel::warn, "batch loader: skipped slice ", i, ": ", why);
            skipped_.push_back({"slice " + std::to_string(i), why});
        }
    }

    void work() {
        while (true) {
            int64_t b;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_make_.wait(lock, [&] { return stopping_ || next_make_ >= nbatches_ || next_make_ < next_take_ + opt_.prefetch; });
                if (stopping_ || next_make_ >= nbatches_) return;
                b = next_make_++;
            }
            Slot slot;
            try {
                const int64_t begin = b * opt_.batch_size;
                const int64_t end = std::min<int64_t>(begin + opt_.batch_size, static_cast<int64_t>(order_.size()));
                slot.batch = build(order_, begin, end, epoch_, b);
            } catch (...) {
                slot.error = std::current_exception();
            }
            {
                std::lock_guard<std::mutex> lock(mu_);
                ready_[b] = std::move(slot);
            }
            cv_take_.notify_all();
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping_ = true;
        }
        cv_make_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
        std::lock_guard<std::mutex> lock(mu_);
        ready_.clear();
        running_ = false;
    }

    std::shared_ptr<const SliceSource> src_;
    std::vector<int64_t> indices_, order_;
    PipelineOptions pipe_;
    LoaderOptions opt_;
    int64_t epoch_ = 0, nbatches_ = 0, next_make_ = 0, next_take_ = 0;
    bool stopping_ = false, running_ = false;
    std::map<int64_t, Slot> ready_;
    std::mutex mu_;
    std::condition_variable cv_make_, cv_take_;
    std::vector<std::thread> workers_;
    mutable std::mutex skip_mu_;
    std::set<int64_t> bad_;
    std::vector<io::Skipped> skipped_;
};

}  // namespace ichseg::data
