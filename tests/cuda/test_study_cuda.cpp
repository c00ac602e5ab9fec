/// @file test_study_cuda.cpp
/// @brief The study's GPU path (core/device_choice.hpp, nn::Module::to, study/training.hpp): a tiny segmentation stage trained on the
/// GPU for a few Adam steps gives the CPU's epoch losses; its training-state checkpoint is device-independent
/// (it loads into a CPU model and optimiser and holds the GPU's weights exactly); every pretext recipe runs on
/// the GPU and writes finite weights; ichseg::resolve_device picks the GPU.
///
/// Tolerance of the loss comparison (FP32 on the GPU, PrecisionGuard): the first step's loss agrees to ~1e-5
/// (test_unet_step_cuda.cpp); each Adam step moves a parameter by about lr in the direction of its gradient's
/// sign, and the two devices differ only where that sign is rounding noise (< 0.1 % of the parameters, by at most
/// 2 lr), so over the 6 steps here the epoch-mean Dice losses stay within 2e-3 relative.
#include <filesystem>
#include <unistd.h>

#include "cuda_support.hpp"
#include "ichseg/core/device_choice.hpp"
#include "ichseg/study/training.hpp"
#include "support/disk_slices.hpp"

using namespace ichseg;
using test::DiskSlices;
namespace fs = std::filesystem;

namespace {


study::StudyConfig tiny_config() {
    study::StudyConfig c = study::profile_config("tiny");
    c.augment = false;
    c.loader_threads = 1;
    return c;
}

std::string scratch_dir(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / ("ichseg_cuda_study_" + std::to_string(::getpid())) / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d.string();
}

struct SegRun {
    train::FitResult fit;
    std::vector<Tensor<float>> params;  ///< on the CPU
};

SegRun train_seg(Device dev, const std::string& checkpoint = "") {
    const study::StudyConfig c = tiny_config();
    auto src = std::make_shared<DiskSlices>(12, c.input_size);
    std::vector<int64_t> idx(12);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    Generator gen(1234);
    nn::UNet<float> net(c.unet_config(), gen);
    study::RunSpec r;
    r.name = "seg";
    r.checkpoint = checkpoint;
    r.stage = {2, 4};  // 3 batches per epoch, 6 steps
    r.seed = 77;
    r.progress = false;
    r.device = dev;
    cuda::PrecisionGuard fp32(cuda::Precision::FP32);
    SegRun out;
    out.fit = study::train_segmentation(net, c, r, src, idx, 0.2);
    REQUIRE(net.device() == dev);
    for (auto& [name, v] : net.named_parameters()) out.params.push_back(v.value().to(Device::cpu()));
    return out;
}

}  // namespace

TEST_CASE("resolve_device picks the GPU when the backend and a device are there", "[cuda][study]") {
    const DeviceChoice a = resolve_device("auto");
    CHECK(a.device == Device::cuda(0));
    CHECK(a.describe("training").rfind("training on cuda:0 (", 0) == 0);
    CHECK(resolve_device("cuda").device == Device::cuda(0));
    CHECK(resolve_device("cpu").device == Device::cpu());
}

TEST_CASE("a tiny study segmentation stage on the GPU gives the CPU's losses", "[cuda][study]") {
    const SegRun cpu = train_seg(Device::cpu());
    const SegRun gpu = train_seg(Device::cuda(0));
    REQUIRE(cpu.fit.epoch_loss.size() == 2);
    REQUIRE(gpu.fit.epoch_loss.size() == 2);
    for (size_t e = 0; e < 2; ++e) {
        INFO("epoch " << e + 1 << ": gpu " << gpu.fit.epoch_loss[e] << ", cpu " << cpu.fit.epoch_loss[e]);
        REQUIRE(std::isfinite(gpu.fit.epoch_loss[e]));
        CHECK(std::abs(gpu.fit.epoch_loss[e] - cpu.fit.epoch_loss[e]) <= 2e-3 * std::abs(cpu.fit.epoch_loss[e]));
    }
}

TEST_CASE("the GPU stage's training-state checkpoint is device-independent", "[cuda][study]") {
    const std::string dir = scratch_dir("checkpoint");
    const std::string ck = dir + "/seg.ckpt";
    const SegRun gpu = train_seg(Device::cuda(0), ck);
    REQUIRE(fs::exists(ck));
    // Into a CPU model and optimiser built the same way: weights equal the GPU's exactly, moments on the CPU.
    const study::StudyConfig c = tiny_config();
    nn::UNet<float> net(c.unet_config());
    optim::Adam<float> opt(net.parameters(), study::adam_params(c));
    const train::TrainPosition pos = train::load_training_state(ck, net, opt);
    CHECK(pos.finished);
    CHECK(pos.epoch == 2);
    const auto named = net.named_parameters();
    REQUIRE(named.size() == gpu.params.size());
    for (size_t i = 0; i < named.size(); ++i) {
        INFO(named[i].first);
        REQUIRE(named[i].second.value().device().is_cpu());
        CHECK(named[i].second.value().to_vector() == gpu.params[i].to_vector());
    }
    int64_t moments = 0;
    for (const auto& s : opt.state())
        if (s.m.defined()) {
            CHECK(s.m.device().is_cpu());
            ++moments;
        }
    CHECK(moments == static_cast<int64_t>(named.size()));
    fs::remove_all(fs::path(dir).parent_path());
}

TEST_CASE("every pretext recipe trains on the GPU and writes finite CPU weights", "[cuda][study]") {
    const std::string dir = scratch_dir("pretext");
    const study::StudyConfig c = tiny_config();
    auto src = std::make_shared<DiskSlices>(16, c.input_size);
    std::vector<int64_t> idx(16);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
    const std::string global = dir + "/global_contrastive.safetensors";
    // global contrastive first: the local contrastive task starts from its encoder
    std::vector<study::Pretext> order{study::Pretext::global_contrastive};
    for (study::Pretext p : study::all_pretexts())
        if (p != study::Pretext::global_contrastive) order.push_back(p);
    for (study::Pretext p : order) {
        INFO("pretext " << study::pretext_key(p));
        study::RunSpec r;
        r.name = study::pretext_key(p);
        r.stage = {1, 8};
        r.seed = 5;
        r.progress = false;
        r.device = Device::cuda(0);
        const std::string w = dir + "/" + study::pretext_key(p) + ".safetensors";
        REQUIRE_NOTHROW(study::train_pretext(p, c, r, src, idx, w, global));
        const io::SafetensorsFile f = io::SafetensorsFile::read(w);
        int64_t n = 0;
        for (const std::string& k : f.keys()) {
            if (f.entry(k).dtype != "F32") continue;
            for (float v : f.get<float>(k).to_vector()) REQUIRE(std::isfinite(v));
            ++n;
        }
        CHECK(n > 0);
    }
    fs::remove_all(fs::path(dir).parent_path());
}
