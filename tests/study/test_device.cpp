/// @file test_device.cpp (study)
/// @brief `--device auto|cpu|cuda` of the study (ichseg::resolve_device of core/device_choice.hpp, StudyOptions::device, ichseg_reproduce):
/// "cuda" without a usable GPU is an error that says why and writes nothing (library and program; the program
/// runs with CUDA_VISIBLE_DEVICES="" so that this holds on a GPU machine too); "cpu" and "auto" run, the log
/// says where ("training on the CPU (...)" / "training on cuda:0 (...)"), every fold result records the device,
/// and the device is not part of the config identity (a rerun on another device skips the finished units).
/// The GPU itself is exercised by tests/cuda/test_study_cuda.cpp ([cuda], Skipped without a GPU).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ichseg/study/pipeline.hpp"
#include "study_test_util.hpp"
#include "support/errors.hpp"

namespace test_study_device {

using namespace ichseg;
namespace fs = std::filesystem;

using test::read_file;

std::string fresh_dir(const std::string& name) { return test::fresh_dir("study_device", name); }

/// Run ichseg_reproduce with `args` (stdout + stderr to `log`), no GPU visible when `hide_gpus`; exit code.
int run_reproduce(const std::vector<std::string>& args, const std::string& log, bool hide_gpus = false) {
    std::fflush(nullptr);  // or the child's freopen would write this process's buffered output a second time
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (hide_gpus) ::setenv("CUDA_VISIBLE_DEVICES", "", 1);
        FILE* f = std::freopen(log.c_str(), "w", stdout);
        if (!f || ::dup2(::fileno(stdout), 2) < 0) ::_exit(126);
        std::vector<char*> argv{const_cast<char*>(ICHSEG_REPRODUCE_EXE)};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST_CASE("resolve_device: cpu, auto and the error for cuda in a build without the backend", "[study][device]") {
    const DeviceChoice cpu = resolve_device("cpu");
    CHECK(cpu.device == Device::cpu());
    CHECK(cpu.describe("training") == "training on the CPU (--device cpu)");
    // This test program does not link ichseg::cuda (ICHSEG_WITH_CUDA unset), whatever the build.
    STATIC_REQUIRE(!built_with_cuda());
    const DeviceChoice a = resolve_device("auto");
    CHECK(a.device == Device::cpu());
    CHECK(a.describe("training") == "training on the CPU (built without the ichseg CUDA backend)");
    test::require_error([] { resolve_device("cuda"); },
                        {"device 'cuda' requested", "built without the ichseg CUDA backend"});
    test::require_error([] { resolve_device("gpu"); }, {"device must be auto, cpu or cuda", "'gpu'"});
    // Moving to the device a tensor or module is already on is the tensor itself: no copy on the CPU path.
    Tensor<float> t = Tensor<float>::zeros({2, 3});
    CHECK(t.to(Device::cpu()).data() == t.data());
    CHECK(!Tensor<float>().to(Device::cpu()).defined());
    nn::UNet<float> net(study::profile_config("tiny").unet_config());
    const float* w0 = net.named_parameters().front().second.value().data();
    net.to(Device::cpu());
    CHECK(net.device() == Device::cpu());
    CHECK(net.named_parameters().front().second.value().data() == w0);
    // Without the backend, moving a module to CUDA is the clear "built without" error.
    test::require_error([&] { net.to(Device::cuda(0)); }, {"built without the ichseg CUDA backend"});
}

TEST_CASE("run_study with device cuda and no usable GPU fails before writing anything", "[study][device]") {
    const std::string dir = fresh_dir("library_cuda");
    study::StudyOptions o;
    o.config = study::profile_config("tiny");
    o.data_root = dir + "/data";
    o.out = dir + "/out";
    o.generate_phantoms = true;
    o.progress = false;
    o.log = [](const std::string&) {};
    o.device = "cuda";
    test::require_error([&] { study::run_study(o); }, {"device 'cuda' requested"});
    CHECK(!fs::exists(o.out));
    CHECK(!fs::exists(o.data_root));
}

TEST_CASE("ichseg_reproduce --device: cuda without a GPU is refused and writes nothing, cpu and auto run",
          "[study][device][reproduce]") {
    const std::string dir = fresh_dir("program");
    const std::string data = dir + "/data", out = dir + "/out";
    const std::vector<std::string> common{"--profile", "tiny", "--data", data, "--out", out, "--generate-phantoms",
                                          "--threads", "2", "--quiet"};
    auto with = [&](const std::string& device) {
        std::vector<std::string> a = common;
        a.push_back("--device");
        a.push_back(device);
        return a;
    };

    {  // --device cuda, no GPU visible: exit 1, a message that says why, no folder created
        const std::string log = dir + "/cuda.log";
        const int rc = run_reproduce(with("cuda"), log, /*hide_gpus=*/true);
        const std::string text = read_file(log);
        INFO(text);
        CHECK(rc == 1);
        CHECK(text.find("ichseg_reproduce: error: device 'cuda' requested") != std::string::npos);
        if (ICHSEG_REPRODUCE_HAS_CUDA)
            CHECK(text.find("no GPU can be used: cudaGetDeviceCount") != std::string::npos);
        else
            CHECK(text.find("built without the ichseg CUDA backend") != std::string::npos);
        CHECK(!fs::exists(out));
        CHECK(!fs::exists(data));
    }
    {  // an unknown device is a command-line error
        const std::string log = dir + "/bad.log";
        CHECK(run_reproduce(with("gpu"), log) != 0);
        CHECK(!fs::exists(out));
    }
    int units = 0;
    {  // --device cpu: the whole tiny study on the CPU
        const std::string log = dir + "/cpu.log";
        const int rc = run_reproduce(with("cpu"), log);
        const std::string text = read_file(log);
        INFO(text);
        REQUIRE(rc == 0);
        CHECK(text.find(", device cpu, ") != std::string::npos);
        CHECK(text.find("\ntraining on the CPU (--device cpu)\n") != std::string::npos);
        CHECK(text.find("[skip]") == std::string::npos);
        const nlohmann::json fold = study::read_json_file(out + "/results/physionet/mixed/fold0.json");
        CHECK(fold.at("device") == "cpu");
        CHECK(fs::exists(out + "/tables/table3.md"));
        const auto pos = text.find(" units run");
        REQUIRE(pos != std::string::npos);
        units = std::stoi(text.substr(text.rfind('(', pos) + 1));
        CHECK(units > 0);
    }
    {  // --device auto into the same folder: the device is not part of the config, every unit is found done
        const std::string log = dir + "/auto.log";
        const int rc = run_reproduce(with("auto"), log);
        const std::string text = read_file(log);
        INFO(text);
        REQUIRE(rc == 0);
        const bool gpu = text.find("\ntraining on cuda:0 (") != std::string::npos;
        const bool cpu = text.find("\ntraining on the CPU (") != std::string::npos;
        CHECK(gpu != cpu);
        if (!ICHSEG_REPRODUCE_HAS_CUDA)
            CHECK(text.find("\ntraining on the CPU (built without the ichseg CUDA backend)\n") != std::string::npos);
        CHECK(text.find("(0 units run, " + std::to_string(units) + " already done)") != std::string::npos);
    }
}

}  // namespace test_study_device
