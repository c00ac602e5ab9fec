/// @file test_fidelity.cpp (study)
/// @brief The study's fidelity rules (SPEC §7): an ICM never post-processes a volume its training set contained
/// (the check itself; a study whose shared ICM set overlaps the evaluated volumes is refused before any training;
/// with icm_per_fold each fold's ICM leaves that fold's test volumes out), the transferred models are Table 3
/// rows without the ICM, and context-restoration pre-training gets the segmentation augmentation.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "ichseg/study/pipeline.hpp"
#include "study_test_util.hpp"
#include "support/errors.hpp"

namespace test_study_fidelity {

using namespace ichseg;
namespace fs = std::filesystem;

TEST_CASE("check_icm_disjoint: refused for identical voxels or the same CQ500 patient, passes otherwise",
          "[study][icm]") {
    const std::vector<study::VolumeIdentity> trained{{"CQ500-CT-12", 0xabc}, {"049", 0x123}};
    // disjoint: other ids, other fingerprints
    CHECK_NOTHROW(study::check_icm_disjoint("icm_tissue", trained, {{"CQ500-CT-13", 0xdef}, {"050", 0x456}}, "test"));
    // same voxels under another name (a dataset symlinked or copied as the ICM set)
    test::require_error([&] { study::check_icm_disjoint("icm_tissue", trained, {{"077", 0x123}}, "physionet fold 3"); },
                        {"ICM icm_tissue", "trained on volume 049", "post-process 077", "physionet fold 3",
                         "icm_per_fold"});
    // the same CQ500 patient converted again (other voxels), however the name is written
    test::require_error([&] { study::check_icm_disjoint("icm_bone", trained, {{"CQ500CT12", 0x999}}, "segcq500"); },
                        {"ICM icm_bone", "CQ500-CT-12", "CQ500CT12"});
    CHECK(study::same_volume({"CQ500-CT-7", 1}, {"cq500ct7", 2}));
    CHECK_FALSE(study::same_volume({"007", 1}, {"CQ500-CT-7", 2}));
}

TEST_CASE("the ICM units: a shared pair, or one pair per fold of the datasets in icm_per_fold", "[study][icm]") {
    study::StudyConfig c = study::profile_config("tiny");
    auto keys = [](const std::vector<study::IcmUnit>& u) {
        std::vector<std::string> k;
        for (const auto& x : u) k.push_back(x.key());
        return k;
    };
    CHECK(keys(study::icm_units(c)) == std::vector<std::string>{"icm_tissue", "icm_bone"});
    c.icm_per_fold = {"segcq500"};
    CHECK(keys(study::icm_units(c)) ==
          std::vector<std::string>{"icm_tissue", "icm_bone", "segcq500/icm_tissue/fold0", "segcq500/icm_bone/fold0",
                                   "segcq500/icm_tissue/fold1", "segcq500/icm_bone/fold1"});
    CHECK(study::icm_unit_for(c, "segcq500", 1, "bone").model() == "models/segcq500/icm_bone/fold1.safetensors");
    CHECK(study::icm_unit_for(c, "physionet", 1, "bone").model() == "models/icm_bone.safetensors");
    c.icm_per_fold = {"segcq500", "physionet"};
    CHECK(study::icm_units(c).size() == 2u * (2 + 2));  // no shared pair
    c.icm_per_fold = {"segcq500", "segcq500"};
    test::require_error([&] { c.validate("cfg"); }, {"icm_per_fold", "each dataset once"});
    c.icm_per_fold = {"rsna"};
    test::require_error([&] { c.validate("cfg"); }, {"icm_per_fold", "rsna"});
}

study::StudyOptions tiny_on(const std::string& dir) {
    study::StudyOptions o;
    o.config = study::profile_config("tiny");
    o.config.threads = 2;
    o.data_root = dir + "/data";
    o.out = dir + "/out";
    o.progress = false;
    o.log = [](const std::string&) {};
    return o;
}

/// Phantoms of the tiny profile under dir/data, with data/icm replaced by a symlink to data/segcq500: the ICM
/// set is then the Seg-CQ500-layout set itself (the natural choice on real data: Seg-CQ500's brain masks).
void phantoms_with_icm_as_segcq500(const std::string& dir, const study::StudyConfig& c) {
    study::generate_phantoms(dir + "/data", c);
    fs::remove_all(dir + "/data/icm");
    fs::create_directory_symlink("segcq500", dir + "/data/icm");
}

TEST_CASE("a shared ICM whose training set holds the evaluated volumes is refused before any training",
          "[study][icm]") {
    const std::string dir = test::fresh_dir("study_fidelity", "icm_overlap");
    study::StudyOptions o = tiny_on(dir);
    phantoms_with_icm_as_segcq500(dir, o.config);
    test::require_error([&] { study::run_study(o); },
                        {"ICM icm_tissue", "trained on volume CQ500-CT-", "segcq500", "icm_per_fold"});
    CHECK_FALSE(fs::exists(o.out + "/models/icm_tissue.safetensors"));
    CHECK_FALSE(fs::exists(o.out + "/work/icm_tissue.ckpt"));  // nothing trained
}

TEST_CASE("icm_per_fold: each fold's ICM is trained without that fold's test volumes", "[study][icm]") {
    const std::string dir = test::fresh_dir("study_fidelity", "icm_per_fold");
    study::StudyOptions o = tiny_on(dir);
    o.config.icm_per_fold = {"segcq500"};
    phantoms_with_icm_as_segcq500(dir, o.config);
    const study::StudyResult r = study::run_study(o);
    CHECK(r.units_run == 2 + 2 * o.config.segcq500_folds + 6 + 6 + 8 * (o.config.physionet_folds + o.config.segcq500_folds) + 1);
    // The shared pair (PhysioNet) trained on every Seg-CQ500-layout volume; fold k's pair on all but fold k's
    // test volumes, which are exactly the volumes it post-processed.
    const std::vector<study::VolumeIdentity> all = study::read_icm_training(o.out + "/models/icm_tissue.training.json");
    CHECK(static_cast<int64_t>(all.size()) == o.config.phantom_segcq500);
    std::set<std::string> tested;
    for (int f = 0; f < o.config.segcq500_folds; ++f) {
        const nlohmann::json res = io::read_json_file(o.out + "/results/segcq500/mixed/fold" + std::to_string(f) + ".json");
        std::set<std::string> test_ids;
        for (const auto& v : eval::volumes_from_json(res.at("icm"), "icm")) test_ids.insert(v.case_id);
        REQUIRE_FALSE(test_ids.empty());
        for (const char* net : {"tissue", "bone"}) {
            const std::string rec = o.out + "/" + study::IcmUnit{net, "segcq500", f}.training_record();
            const auto trained = study::read_icm_training(rec);
            CHECK(trained.size() + test_ids.size() == all.size());
            for (const auto& t : trained) CHECK(test_ids.count(t.id) == 0);
            CHECK(io::read_json_file(rec).at("excluded").size() == test_ids.size());
        }
        tested.insert(test_ids.begin(), test_ids.end());
    }
    CHECK(static_cast<int64_t>(tested.size()) == o.config.phantom_segcq500);
}

TEST_CASE("context-restoration pre-training gets the segmentation augmentation when the config enables it",
          "[study][pretext]") {
    study::StudyConfig c = study::profile_config("tiny");
    REQUIRE(c.augment);
    const data::PipelineOptions p = study::pretext_pipeline(c, study::Pretext::context_restoration);
    CHECK(p.task == data::Task::context_restoration);
    CHECK(p.seg.enabled);
    CHECK(study::pretext_pipeline(c, study::Pretext::binary).seg.enabled);
    CHECK_FALSE(study::pretext_pipeline(c, study::Pretext::global_contrastive).seg.enabled);  // own views
    c.augment = false;
    CHECK_FALSE(study::pretext_pipeline(c, study::Pretext::context_restoration).seg.enabled);
    // Batches of the pipeline as the study builds it: the clean targets of one image differ between epochs
    // (a new augmentation draw each time), and each input is its target with patches swapped.
    c.augment = true;
    auto src = std::make_shared<data::VolumeSlices>();
    data::PhantomParams pp;
    pp.size = 48;
    pp.slices = 2;
    src->add_phantom(data::generate_phantom(pp, 3), "p");
    data::LoaderOptions lo;
    lo.batch_size = 2;
    lo.shuffle = false;
    data::BatchLoader loader(src, study::pretext_pipeline(c, study::Pretext::context_restoration), lo);
    loader.start_epoch(0);
    const data::Batch a = *loader.next();
    loader.start_epoch(1);
    const data::Batch b = *loader.next();
    const auto ta = a.targets.to_vector(), tb = b.targets.to_vector();
    CHECK(ta != tb);
    CHECK(a.images.to_vector() != ta);
}

}  // namespace test_study_fidelity
