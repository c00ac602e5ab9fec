/// @file reproduce.cpp
/// @brief ichseg_reproduce: the whole study (SPEC §5-9) in one command, in dependency order, resumable.
///   ichseg_reproduce --profile quick --data ./study-quick/data --out ./study-quick/out --generate-phantoms
///   ichseg_reproduce --profile paper --data /data/ich --out /runs/paper            (real layouts under /data/ich)
///   ichseg_reproduce --config examples/configs/quick.json --data ... --out ...
///   ichseg_reproduce --profile paper --device cuda ...   (the GPU, or an error before any work when none is usable)
///   ichseg_reproduce --plan --profile paper --data /data/ich --out /runs/paper   (units, states, costs; runs none)
///   ichseg_reproduce --worker --device cuda:1 ...        (one of several processes sharing --out; docs/study.md)
///   ichseg_reproduce --profile quick --precision bf16 ... (BF16 products, FP32 accumulation; config key "precision")
/// The logic lives in include/ichseg/study/; this file parses the command line and prints the outcome.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>

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
    bool quiet = false, plan = false, plan_summary = false;
    app.add_option("--profile", profile,
                   "built-in settings (examples/configs/<name>.json, embedded at build time): quick (smoke test, "
                   "~5 min on 2 cores), standard (128 px, <= 2 h on 2 cores), paper (SPEC §5, GPU), tiny (tests)")
        ->check(CLI::IsMember(study::profile_names()));
    app.add_option("--config", config_file,
                   "JSON file overriding keys of its \"profile\" (default: --profile); a copy of "
                   "examples/configs/<name>.json is a complete starting point");
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
        ->check([](const std::string& v) {
            return v == "auto" || v == "cpu" || v == "cuda" || cuda_index_of(v) >= 0
                       ? std::string()
                       : "must be auto, cpu, cuda or cuda:N, got '" + v + "'";
        });
    app.add_flag("--plan", plan,
                 "print every unit with its dependencies' state, its state (done, running, ready, waiting, failed) "
                 "and estimated cost (FLOPs; time where units already finished on this device), then exit; runs "
                 "nothing");
    app.add_flag("--summary", plan_summary, "with --plan: only the summary per stage, no line per unit");
    app.add_flag("--worker", o.worker,
                 "one of several processes sharing --out (on one machine or on nodes with a shared filesystem): "
                 "a failed unit is recorded and the worker goes on with the others (each unit is tried at most "
                 "--max-attempts times); without it the first failure stops the process");
    app.add_flag("--label-budget", o.label_budget,
                 "also run the label-budget experiment (config keys label_budget.*): Dice versus the number of "
                 "labelled training volumes");
    app.add_option("--lease", o.lease_s, "seconds without renewal after which another worker takes a unit over "
                   "(at once when the holder was a process of this machine that is gone)")->capture_default_str();
    app.add_option("--heartbeat", o.heartbeat_s, "seconds between renewals of a held unit")->capture_default_str();
    app.add_option("--poll", o.poll_s, "seconds between looks at the queue while waiting for other workers' units")
        ->capture_default_str();
    app.add_option("--max-attempts", o.max_attempts, "with --worker: failed attempts before a unit counts as failed")
        ->capture_default_str();
    app.add_option("--node", o.node, "node name written in claims (default: the host name)");
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
        if (plan) {
            o.config.validate("config");
            if (o.config.threads > 0) set_num_threads(o.config.threads);
            std::string why_not;
            const study::DataSizes sizes = study::Study::data_sizes(o, &why_not);
            if (!why_not.empty()) std::printf("(the data could not be read for the sizes: %s)\n", why_not.c_str());
            const study::Plan p = study::Study::make_plan(o, sizes);
            std::unique_ptr<study::WorkQueue> q;
            std::error_code ec;
            if (std::filesystem::is_directory(o.out + "/queue", ec)) {
                study::QueueOptions qo;
                qo.dir = o.out + "/queue";
                qo.lease_s = o.lease_s;
                qo.heartbeat_s = o.heartbeat_s;
                qo.node = o.node;
                q = std::make_unique<study::WorkQueue>(qo);
            }
            const auto st = study::plan_status(p, q.get(), !o.worker);
            std::printf("%s", study::plan_text(p, st, study::MeasuredRates::read(o.out + "/queue"),
                                               study::device_label(dev), sizes.source, !plan_summary)
                                  .c_str());
            return 0;
        }
        const study::StudyResult r = study::run_study(o);
        if (!r.table3.empty()) std::printf("\n%s\n", r.table3.c_str());
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
