/// @file bench_predict.cpp
/// @brief End-to-end prediction time of one case (issue 6's speed figure; docs/performance.md "Prediction"):
///   predict/end_to_end      a 512 x 512 x 40 head-CT phantom as .nii.gz -> predict::run_case, the code path of
///                           ichseg_predict: read NIfTI, preprocess (window + anti-aliased resize to 256 x 256),
///                           the paper U-Net (base width 32, depth 5, default nn::ModelInfo / UNetConfig) in batches
///                           of 8 slices, resample back to 512 x 512 + threshold, report, write mask + reports
///                           (target <= 20 s on a 2-core CPU)
///   predict/model_load      loading the model file (Segmenter construction), not part of end_to_end
///   stage/read_nifti        the read alone;  stage/inference  Segmenter::segment alone (no I/O)
///   stage/network_40x256    the U-Net alone on 40 slices of 256 x 256 in batches of 8 (eval, no gradients): the
///                           workload of benchmarks/reference/infer_onnx.py (ONNX Runtime, the deployment peer)
/// Precision: the process default, i.e. FP32 or `ICHSEG_PRECISION=bf16` (counter bf16 = 1 when BF16 products ran).
/// The model has random weights (speed does not depend on them); the inputs live in a temporary folder made at
/// start-up and removed at exit. Threads: ichseg's default (OMP_NUM_THREADS, else all cores); the count used is
/// in the benchmark's "threads" counter.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "ichseg/core/parallel.hpp"
#include "ichseg/core/precision.hpp"
#include "ichseg/cpu/bf16.hpp"
#include "ichseg/data/phantom.hpp"
#include "ichseg/io/nifti.hpp"
#include "ichseg/nn/model_file.hpp"
#include "ichseg/predict/predict.hpp"

using namespace ichseg;

namespace {

constexpr int64_t kSize = 512, kSlices = 40;

struct Fixture {
    std::string dir, nifti, model;
    Fixture() {
        dir = (std::filesystem::temp_directory_path() / ("ichseg-bench-predict-" + std::to_string(::getpid()))).string();
        std::filesystem::create_directories(dir + "/out");
        data::PhantomParams p;
        p.size = kSize;
        p.slices = kSlices;
        p.ich = 1;
        nifti = dir + "/case.nii.gz";
        io::write_nifti(nifti, data::generate_phantom(p, 2026).ct);
        Generator gen(6);
        nn::ModelInfo info;  // the paper configuration: UNetConfig defaults, input 256, window [-50, 150]
        nn::UNet<float> net(info.unet, gen);
        net.eval();
        info.description = "bench_predict: random weights";
        model = dir + "/model.safetensors";
        nn::save_model(net, info, model);
    }
    ~Fixture() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

Fixture& fx() {
    static Fixture f;
    return f;
}

void counters(benchmark::State& state, const Segmenter& seg) {
    state.counters["gpu"] = seg.device().is_cuda() ? 1 : 0;  // networks on the GPU (CUDA build with a device)
    state.counters["threads"] = static_cast<double>(num_threads());
    state.counters["slices"] = static_cast<double>(kSlices);
}

void BM_EndToEnd(benchmark::State& state) {
    auto& f = fx();
    Segmenter seg(f.model);
    predict::RunOptions ro;
    ro.out_dir = f.dir + "/out";
    ro.overwrite = true;  // the same outputs every iteration
    const predict::CaseInput c{"case", f.nifti};
    double volume = 0;
    for (auto _ : state) {
        const predict::CaseResult r = predict::run_case(seg, c, ro);
        volume = r.report.volume_ml;
        benchmark::DoNotOptimize(volume);
    }
    counters(state, seg);
}

void BM_ModelLoad(benchmark::State& state) {
    auto& f = fx();
    for (auto _ : state) {
        Segmenter seg(f.model);
        benchmark::DoNotOptimize(&seg);
    }
}

void BM_ReadNifti(benchmark::State& state) {
    auto& f = fx();
    for (auto _ : state) {
        io::Volume v = io::read_nifti(f.nifti);
        benchmark::DoNotOptimize(v.voxels.data());
    }
}

void BM_Inference(benchmark::State& state) {
    auto& f = fx();
    Segmenter seg(f.model);
    const io::Volume v = io::read_nifti(f.nifti);
    for (auto _ : state) {
        auto r = seg.segment(v);
        benchmark::DoNotOptimize(r.mask.voxels.data());
    }
    counters(state, seg);
}

void BM_Network(benchmark::State& state) {
    Generator gen(6);
    nn::ModelInfo info;
    nn::UNet<float> net(info.unet, gen);
    net.eval();
    Tensor<float> x = Tensor<float>::empty({kSlices, 1, info.input_size, info.input_size});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = random_uniform(3, 1, static_cast<uint64_t>(i));
    const int64_t batch = 8, per = info.input_size * info.input_size;
    NoGradGuard no_grad;
    for (auto _ : state) {
        for (int64_t b = 0; b < kSlices; b += batch) {
            Tensor<float> xb = Tensor<float>::empty({std::min(batch, kSlices - b), 1, info.input_size, info.input_size});
            std::copy(x.data() + b * per, x.data() + (b + xb.size(0)) * per, xb.data());
            benchmark::DoNotOptimize(net.forward(Var<float>(xb)).value().data());
        }
    }
    state.counters["threads"] = static_cast<double>(num_threads());
    state.counters["bf16"] = precision() == Precision::BF16 && cpu::bf16_available() ? 1 : 0;
}

}  // namespace

// CPU columns of the two long rows are process-wide (all threads), so that a run on a shared, loaded machine can
// be read: wall time there is inflated by other processes, the CPU time much less.
BENCHMARK(BM_EndToEnd)
    ->Name("predict/end_to_end")
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Iterations(3);
BENCHMARK(BM_ModelLoad)->Name("predict/model_load")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadNifti)->Name("stage/read_nifti")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Inference)
    ->Name("stage/inference")
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Iterations(1);
BENCHMARK(BM_Network)
    ->Name("stage/network_40x256")
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Iterations(2);

BENCHMARK_MAIN();
