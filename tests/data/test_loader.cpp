// Slice sources, the study's slice selections, per-task sample pipelines and the prefetching batch loader.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "ichseg/data/loader.hpp"
#include "ichseg/io/log.hpp"

using namespace ichseg;
using namespace ichseg::data;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<VolumeSlices> phantom_slices(int n_cases, VolumeSlices::Options o = {}) {
    auto src = std::make_shared<VolumeSlices>(o);
    for (int c = 0; c < n_cases; ++c) {
        PhantomParams p;
        p.size = 48;
        p.slices = 4;
        p.ich = c % 2;
        src->add_phantom(generate_phantom(p, 50 + static_cast<uint64_t>(c)), "case" + std::to_string(c));
    }
    return src;
}

/// A source whose slices 3 and 7 are unreadable (like corrupt files), and whose slice 5 hits a bug.
class FlakySource : public SliceSource {
public:
    explicit FlakySource(bool with_bug = false) : bug_(with_bug) {}
    int64_t size() const override { return 20; }
    io::IchLabels labels(int64_t i) const override {
        io::IchLabels l = io::IchLabels::negative();
        l.any = i % 2;
        return l;
    }
    SliceSample get(int64_t i) const override {
        if (i == 3 || i == 7) fail("slice", i, ".dcm: PixelData holds 10 bytes");
        if (bug_ && i == 5) throw std::logic_error("bug");
        SliceSample s;
        s.image = Slice(8, 8, static_cast<float>(i * 10));
        s.labels = labels(i);
        return s;
    }

private:
    bool bug_;
};

bool same(const Tensor<float>& a, const Tensor<float>& b) {
    if (a.shape() != b.shape()) return false;
    return std::equal(a.data(), a.data() + a.numel(), b.data());
}

}  // namespace

TEST_CASE("volume slices: native and cached storage give the same pipeline input", "[data][loader]") {
    const auto native = phantom_slices(2);
    VolumeSlices::Options o;
    o.cache_size = 32;
    const auto cached = phantom_slices(2, o);
    REQUIRE(native->size() == 8);
    REQUIRE(cached->size() == 8);
    CHECK(native->num_cases() == 2);
    CHECK(native->case_of(5) == 1);
    CHECK(native->slice_of(5) == 1);
    PipelineOptions p;
    p.out_h = p.out_w = 32;
    p.seg.enabled = false;  // resize only
    SampleScratch sc;
    for (int64_t i = 0; i < 8; ++i) {
        const SliceSample a = native->get(i), b = cached->get(i);
        CHECK_FALSE(a.windowed);
        CHECK(b.windowed);
        CHECK(a.labels == b.labels);
        std::vector<float> ia(1024), ib(1024), ma(1024), mb(1024);
        Rng r1(1, 1), r2(1, 1);
        process_sample(a, p, r1, ia.data(), ma.data(), sc);
        process_sample(b, p, r2, ib.data(), mb.data(), sc);
        CHECK(ia == ib);  // window -> resize, on the fly or stored: identical
        CHECK(ma == mb);
    }
    CHECK_THROWS_WITH(native->get(8), Contains("out of range"));
}

TEST_CASE("selections: ICH-only, Mixed (seeded), volume-level folds", "[data][loader]") {
    const auto src = phantom_slices(4);
    std::vector<int64_t> all(static_cast<size_t>(src->size()));
    for (int64_t i = 0; i < src->size(); ++i) all[static_cast<size_t>(i)] = i;
    const auto ich = ich_slices(*src);
    for (int64_t i : ich) CHECK(src->labels(i).any == 1);
    int64_t n_ich = 0;
    for (int64_t i : all) n_ich += src->labels(i).any == 1;
    CHECK(static_cast<int64_t>(ich.size()) == n_ich);
    REQUIRE(n_ich > 0);
    const auto mixed = select_mixed(*src, all, 2.0, 17);
    const auto mixed2 = select_mixed(*src, all, 2.0, 17);
    CHECK(mixed == mixed2);
    const int64_t n_non = src->size() - n_ich;
    CHECK(static_cast<int64_t>(mixed.size()) == n_ich + std::min<int64_t>(n_non, 2 * n_ich));
    const auto fold = slices_of_cases(*src, {0, 2});
    CHECK(fold.size() == 8);
    CHECK_THROWS(slices_of_cases(*src, {9}));
}

TEST_CASE("loader: batches have the right shapes and every task its targets", "[data][loader]") {
    const auto src = phantom_slices(2);
    LoaderOptions lo;
    lo.batch_size = 3;
    lo.threads = 2;
    for (Task t : {Task::segmentation, Task::classification, Task::global_contrastive, Task::local_contrastive,
                   Task::context_restoration}) {
        PipelineOptions p;
        p.task = t;
        p.out_h = p.out_w = 32;
        p.context.patch_h = p.context.patch_w = 6;
        BatchLoader loader(src, p, lo);
        CHECK(loader.batches_per_epoch() == 3);
        loader.start_epoch(0);
        int64_t total = 0;
        while (auto b = loader.next()) {
            const int64_t n = b->size();
            total += n;
            REQUIRE(b->images.shape() == std::vector<int64_t>{n, 1, 32, 32});
            REQUIRE(b->labels.shape() == std::vector<int64_t>{n, 7});
            for (int64_t i = 0; i < b->images.numel(); ++i) REQUIRE((b->images.data()[i] >= 0.f && b->images.data()[i] <= 1.f));
            for (int64_t s = 0; s < n; ++s) {
                const auto ml = src->labels(b->indices[static_cast<size_t>(s)]).multilabel7();
                for (int c = 0; c < 7; ++c) REQUIRE(b->labels.at({s, c}) == ml[static_cast<size_t>(c)]);
            }
            if (t == Task::classification) {
                CHECK_FALSE(b->targets.defined());
                continue;
            }
            REQUIRE(b->targets.shape() == b->images.shape());
            if (t == Task::segmentation)
                for (int64_t i = 0; i < b->targets.numel(); ++i) REQUIRE((b->targets.data()[i] == 0.f || b->targets.data()[i] == 1.f));
            if (t == Task::context_restoration) {
                // the target is the clean resized slice, the input differs from it only by swapped patches
                double s_in = 0, s_t = 0;
                for (int64_t i = 0; i < b->images.numel(); ++i) {
                    s_in += b->images.data()[i];
                    s_t += b->targets.data()[i];
                }
                CHECK(s_in == Approx(s_t).epsilon(1e-4));
                CHECK_FALSE(same(b->images, b->targets));
            }
            if (t == Task::global_contrastive || t == Task::local_contrastive) CHECK_FALSE(same(b->images, b->targets));
        }
        CHECK(total == 8);
    }
}

TEST_CASE("loader: context-restoration samples get the segmentation augmentation before the swaps", "[data][loader]") {
    // SPEC §7: the authors' pipeline translated / rotated / scaled / flipped the slice before corrupting it. The
    // target (the clean slice) is therefore the augmented slice, not the plain resize, and the input is that
    // slice with patches swapped; with the augmentation off the target is the plain resize.
    const auto src = phantom_slices(2);
    const SliceSample s = src->get(1);
    const int64_t n = 32 * 32;
    std::vector<float> plain(static_cast<size_t>(n));
    std::vector<float> win(static_cast<size_t>(s.image.h * s.image.w));
    apply_window(s.image.data(), win.data(), s.image.h * s.image.w, Window::segmentation());
    resize_bilinear(win.data(), s.image.h, s.image.w, plain.data(), 32, 32);
    PipelineOptions p;
    p.task = Task::context_restoration;
    p.out_h = p.out_w = 32;
    p.context.patch_h = p.context.patch_w = 4;
    p.context.swaps = 3;
    SampleScratch sc;
    auto sample = [&](bool augment, uint64_t stream, std::vector<float>& img, std::vector<float>& tgt) {
        p.seg.enabled = augment;
        img.assign(static_cast<size_t>(n), 0.f);
        tgt.assign(static_cast<size_t>(n), 0.f);
        Rng rng(7, stream);
        process_sample(s, p, rng, img.data(), tgt.data(), sc);
    };
    std::vector<float> img, tgt;
    sample(false, 1, img, tgt);
    CHECK(tgt == plain);  // no augmentation: the clean target is the resized slice
    CHECK(img != tgt);
    int differ = 0;
    std::set<std::vector<float>> targets;
    for (uint64_t stream = 1; stream <= 8; ++stream) {
        sample(true, stream, img, tgt);
        differ += tgt != plain;
        targets.insert(tgt);
        // the input is the target with patches swapped: same values, rearranged
        std::vector<float> a = img, b = tgt;
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        CHECK(a == b);
        CHECK(img != tgt);
        // and the augmentation is the segmentation one: the same draw on the image alone gives the target
        Rng rng(7, stream);
        const Geometry g = draw_segmentation_geometry(rng, p.seg);
        std::vector<float> expect(static_cast<size_t>(n));
        transform_and_resize<uint8_t>(win.data(), nullptr, s.image.h, s.image.w, g, expect.data(), nullptr, 32, 32);
        for (float& v : expect) v = std::min(1.f, std::max(0.f, v));  // the loader clamps resize rounding
        CHECK(tgt == expect);
    }
    CHECK(differ == 8);             // every sample moved
    CHECK(targets.size() == 8u);    // by a different draw each
    // the loader's batches show the same: with the augmentation, targets of one slice differ between epochs
    LoaderOptions lo;
    lo.batch_size = 8;
    lo.shuffle = false;
    p.seg.enabled = true;
    BatchLoader loader(src, p, lo);
    loader.start_epoch(0);
    const Batch e0 = *loader.next();
    loader.start_epoch(1);
    const Batch e1 = *loader.next();
    CHECK_FALSE(same(e0.targets, e1.targets));
}

TEST_CASE("loader: identical batches for any number of threads, epochs reshuffle", "[data][loader]") {
    const auto src = phantom_slices(2);
    PipelineOptions p;
    p.out_h = p.out_w = 24;
    auto run = [&](int threads, int64_t epoch, int prefetch) {
        LoaderOptions lo;
        lo.batch_size = 3;
        lo.threads = threads;
        lo.prefetch = prefetch;
        lo.seed = 99;
        BatchLoader l(src, p, lo);
        l.start_epoch(epoch);
        std::vector<Batch> out;
        while (auto b = l.next()) out.push_back(std::move(*b));
        return out;
    };
    const auto a = run(1, 0, 1), b = run(4, 0, 3), c = run(2, 1, 2);
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 3);
    std::multiset<int64_t> seen;
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].indices == b[i].indices);
        CHECK(same(a[i].images, b[i].images));
        CHECK(same(a[i].targets, b[i].targets));
        CHECK(a[i].batch_index == static_cast<int64_t>(i));
        for (int64_t x : a[i].indices) seen.insert(x);
    }
    CHECK(seen.size() == 8);
    CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 8);  // each slice once per epoch
    bool order_differs = false;
    for (size_t i = 0; i < a.size(); ++i) order_differs = order_differs || a[i].indices != c[i].indices;
    CHECK(order_differs);
    // no shuffle + drop_last
    LoaderOptions lo;
    lo.batch_size = 3;
    lo.shuffle = false;
    lo.drop_last = true;
    BatchLoader l(src, p, lo);
    CHECK(l.batches_per_epoch() == 2);
    l.start_epoch(0);
    auto first = l.next();
    REQUIRE(first);
    CHECK(first->indices == std::vector<int64_t>{0, 1, 2});
    CHECK(l.next());
    CHECK_FALSE(l.next());
}

TEST_CASE("loader: unreadable slices are skipped once with a reason, batches keep their size", "[data][loader]") {
    io::LogSink prev = io::set_log_sink([](io::LogLevel, const std::string&) {});
    auto src = std::make_shared<FlakySource>();
    PipelineOptions p;
    p.task = Task::classification;
    p.out_h = p.out_w = 8;
    LoaderOptions lo;
    lo.batch_size = 4;
    lo.threads = 3;
    lo.shuffle = false;
    BatchLoader l(src, p, lo);
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
        l.start_epoch(epoch);
        int64_t n = 0;
        while (auto b = l.next()) {
            CHECK(b->size() == 4);
            for (int64_t i : b->indices) CHECK((i != 3 && i != 7));
            n += b->size();
        }
        CHECK(n == 20);
    }
    const auto sk = l.skipped();
    REQUIRE(sk.size() == 2);
    CHECK_THAT(sk[0].reason + sk[1].reason, Contains("slice3.dcm") && Contains("slice7.dcm"));
    // first batch without shuffle: 0 1 2 then 4 (3 replaced by the next readable index)
    l.start_epoch(0);
    CHECK(l.next()->indices == std::vector<int64_t>{0, 1, 2, 4});
    io::set_log_sink(prev);
}

TEST_CASE("loader: a bug in a source is rethrown, not swallowed, early destruction does not hang", "[data][loader]") {
    auto src = std::make_shared<FlakySource>(true);
    PipelineOptions p;
    p.task = Task::classification;
    p.out_h = p.out_w = 8;
    LoaderOptions lo;
    lo.batch_size = 4;
    lo.shuffle = false;
    io::LogSink prev = io::set_log_sink([](io::LogLevel, const std::string&) {});
    {
        BatchLoader l(src, p, lo);
        l.start_epoch(0);
        CHECK(l.next());                                               // batch 0: 0 1 2 4
        CHECK_THROWS_AS(l.next(), std::logic_error);                   // batch 1 holds index 5
    }
    {
        BatchLoader l(phantom_slices(1), p, lo);
        l.start_epoch(0);
        l.next();
        // destroyed with batches in flight
    }
    CHECK_THROWS_WITH(BatchLoader(src, {0, 25}, p, lo), Contains("index 25 outside the source"));
    LoaderOptions bad = lo;
    bad.batch_size = 0;
    CHECK_THROWS_WITH(BatchLoader(src, p, bad), Contains("batch_size"));
    io::set_log_sink(prev);
}
