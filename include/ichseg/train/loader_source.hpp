/// @file loader_source.hpp (train)
/// @brief The batch loader (data/loader.hpp) as the training loop's BatchSource: seeded per epoch, so a resumed
/// run sees the same remaining batches after skipping the ones already done.
#pragma once

#include <memory>
#include <vector>

#include "ichseg/core/error.hpp"
#include "ichseg/data/loader.hpp"
#include "ichseg/train/trainer.hpp"

namespace ichseg::train {

class LoaderSource : public BatchSource<data::Batch> {
public:
    LoaderSource(std::shared_ptr<const data::SliceSource> src, std::vector<int64_t> indices,
                 data::PipelineOptions pipe, data::LoaderOptions opt)
        : loader_(std::move(src), std::move(indices), pipe, opt) {}
    int64_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
    void start_epoch(int epoch, int64_t skip) override {
        loader_.start_epoch(epoch);
        for (int64_t i = 0; i < skip; ++i) loader_.next();
    }
    data::Batch next() override {
        auto b = loader_.next();
        ICHSEG_CHECK(b.has_value(), "LoaderSource: the epoch ended early");
        return std::move(*b);
    }
    int64_t batch_images(const data::Batch& b) const override { return b.size(); }
    const data::BatchLoader& loader() const { return loader_; }

private:
    data::BatchLoader loader_;
};

}  // namespace ichseg::train
