/// @file bench_data_pipeline.cpp
/// @brief Data pipeline throughput, in slices per second (items_per_second), one thread unless stated:
///   pipeline/full            read DICOM (512x512 int16, explicit LE) -> HU -> window -> SPEC §2 augmentation
///                            (translate, rotate, scale, flip) -> 256x256: the per-core figure (target >= 500)
///   pipeline/full_jpegls     the same from JPEG-LS lossless files (CQ500-like compressed storage)
///   pipeline/full_j2k_lossless, pipeline/full_j2k_lossy
///                            the same from JPEG 2000 files: .90 (reversible wavelet) and .91 at 10:1 (irreversible),
///                            as PACS exports and archives store them (OpenJPEG decoder, io/dicom/jpeg2000.hpp)
///   stage/dicom_read_hu_512[/jpegls|/j2k_lossless|/j2k_lossy]
///                            the DICOM read + HU step alone for each storage (plain explicit LE without suffix)
///                            (counter bytes_per_slice: the file size, i.e. what the storage saves)
///   stage/*                  each step alone: DICOM read + HU, window, anti-aliased resize, augmentation (image +
///                            mask), global view, local pair, context corruption, NIfTI volume read (per slice)
///   loader/threads:N         the BatchLoader on an RSNA-like folder of DICOM files, batch 32, N worker threads
/// The inputs are synthetic head-CT phantoms written to a temporary folder at start-up (removed at exit).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "ichseg/core/parallel.hpp"
#include "ichseg/data/augment.hpp"
#include "ichseg/data/corruption.hpp"
#include "ichseg/data/loader.hpp"
#include "ichseg/data/phantom.hpp"
#include "ichseg/data/views.hpp"
#include "ichseg/data/window.hpp"
#include "ichseg/io/dicom.hpp"
#include "ichseg/io/nifti.hpp"
#include "ichseg/io/slice_sources.hpp"

using namespace ichseg;

namespace {

constexpr int64_t kSize = 512, kSlices = 16;

/// Phantom volume + DICOM files (plain and JPEG-LS) + a NIfTI file + an RSNA-like tree, made once.
struct Fixture {
    std::string dir;
    data::Phantom ph;
    std::vector<std::string> plain, jpegls, j2k_lossless, j2k_lossy;
    std::string nifti;
    std::shared_ptr<io::RsnaDataset> rsna;
    Fixture() {
        dir = (std::filesystem::temp_directory_path() / ("ichseg-bench-" + std::to_string(::getpid()))).string();
        std::filesystem::create_directories(dir + "/rsna/stage_2_train");
        data::PhantomParams p;
        p.size = kSize;
        p.slices = kSlices;
        p.ich = 1;
        ph = data::generate_phantom(p, 2024);
        std::string csv = "ID,Label\n";
        const char* types[6] = {"epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural", "any"};
        for (int64_t k = 0; k < kSlices; ++k) {
            io::DicomWriteSpec w;
            w.rows = w.cols = static_cast<int>(kSize);
            w.series_uid = "1.2.3.4";
            w.sop_uid = io::make_dicom_uid(static_cast<uint64_t>(k) + 1, 99);
            w.position = {0, 0, 5.0 * static_cast<double>(k)};
            std::vector<float> px(ph.ct.slice(k), ph.ct.slice(k) + ph.ct.slice_size());
            for (float& v : px) v = std::round(v);
            plain.push_back(dir + "/plain_" + std::to_string(k) + ".dcm");
            io::write_dicom_slice(plain.back(), w, px.data());
            w.transfer_syntax = io::DicomTransferSyntax::jpegls_lossless;
            jpegls.push_back(dir + "/jls_" + std::to_string(k) + ".dcm");
            io::write_dicom_slice(jpegls.back(), w, px.data());
            w.transfer_syntax = io::DicomTransferSyntax::jpeg2000_lossless;
            j2k_lossless.push_back(dir + "/j2k_" + std::to_string(k) + ".dcm");
            io::write_dicom_slice(j2k_lossless.back(), w, px.data());
            w.transfer_syntax = io::DicomTransferSyntax::jpeg2000;
            w.j2k_ratio = 10;
            j2k_lossy.push_back(dir + "/j2k_lossy_" + std::to_string(k) + ".dcm");
            io::write_dicom_slice(j2k_lossy.back(), w, px.data());
            w.transfer_syntax = io::DicomTransferSyntax::explicit_le;
            char id[32];
            std::snprintf(id, sizeof id, "ID_%09llx", static_cast<unsigned long long>(0xabc000 + k));
            w.sop_uid = id;
            io::write_dicom_slice(dir + "/rsna/stage_2_train/" + id + ".dcm", w, px.data());
            const io::IchLabels& l = ph.slice_labels[static_cast<size_t>(k)];
            for (int t = 0; t < 6; ++t)
                csv += std::string(id) + "_" + types[t] + "," + std::to_string(t == 5 ? l.any : l.subtype[static_cast<size_t>(t)]) + "\n";
        }
        std::FILE* f = std::fopen((dir + "/rsna/stage_2_train.csv").c_str(), "w");
        std::fputs(csv.c_str(), f);
        std::fclose(f);
        nifti = dir + "/ct.nii";
        io::write_nifti(nifti, ph.ct);
        rsna = std::make_shared<io::RsnaDataset>(dir + "/rsna");
    }
    ~Fixture() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

void full_pipeline(benchmark::State& state, const std::vector<std::string>& files) {
    set_num_threads(1);
    data::SegAugmentParams p;  // SPEC §2, 256 x 256
    std::vector<float> win(static_cast<size_t>(kSize * kSize)), out(256 * 256), scratch;
    int64_t i = 0;
    for (auto _ : state) {
        const io::DicomSlice s = io::read_dicom_slice(files[static_cast<size_t>(i % kSlices)]);
        data::apply_window(s.hu.data(), win.data(), kSize * kSize, data::Window::segmentation());
        data::Rng rng(1, data::stream_id(static_cast<uint64_t>(i)));
        data::augment_segmentation<uint8_t>(win.data(), nullptr, kSize, kSize, out.data(), nullptr, p, rng, &scratch);
        benchmark::DoNotOptimize(out.data());
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_pipeline_full(benchmark::State& state) { full_pipeline(state, fixture().plain); }
void BM_pipeline_full_jpegls(benchmark::State& state) { full_pipeline(state, fixture().jpegls); }
void BM_pipeline_full_j2k_lossless(benchmark::State& state) { full_pipeline(state, fixture().j2k_lossless); }
void BM_pipeline_full_j2k_lossy(benchmark::State& state) { full_pipeline(state, fixture().j2k_lossy); }

/// DICOM read + HU of one storage form: 0 plain (explicit LE), 1 JPEG-LS, 2 JPEG 2000 .90, 3 JPEG 2000 .91 10:1.
void stage_dicom_read_hu(benchmark::State& state, int format) {
    const Fixture& f = fixture();
    const std::vector<std::string>* files[4] = {&f.plain, &f.jpegls, &f.j2k_lossless, &f.j2k_lossy};
    const auto& list = *files[format];
    int64_t i = 0;
    for (auto _ : state) {
        const io::DicomSlice s = io::read_dicom_slice(list[static_cast<size_t>(i++ % kSlices)]);
        benchmark::DoNotOptimize(s.hu.data());
    }
    state.SetItemsProcessed(state.iterations());
    double bytes = 0;
    for (const auto& p : list) bytes += static_cast<double>(std::filesystem::file_size(p));
    state.counters["bytes_per_slice"] = bytes / static_cast<double>(list.size());
}
void BM_stage_dicom_read_hu(benchmark::State& state) { stage_dicom_read_hu(state, 0); }
void BM_stage_dicom_read_hu_jpegls(benchmark::State& state) { stage_dicom_read_hu(state, 1); }
void BM_stage_dicom_read_hu_j2k_lossless(benchmark::State& state) { stage_dicom_read_hu(state, 2); }
void BM_stage_dicom_read_hu_j2k_lossy(benchmark::State& state) { stage_dicom_read_hu(state, 3); }

void BM_stage_window(benchmark::State& state) {
    const float* hu = fixture().ph.ct.slice(kSlices / 2);
    std::vector<float> out(static_cast<size_t>(kSize * kSize));
    for (auto _ : state) {
        data::apply_window(hu, out.data(), kSize * kSize, data::Window::segmentation());
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_stage_resize_512_to_256(benchmark::State& state) {
    const float* hu = fixture().ph.ct.slice(kSlices / 2);
    std::vector<float> out(256 * 256), tmp;
    for (auto _ : state) {
        data::resize_bilinear(hu, kSize, kSize, out.data(), 256, 256, &tmp);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_stage_augment_image_and_mask(benchmark::State& state) {
    const Fixture& f = fixture();
    std::vector<float> win(static_cast<size_t>(kSize * kSize)), out(256 * 256), scratch;
    std::vector<uint8_t> mask(256 * 256);
    data::apply_window(f.ph.ct.slice(kSlices / 2), win.data(), kSize * kSize, data::Window::segmentation());
    data::SegAugmentParams p;
    int64_t i = 0;
    for (auto _ : state) {
        data::Rng rng(1, data::stream_id(static_cast<uint64_t>(i++)));
        data::augment_segmentation(win.data(), f.ph.ich.slice(kSlices / 2), kSize, kSize, out.data(), mask.data(), p, rng,
                                   &scratch);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_stage_global_view_256(benchmark::State& state) {
    std::vector<float> win(256 * 256), out(256 * 256), tmp;
    data::resize_bilinear(fixture().ph.ct.slice(kSlices / 2), kSize, kSize, win.data(), 256, 256, &tmp);
    data::apply_window(win.data(), win.data(), 256 * 256, data::Window::segmentation());
    const data::ViewParams p = data::ViewParams::global();
    int64_t i = 0;
    for (auto _ : state) {
        data::Rng rng(1, data::stream_id(static_cast<uint64_t>(i++)));
        data::global_view(win.data(), 256, 256, out.data(), p, rng);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_stage_local_pair_256(benchmark::State& state) {
    std::vector<float> win(256 * 256), a(256 * 256), b(256 * 256), tmp;
    data::resize_bilinear(fixture().ph.ct.slice(kSlices / 2), kSize, kSize, win.data(), 256, 256, &tmp);
    data::apply_window(win.data(), win.data(), 256 * 256, data::Window::segmentation());
    const data::ViewParams p = data::ViewParams::local();
    int64_t i = 0;
    for (auto _ : state) {
        data::Rng rng(1, data::stream_id(static_cast<uint64_t>(i++)));
        data::local_view_pair(win.data(), 256, 256, a.data(), b.data(), p, rng);
        benchmark::DoNotOptimize(a.data());
    }
    state.SetItemsProcessed(state.iterations());  // pairs
}

void BM_stage_context_corruption_256(benchmark::State& state) {
    std::vector<float> img(256 * 256, 0.5f);
    const data::ContextRestorationParams p;
    int64_t i = 0;
    for (auto _ : state) {
        data::Rng rng(1, data::stream_id(static_cast<uint64_t>(i++)));
        data::corrupt_context(img.data(), 256, 256, p, rng);
        benchmark::DoNotOptimize(img.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_stage_nifti_volume_read(benchmark::State& state) {
    for (auto _ : state) {
        const io::Volume v = io::read_nifti(fixture().nifti);
        benchmark::DoNotOptimize(v.voxels.data());
    }
    state.SetItemsProcessed(state.iterations() * kSlices);  // slices
}

void BM_loader(benchmark::State& state) {
    auto src = std::make_shared<io::RsnaSliceSource>(fixture().rsna);
    data::PipelineOptions pipe;
    pipe.task = data::Task::classification;
    data::LoaderOptions lo;
    lo.batch_size = 32;
    lo.threads = static_cast<int>(state.range(0));
    lo.prefetch = 2 * lo.threads;
    // 4 passes over the 16 files per epoch (index list with repeats) so one epoch is 2 batches of 32
    std::vector<int64_t> idx;
    for (int r = 0; r < 4; ++r)
        for (int64_t i = 0; i < src->size(); ++i) idx.push_back(i);
    data::BatchLoader loader(src, idx, pipe, lo);
    int64_t epoch = 0, slices = 0;
    for (auto _ : state) {
        loader.start_epoch(epoch++);
        while (auto b = loader.next()) {
            slices += b->size();
            benchmark::DoNotOptimize(b->images.data());
        }
    }
    state.SetItemsProcessed(slices);
}

}  // namespace

BENCHMARK(BM_pipeline_full)->Name("pipeline/full")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_pipeline_full_jpegls)->Name("pipeline/full_jpegls")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_pipeline_full_j2k_lossless)->Name("pipeline/full_j2k_lossless")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_pipeline_full_j2k_lossy)->Name("pipeline/full_j2k_lossy")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stage_dicom_read_hu)->Name("stage/dicom_read_hu_512")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stage_dicom_read_hu_jpegls)->Name("stage/dicom_read_hu_512/jpegls")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stage_dicom_read_hu_j2k_lossless)->Name("stage/dicom_read_hu_512/j2k_lossless")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stage_dicom_read_hu_j2k_lossy)->Name("stage/dicom_read_hu_512/j2k_lossy")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stage_window)->Name("stage/window_512")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_stage_resize_512_to_256)->Name("stage/resize_aa_512_to_256")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_stage_augment_image_and_mask)->Name("stage/augment_seg_512_to_256")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_stage_global_view_256)->Name("stage/global_view_256")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_stage_local_pair_256)->Name("stage/local_view_pair_256")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_stage_context_corruption_256)->Name("stage/context_corruption_256")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_stage_nifti_volume_read)->Name("stage/nifti_read_512x512x16")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_loader)->Name("loader/threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
