/// @file reproduce.cpp
/// @brief ichseg_reproduce: the whole study (SPEC §5-9) in one command, in dependency order, resumable.
///   ichseg_reproduce --profile quick --data ./study-quick/data --out ./study-quick/out --generate-phantoms
///   ichseg_reproduce --profile paper --data /data/ich --out /runs/paper            (real layouts under /data/ich)
///   ichseg_reproduce --config examples/configs/quick.json --data ... --out ...
///   ichseg_reproduce --profile paper --device cuda ...   (the GPU, or an error before any work when none is usable)
///   ichseg_reproduce --profile quick --precision bf16 ... (BF16 products, FP32 accumulation; config key "precision")
/// The logic lives in include/ichseg/study/; this file parses the command line and prints the outcome.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "ichseg/study/pipeline.hpp"

using namespace ichseg;

int main(int argc, char** argv) {
    // The batch loader's threads share the cores with the OpenMP compute threads; OpenMP's default spin-waiting
    // then steals their time (several-fold slower training on 2 cores). The policy is read when the OpenMP
    // runtime loads, so it is set here and the program restarts itself once.
    if (!std::getenv("OMP_WAIT_POLICY")) {
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        ::execv("/proc/self/exe", argv);  // returns only on failure: then continue with the default policy
    }
    CLI::App app{"Reproduce Table 3 and Figures 3-5 of Spahr et al. 2023 (ICM, baselines, six pretext tasks, "
                 "transfer, k-fold evaluation). Reruns skip finished work and resume interrupted training."};
    std::string profile = "quick", config_file, precision;
    study::StudyOptions o;
    int threads = 0;
    bool quiet = false;
    app.add_option("--profile", profile, "built-in settings: quick (2-core CPU), paper (SPEC §5, GPU), tiny (tests)")
        ->check(CLI::IsMember({"quick", "paper", "tiny"}));
    app.add_option("--config", config_file, "JSON file overriding keys of the profile (examples/configs/*.json)");
    app.add_option("--data", o.data_root, "dataset root: physionet/, segcq500/, rsna/, icm/")->required();
    app.add_option("--out", o.out, "output folder (tables, figures, models, checkpoints)")->required();
    app.add_flag("--generate-phantoms", o.generate_phantoms,
                 "write synthetic phantoms in the four layouts under --data first (skipped when already there)");
    app.add_option("--threads", threads, "compute threads (default: the config's, 0 = all cores)");
    app.add_flag("--quiet", quiet, "no training progress lines");
    app.add_option("--precision", precision,
                   "fp32 or bf16: product precision of training and evaluation (default: the config's, fp32); BF16 "
                   "products with FP32 accumulation, weights, statistics, losses and optimiser state; part of the "
                   "config (a bf16 run needs its own --out folder)")
        ->check(CLI::IsMember({"fp32", "bf16"}));
    app.add_option("--device", o.device,
                   "where the networks train and run: auto (the GPU when this program has the CUDA backend and a GPU "
                   "is usable, else the CPU), cpu, or cuda (an error when no GPU can be used); not part of the "
                   "config: a run may be resumed on another device")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    CLI11_PARSE(app, argc, argv);
    try {
        o.config = config_file.empty() ? study::profile_config(profile) : study::load_config(config_file, profile);
        if (threads > 0) o.config.threads = threads;
        if (!precision.empty()) o.config.precision = parse_precision(precision, "--precision");
        o.progress = !quiet;
        // Resolved here too (run_study does it again and logs "training on ...") so that "--device cuda"
        // without a GPU fails before any output is written.
        const DeviceChoice dev = resolve_device(o.device);
        std::printf("ichseg_reproduce: profile %s, %d threads, device %s, precision %s, data %s, output %s\n",
                    o.config.profile.c_str(), o.config.threads > 0 ? o.config.threads : num_threads(),
                    dev.device.str().c_str(), precision_name(o.config.precision), o.data_root.c_str(), o.out.c_str());
        std::fflush(stdout);
        const study::StudyResult r = study::run_study(o);
        std::printf("\n%s\n", r.table3.c_str());
        std::printf("done in %.1f s (%d units run, %d already done)\n", r.seconds, r.units_run, r.units_skipped);
        std::printf("outputs:\n");
        for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
    } catch (const Error& e) {
        std::fprintf(stderr, "ichseg_reproduce: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {  // file system, memory: still a message and an exit code, not an abort
        std::fprintf(stderr, "ichseg_reproduce: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
