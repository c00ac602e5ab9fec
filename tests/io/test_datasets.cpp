// The four dataset layouts, loaded from trees written by the phantom layout writers: counts, labels, masks, the
// layouts' quirks, and bad trees (each problem skipped with a reason while the scan goes on).
#include <catch2/catch.hpp>

#include <filesystem>

#include "ichseg/data/dataset_sources.hpp"
#include "ichseg/data/loader.hpp"
#include "ichseg/data/phantom_layouts.hpp"
#include "ichseg/io/datasets/cq500.hpp"
#include "ichseg/io/datasets/physionet.hpp"
#include "ichseg/io/datasets/rsna.hpp"
#include "ichseg/io/datasets/seg_cq500.hpp"
#include "ichseg/io/inspect.hpp"
#include "io_test_util.hpp"

using namespace ichseg;
using namespace ichseg::io;
using data::add_dataset_cases;
using data::LayoutManifest;
using data::LayoutOptions;
using data::RsnaSliceSource;
using data::write_cq500_layout;
using data::write_physionet_layout;
using data::write_rsna_layout;
using data::write_segcq500_layout;
using data::WrittenCase;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

LayoutOptions small(int64_t count, uint64_t seed = 3) {
    LayoutOptions o;
    o.count = count;
    o.size = 32;
    o.slices = 4;
    o.seed = seed;
    return o;
}

bool has_skip(const std::vector<Skipped>& s, const std::string& path_part, const std::string& reason_part) {
    for (const auto& k : s)
        if (k.path.find(path_part) != std::string::npos && k.reason.find(reason_part) != std::string::npos) return true;
    return false;
}

std::string skips(const std::vector<Skipped>& s) {
    std::string r;
    for (const auto& k : s) r += k.path + ": " + k.reason + "\n";
    return r;
}

}  // namespace

TEST_CASE("physionet layout: counts, slice labels and masks agree with what was written", "[io][datasets][physionet]") {
    test::TempDir d;
    test::LogCapture quiet;
    const LayoutManifest man = write_physionet_layout(d.path(), small(12));
    // patient numbers skip 59..65
    CHECK(fs::exists(d / "ct_scans/058.nii"));
    CHECK(fs::exists(d / "ct_scans/066.nii"));
    CHECK_FALSE(fs::exists(d / "ct_scans/059.nii"));
    PhysioNetDataset ds(d.path());
    INFO(skips(ds.skipped()));
    REQUIRE(ds.size() == 12);
    CHECK(ds.skipped().empty());
    int ich_cases = 0;
    for (int64_t i = 0; i < ds.size(); ++i) {
        const CaseRef& c = ds.case_ref(i);
        const WrittenCase& w = man.cases[static_cast<size_t>(i)];
        REQUIRE(c.id == w.id);
        CHECK(c.labels == w.labels);
        REQUIRE(c.slice_labels.size() == w.slice_labels.size());
        for (size_t k = 0; k < w.slice_labels.size(); ++k) CHECK(c.slice_labels[k] == w.slice_labels[k]);
        const LoadedCase lc = ds.load(i);
        CHECK(lc.ct.nz() == 4);
        REQUIRE(lc.ich.has_value());
        CHECK(lc.warnings.empty());  // No_Hemorrhage agrees with every mask slice
        ich_cases += lc.labels.any == 1;
    }
    CHECK(ich_cases == 6);  // ich_fraction 0.5
    REQUIRE(ds.demographics().size() == 12);
    CHECK(ds.demographics().at(ds.patient_number(0)).labels.any == ds.case_ref(0).labels.any);
}

TEST_CASE("physionet layout: bad cases are skipped with a reason and the scan goes on", "[io][datasets][physionet][errors]") {
    test::TempDir d;
    test::LogCapture quiet;
    write_physionet_layout(d.path(), small(6));
    // 049: mask missing; 050: CT truncated; 051: mask with another shape; 052: an extra CSV row; 053: stray file
    fs::remove(d / "masks/049.nii");
    test::truncate_file(d / "ct_scans/050.nii", 400);
    {
        Mask m = Mask::zeros(4, 32, 31);
        write_nifti(d / "masks/051.nii", m);
    }
    {
        std::ofstream f(d / "hemorrhage_diagnosis_raw_ct.csv", std::ios::app);
        f << "52,5,0,0,0,0,0,1,0\n"
          << "130,1,0,0,0,0,0,1,0\n";  // a patient with rows but no CT
    }
    test::write_bytes(d / "ct_scans/notes.txt", "x");
    PhysioNetDataset ds(d.path());
    CHECK(ds.size() == 2);  // 053 and 054
    const auto& sk = ds.skipped();
    CHECK(has_skip(sk, "049.nii", "no mask"));
    CHECK(has_skip(sk, "050.nii", "truncated NIfTI file"));
    CHECK(has_skip(sk, "051.nii", "does not match the CT"));
    CHECK(has_skip(sk, "052.nii", "4 slices but 5 rows"));
    CHECK(has_skip(sk, "hemorrhage_diagnosis_raw_ct.csv", "patient 130 has rows but no ct_scans file"));
    CHECK(has_skip(sk, "notes.txt", "not a .nii"));
    CHECK(quiet.contains("049.nii"));  // every skip is also logged
    // the mask that disagrees with No_Hemorrhage is loaded with a warning, not silently
    const int64_t i = 0;
    Mask m = read_nifti_mask(ds.case_ref(i).mask_path);
    const bool had_ich = ds.case_ref(i).slice_labels[0].any == 1;
    m.slice(0)[5] = had_ich ? m.slice(0)[5] : 1;
    if (had_ich)
        for (int64_t p = 0; p < m.slice_size(); ++p) m.slice(0)[p] = 0;
    write_nifti(ds.case_ref(i).mask_path, m);
    const LoadedCase lc = ds.load(i);
    REQUIRE(lc.warnings.size() == 1);
    CHECK_THAT(lc.warnings[0], Contains("No_Hemorrhage disagrees with the mask"));
}

TEST_CASE("physionet layout: missing or empty trees are errors", "[io][datasets][physionet][errors]") {
    test::TempDir d;
    CHECK_THROWS_WITH(PhysioNetDataset(d / "none"), Contains("root folder not found"));
    CHECK_THROWS_WITH(PhysioNetDataset(d.path()), Contains("no ct_scans/ folder"));
    fs::create_directories(d / "ct_scans");
    CHECK_THROWS_WITH(PhysioNetDataset(d.path()), Contains("hemorrhage_diagnosis_raw_ct.csv not found"));
    test::write_bytes(d / "HEMORRHAGE_DIAGNOSIS_RAW_CT.CSV", "");
    CHECK_THROWS_WITH(PhysioNetDataset(d.path()), Contains("empty file"));
}

TEST_CASE("rsna layout: labels, duplicates, quirk files and the corrupt image", "[io][datasets][rsna]") {
    test::TempDir d;
    test::LogCapture quiet;
    const LayoutManifest man = write_rsna_layout(d.path(), small(3));
    REQUIRE(man.special.size() == 4);
    auto ds = std::make_shared<RsnaDataset>(d.path());
    CHECK(ds->size() == 3 * 4 + 1);  // the corrupt file is labelled and present: found when read
    CHECK(ds->duplicate_rows() == 1);
    CHECK(ds->unlabelled_files() == 0);
    for (const WrittenCase& w : man.cases) {
        int64_t idx = -1;
        for (int64_t i = 0; i < ds->size(); ++i)
            if (ds->image_id(i) == w.id) idx = i;
        REQUIRE(idx >= 0);
        CHECK(ds->labels(idx) == w.labels);
    }
    // quirk files read correctly; the corrupt one throws naming the file
    const DicomSlice multi = read_dicom_slice(d / ("stage_2_train/" + man.special[0] + ".dcm"));
    CHECK(multi.header.window_center.size() == 2);
    const DicomSlice q = read_dicom_slice(d / ("stage_2_train/" + man.special[1] + ".dcm"));
    CHECK(q.rsna_fix_applied);
    CHECK(*std::min_element(q.hu.begin(), q.hu.end()) >= -1000.f);
    CHECK(*std::min_element(q.hu.begin(), q.hu.end()) < -900.f);  // air is air again
    CHECK(read_dicom_header(d / ("stage_2_train/" + man.special[2] + ".dcm")).transfer_syntax_uid == "1.2.840.10008.1.2");
    int64_t corrupt = -1;
    for (int64_t i = 0; i < ds->size(); ++i)
        if (ds->image_id(i) == "ID_6431af929") corrupt = i;
    REQUIRE(corrupt >= 0);
    CHECK_THROWS_WITH(ds->load(corrupt), Contains("ID_6431af929.dcm: PixelData holds"));
    // the batch loader skips it and keeps going with full batches
    auto src = std::make_shared<RsnaSliceSource>(ds);
    data::PipelineOptions pipe;
    pipe.task = data::Task::classification;
    pipe.out_h = pipe.out_w = 16;
    data::LoaderOptions lo;
    lo.batch_size = 4;
    lo.threads = 2;
    data::BatchLoader loader(src, pipe, lo);
    loader.start_epoch(0);
    int64_t seen = 0;
    while (auto b = loader.next()) {
        CHECK(b->images.size(0) == b->size());
        for (int64_t idx : b->indices) CHECK(idx != corrupt);
        seen += b->size();
    }
    CHECK(seen == ds->size());
    REQUIRE(loader.skipped().size() == 1);
    CHECK_THAT(loader.skipped()[0].reason, Contains("ID_6431af929"));
    // validate() finds it up front and removes it
    const auto bad = ds->validate(2);
    REQUIRE(bad.size() == 1);
    CHECK_THAT(bad[0].path, Contains("ID_6431af929"));
    CHECK(ds->size() == 12);
    // series grouping from the headers: 3 studies of 4 slices ordered along z
    const auto series = ds->series();
    REQUIRE(series.size() == 3);
    for (const auto& s : series) CHECK(s.size() == 4);
}

TEST_CASE("rsna layout: missing files and bad rows are skipped with reasons", "[io][datasets][rsna][errors]") {
    test::TempDir d;
    test::LogCapture quiet;
    const LayoutManifest man = write_rsna_layout(d.path(), small(1));
    fs::remove(man.cases[0].files[0]);
    {
        std::ofstream f(d / "stage_2_train.csv", std::ios::app);
        f << "ID_abcdef012_epidural,1\n" << "nonsense\n";
    }
    test::write_bytes(d / "stage_2_train/ID_ffffffff0.dcm", "unlabelled");
    RsnaDataset ds(d.path());
    CHECK(ds.size() == 4 - 1 + 1);
    CHECK(has_skip(ds.skipped(), man.cases[0].id, "labelled image has no file"));
    CHECK(has_skip(ds.skipped(), "ID_abcdef012", "incomplete labels"));
    CHECK(has_skip(ds.skipped(), "stage_2_train.csv:", "too few fields"));
    CHECK(ds.unlabelled_files() == 1);
    CHECK_THROWS_WITH(RsnaDataset(d / "nowhere"), Contains("RSNA folder not found"));
    fs::create_directories(d / "empty");
    CHECK_THROWS_WITH(RsnaDataset(d / "empty"), Contains("stage_2_train.csv: RSNA label file not found"));
}

TEST_CASE("cq500 layout: nested folders, series choice, localizers and 3-reader labels", "[io][datasets][cq500]") {
    test::TempDir d;
    test::LogCapture quiet;
    LayoutOptions o = small(4);
    o.slices = 6;  // thin series 12 slices at 2.5 mm, thick 6 at 5 mm (>= min_slices)
    const LayoutManifest man = write_cq500_layout(d.path(), o);
    Cq500Dataset ds(d.path());
    INFO(skips(ds.skipped()));
    REQUIRE(ds.size() == 4);
    CHECK(fs::exists(d.path() + "/qct01"));  // half the patients sit under a batch folder
    for (int64_t i = 0; i < ds.size(); ++i) {
        const CaseRef& c = ds.case_ref(i);
        const WrittenCase& w = man.cases[static_cast<size_t>(i)];
        REQUIRE(c.id == w.id);
        CHECK(c.labels == w.labels);
        CHECK(ds.chosen_series(i).series_description == "PLAIN THIN");
        CHECK_THAT(c.note, Contains("PLAIN THIN"));
        CHECK(c.nz == 12);
    }
    // the first patient has four series; the localizer in the thin series is dropped
    CHECK(ds.series(0).size() == 4);
    REQUIRE(ds.chosen_series(0).dropped.size() == 1);
    CHECK_THAT(ds.chosen_series(0).dropped[0].reason, Contains("localizer"));
    const LoadedCase lc = ds.load(0);
    CHECK(lc.ct.nz() == 12);
    CHECK(lc.ct.spacing[2] == Approx(2.5));
    CHECK_FALSE(lc.ich.has_value());
    CHECK(lc.slice_labels.size() == 12);
    CHECK(lc.slice_labels[0].any == -1);
    // prefer 5 mm instead: the thick plain series
    Cq500Options thick;
    thick.prefer_thin = false;
    Cq500Dataset ds5(d.path(), thick);
    CHECK(ds5.chosen_series(0).series_description == "Plain");
    CHECK(ds5.load(0).ct.spacing[2] == Approx(5.0));
}

TEST_CASE("cq500 layout: unusable patients are skipped, unlisted ones keep unknown labels", "[io][datasets][cq500][errors]") {
    test::TempDir d;
    test::LogCapture quiet;
    write_cq500_layout(d.path(), small(2));
    // patient 1: replace every DICOM by garbage -> no usable series
    for (const auto& e : fs::recursive_directory_iterator(d.path() + "/CQ500CT1 CQ500CT1"))
        if (e.is_regular_file()) test::write_bytes(e.path().string(), "garbage");
    // an unlisted patient folder with a copy of patient 4's data
    fs::create_directories(d / "CQ500CT99 CQ500CT99");
    fs::copy(d.path() + "/qct01/CQ500CT4 CQ500CT4/Unknown Study", d.path() + "/CQ500CT99 CQ500CT99/Unknown Study",
             fs::copy_options::recursive);
    Cq500Dataset ds(d.path());
    REQUIRE(ds.size() == 2);
    CHECK(has_skip(ds.skipped(), "CQ500CT1 CQ500CT1", "no usable CT series"));
    CHECK(ds.case_ref(1).id == "CQ500-CT-99");
    CHECK(ds.case_ref(1).labels.any == -1);
    CHECK(quiet.contains("CQ500-CT-99: no row in reads.csv"));
    // the copied series shares UIDs with patient 4's: still read per patient folder
    CHECK(ds.load(1).ct.nz() == 8);
}

TEST_CASE("seg-cq500 layout: cases, masks, sheared affine and bad cases", "[io][datasets][segcq500]") {
    test::TempDir d;
    test::LogCapture quiet;
    const LayoutManifest man = write_segcq500_layout(d.path(), small(3));
    SegCq500Dataset ds(man.root);
    INFO(skips(ds.skipped()));
    REQUIRE(ds.size() == 3);
    CHECK(ds.skipped().empty());
    for (int64_t i = 0; i < ds.size(); ++i) {
        const LoadedCase lc = ds.load(i);
        const WrittenCase& w = man.cases[static_cast<size_t>(i)];
        CHECK(lc.id == w.id);
        CHECK(lc.labels.any == 1);
        REQUIRE(lc.ich.has_value());
        REQUIRE(lc.brain.has_value());
        for (size_t k = 0; k < w.slice_labels.size(); ++k) CHECK(lc.slice_labels[k].any == w.slice_labels[k].any);
        // ICH inside the intracranial cavity
        for (int64_t v = 0; v < lc.ich->voxels.numel(); ++v)
            if (lc.ich->voxels.data()[v]) REQUIRE(lc.brain->voxels.data()[v] == 1);
    }
    const LoadedCase tilted = ds.load(1);
    CHECK_FALSE(tilted.ct.affine.is_orthogonal());
    NiftiHeaderInfo h = read_nifti_header(ds.case_ref(1).ct_path);
    CHECK(h.qform_code == 0);
    CHECK(h.sform_code == 1);
    // also found from the data/ folder and the volumes/ folder
    CHECK(SegCq500Dataset(man.root + "/data").size() == 3);
    CHECK(SegCq500Dataset(ds.volumes_folder()).size() == 3);

    // break things: missing mask, mask of another shape, unlisted folder, listed but missing folder
    fs::remove(ds.case_ref(0).mask_path);
    write_nifti(ds.case_ref(1).mask_path, Mask::zeros(2, 32, 32));
    fs::create_directories(ds.volumes_folder() + "/CQ500-CT-500");
    {
        std::ofstream f(ds.volumes_folder() + "/info.csv", std::ios::app);
        f << "CQ500-CT-600,1,0,0,0,0,0,0,0\n" << "CQ500-CT-24,0.9,0,0,0,0,0,0,0\n";
    }
    SegCq500Dataset bad(man.root);
    CHECK(bad.size() == 1);
    CHECK(has_skip(bad.skipped(), man.cases[0].id, "no ICH_mask.nii.gz"));
    CHECK(has_skip(bad.skipped(), man.cases[1].id, "does not match the CT"));
    CHECK(has_skip(bad.skipped(), "CQ500-CT-500", "not listed in info.csv"));
    CHECK(has_skip(bad.skipped(), "CQ500-CT-600", "is missing"));
    CHECK(has_skip(bad.skipped(), "info.csv:", "duplicate name CQ500-CT-24"));
    CHECK_THROWS_WITH(SegCq500Dataset(d / "x"), Contains("Seg-CQ500 folder not found"));
    fs::create_directories(d / "empty");
    CHECK_THROWS_WITH(SegCq500Dataset(d / "empty"), Contains("info.csv not found"));
}

TEST_CASE("seg-cq500 layout: subtypes from CQ500's reads.csv when info.csv has none", "[io][datasets][segcq500]") {
    // The released info.csv need not carry subtype columns; CQ500's reads.csv (3 readers) has them for every
    // patient, so Figure 3's per-subtype panels are filled on the real release.
    test::TempDir tmp;
    test::LogCapture quiet;
    const fs::path d(tmp.path());
    const LayoutManifest man = write_segcq500_layout((d / "release").string(), small(3));
    SegCq500Dataset with_info(man.root);
    CHECK(with_info.reads_csv().empty());
    CHECK(with_info.case_ref(0).labels.subtypes_known());  // the phantom info.csv has the columns
    CHECK(with_info.case_ref(0).note == "subtypes from info.csv");
    {
        std::ofstream f(with_info.volumes_folder() + "/info.csv");
        f << "name\n";
        for (const auto& c : man.cases) f << c.id << "\n";
    }
    SegCq500Dataset bare(man.root);
    REQUIRE(bare.size() == 3);
    for (int64_t i = 0; i < 3; ++i) {
        CHECK_FALSE(bare.case_ref(i).labels.subtypes_known());
        CHECK(bare.case_ref(i).note == "subtypes unknown");
    }
    // reads.csv beside the Seg-CQ500 folder: rows for cases 0 and 1 (case 2 not listed), header as published
    std::string reads = "name,Category";
    for (int r = 1; r <= 3; ++r)
        for (const char* f : {"ICH", "IPH", "IVH", "SDH", "EDH", "SAH", "BleedLocation-Left", "BleedLocation-Right",
                              "ChronicBleed", "Fracture", "CalvarialFracture", "OtherFracture", "MassEffect",
                              "MidlineShift"})
            reads += ",R" + std::to_string(r) + ":" + f;
    reads += "\n";
    // case 0: IPH by readers 1 and 2, SAH by reader 3 only -> IPH; case 1: SDH and EDH by all, IVH by one -> SDH, EDH
    const int votes[2][3][6] = {{{1, 1, 0, 0, 0, 0}, {1, 1, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 1}},
                                {{1, 0, 1, 1, 1, 0}, {1, 0, 0, 1, 1, 0}, {1, 0, 0, 1, 1, 0}}};
    for (int c = 0; c < 2; ++c) {
        std::string name = man.cases[static_cast<size_t>(c)].id;  // CQ500-CT-<n>, as reads.csv writes it
        reads += name + ",B1";
        for (int r = 0; r < 3; ++r) {
            for (int k = 0; k < 6; ++k) reads += "," + std::to_string(votes[c][r][k]);
            reads += ",0,0,0,0,0,0,0,0";
        }
        reads += "\n";
    }
    write_file_atomic((d / "release" / "reads.csv").string(), reads);
    SegCq500Dataset ds(man.root);
    CHECK(ds.reads_csv() == (d / "release" / "reads.csv").string());
    const IchLabels l0 = ds.case_ref(0).labels, l1 = ds.case_ref(1).labels, l2 = ds.case_ref(2).labels;
    CHECK(l0[IchSubtype::IPH] == 1);
    CHECK(l0[IchSubtype::SAH] == 0);
    CHECK(l0[IchSubtype::SDH] == 0);
    CHECK(l1[IchSubtype::SDH] == 1);
    CHECK(l1[IchSubtype::EDH] == 1);
    CHECK(l1[IchSubtype::IVH] == 0);
    CHECK(l1[IchSubtype::IPH] == 0);
    CHECK_FALSE(l2.subtypes_known());
    CHECK(ds.case_ref(0).note.find("majority of 3 readers") != std::string::npos);
    CHECK(ds.case_ref(2).note.find("no row in") != std::string::npos);
    CHECK(ds.load(1).labels[IchSubtype::EDH] == 1);  // load() returns the same labels
    // the readers win over info.csv columns (the radiologists' reads are the dataset's ground truth)
    write_segcq500_layout((d / "release2").string(), small(3));
    fs::copy_file(d / "release" / "reads.csv", d / "release2" / "reads.csv");
    SegCq500Dataset both((d / "release2" / "Seg-CQ500").string());
    CHECK(both.case_ref(1).labels[IchSubtype::EDH] == 1);
    CHECK(both.case_ref(1).note.find("majority") != std::string::npos);
    CHECK(both.case_ref(2).note.find("info.csv") != std::string::npos);  // no reads row: info.csv
    // a reads.csv in a sibling CQ500/ folder is found too; an explicit path that does not exist is an error
    fs::create_directories(d / "sib" / "CQ500");
    write_segcq500_layout((d / "sib").string(), small(2));
    fs::copy_file(d / "release" / "reads.csv", d / "sib" / "CQ500" / "reads.csv");
    CHECK(SegCq500Dataset((d / "sib" / "Seg-CQ500").string()).reads_csv().find("CQ500/reads.csv") != std::string::npos);
    SegCq500Options o;
    o.reads_csv = (d / "nowhere.csv").string();
    CHECK_THROWS_WITH(SegCq500Dataset(man.root, o), Contains("nowhere.csv: reads.csv not found"));
}

TEST_CASE("volume datasets feed VolumeSlices and the selections of the study", "[io][datasets]") {
    test::TempDir d;
    test::LogCapture quiet;
    write_physionet_layout(d.path(), small(4));
    PhysioNetDataset ds(d.path());
    data::VolumeSlices slices;
    std::vector<Skipped> sk;
    const auto added = add_dataset_cases(slices, ds, {}, &sk);
    CHECK(added.size() == 4);
    CHECK(sk.empty());
    CHECK(slices.size() == 16);
    CHECK(slices.num_cases() == 4);
    for (int64_t i = 0; i < slices.size(); ++i)
        CHECK(slices.labels(i) == ds.case_ref(slices.case_of(i)).slice_labels[static_cast<size_t>(slices.slice_of(i))]);
    const auto fold = data::slices_of_cases(slices, {1, 3});
    CHECK(fold.size() == 8);
    for (int64_t i : fold) CHECK((slices.case_of(i) == 1 || slices.case_of(i) == 3));
}

TEST_CASE("inspect: JSON for a NIfTI file, a DICOM file and a DICOM folder, clear errors", "[io][inspect]") {
    test::TempDir d;
    test::LogCapture quiet;
    const LayoutManifest seg = write_segcq500_layout(d / "seg", small(2));
    const auto j = inspect_path(seg.cases[1].files[0]);
    CHECK(j["format"] == "nifti");
    CHECK(j["shape"] == nlohmann::json({32, 32, 4}));
    CHECK(j["sheared"] == true);
    CHECK(j["affine_ras"].size() == 4);
    CHECK(j["hu"]["min"].get<double>() >= -1024);
    CHECK(j["hu"]["max"].get<double>() > 300);  // bone
    LayoutOptions o = small(1);
    o.slices = 6;
    const LayoutManifest cq = write_cq500_layout(d / "cq", o);
    const std::string folder = fs::path(cq.cases[0].files[0]).parent_path().parent_path().string();
    const auto jf = inspect_path(folder);
    CHECK(jf["format"] == "dicom-series");
    CHECK(jf["series"]["description"] == "PLAIN THIN");
    CHECK(jf["series_candidates"].size() == 4);
    CHECK(jf["modality"] == "CT");
    CHECK(jf["ct"] == true);
    CHECK_FALSE(jf.contains("note"));
    CHECK(jf["shape"][2] == 12);
    const auto jd = inspect_path(cq.cases[0].files[0]);
    CHECK(jd["format"] == "dicom-file");
    CHECK(jd["shape"][2] == 1);
    CHECK_THROWS_WITH(inspect_path(d / "nothing.nii"), Contains("nothing.nii"));
    fs::create_directories(d / "emptydir");
    CHECK_THROWS_WITH(inspect_path(d / "emptydir"), Contains("no usable DICOM series"));
    test::write_bytes(d / "junk.dcm", "junk");
    CHECK_THROWS_WITH(inspect_path(d / "junk.dcm"), Contains("junk.dcm"));
}

namespace {
/// Rewrite a DICOM file, or every one under a folder, with Modality = `m` (and the MR SOP class), in place.
void set_modality(const std::string& path, const char* m) {
    std::vector<std::string> files;
    if (fs::is_directory(path)) {
        for (const auto& e : fs::recursive_directory_iterator(path))
            if (e.is_regular_file()) files.push_back(e.path().string());
    } else {
        files.push_back(path);
    }
    for (const auto& f : files) {
        DcmFileFormat ff;
        REQUIRE(ff.loadFile(f.c_str()).good());
        const E_TransferSyntax xs = ff.getDataset()->getOriginalXfer();
        ff.getDataset()->putAndInsertString(DCM_Modality, m);
        ff.getDataset()->putAndInsertString(DCM_SOPClassUID, UID_MRImageStorage);
        REQUIRE(ff.saveFile(f.c_str(), xs).good());
    }
}
}  // namespace

TEST_CASE("inspect: any modality is shown, with a note that the pipeline takes CT only", "[io][inspect]") {
    test::TempDir d;
    test::LogCapture quiet;
    LayoutOptions o = small(1);
    o.slices = 6;
    const LayoutManifest cq = write_cq500_layout(d / "cq", o);
    const std::string folder = fs::path(cq.cases[0].files[0]).parent_path().parent_path().string();
    SECTION("one MR file") {
        set_modality(folder, "MR");
        const auto j = inspect_path(cq.cases[0].files[0]);
        CHECK(j["format"] == "dicom-file");
        CHECK(j["modality"] == "MR");
        CHECK(j["ct"] == false);
        CHECK_THAT(j["note"].get<std::string>(), Contains("modality MR: ichseg's pipeline takes CT only") &&
                                                     Contains("refuse this file"));
        CHECK_FALSE(j.contains("hu"));
        CHECK(j["values"]["max"].get<double>() > j["values"]["min"].get<double>());
        CHECK_THAT(j["values"]["unit"].get<std::string>(), Contains("not Hounsfield units"));
    }
    SECTION("a folder of MR series only: the preferred series is shown, marked") {
        set_modality(folder, "MR");
        const auto j = inspect_path(folder);
        CHECK(j["format"] == "dicom-series");
        CHECK(j["modality"] == "MR");
        CHECK(j["ct"] == false);
        CHECK_THAT(j["note"].get<std::string>(), Contains("refuse this series"));
        CHECK(j["series"]["description"] == "PLAIN THIN");
        for (const auto& c : j["series_candidates"]) CHECK(c["modality"] == "MR");
    }
    SECTION("MR next to CT: the CT series is chosen, the MR series is listed") {
        // the thin plain series becomes MR: the thick plain CT series is then the best CT series
        for (const auto& e : fs::directory_iterator(folder))
            if (e.path().filename().string() == "CT PLAIN THIN") set_modality(e.path().string(), "MR");
        const auto j = inspect_path(folder);
        CHECK(j["modality"] == "CT");
        CHECK(j["ct"] == true);
        CHECK(j["series"]["description"] == "Plain");
        int mr = 0;
        for (const auto& c : j["series_candidates"]) mr += c["modality"] == "MR";
        CHECK(mr == 1);
    }
    SECTION("a JPEG 2000 MR file written by other software (checked-in fixture)") {
        const auto j = inspect_path(std::string(ICHSEG_IO_TEST_DATA) + "/jpeg2000/mr_u16_90.dcm");
        CHECK(j["modality"] == "MR");
        CHECK(j["ct"] == false);
        CHECK(j["dicom"]["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.90");
        CHECK(j["shape"] == nlohmann::json({48, 40, 1}));
    }
}

TEST_CASE("dataset readers refuse non-CT images with a clear reason", "[io][datasets][errors]") {
    test::TempDir d;
    test::LogCapture quiet;
    SECTION("RSNA: an MR slice is an error naming the file (skipped by the loader and by validate)") {
        const LayoutManifest man = write_rsna_layout(d.path(), small(1));
        const std::string f = man.cases[1].files[0];
        set_modality(f, "MR");
        RsnaDataset ds(d.path());
        int64_t idx = -1;
        for (int64_t i = 0; i < ds.size(); ++i)
            if (f.find(ds.image_id(i)) != std::string::npos) idx = i;
        REQUIRE(idx >= 0);
        CHECK_THROWS_WITH(ds.load(idx), Contains(fs::path(f).filename().string() + ": modality 'MR' is not CT"));
        const std::string id = ds.image_id(idx);
        const auto bad = ds.validate(1);
        CHECK(has_skip(bad, id, "modality 'MR' is not CT"));
    }
    SECTION("CQ500: a patient whose series are MR is skipped, each file with its reason") {
        write_cq500_layout(d.path(), small(2));
        set_modality(d.path() + "/CQ500CT1 CQ500CT1", "MR");
        Cq500Dataset ds(d.path());
        CHECK(ds.size() == 1);
        CHECK(has_skip(ds.skipped(), "CQ500CT1 CQ500CT1", "modality 'MR' is not CT"));
        CHECK(has_skip(ds.skipped(), "CQ500CT1 CQ500CT1", "no usable CT series"));
    }
}
