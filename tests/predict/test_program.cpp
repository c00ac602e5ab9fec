// ichseg_predict run as a child process (fork + exec) on NIfTI files and DICOM folders: outputs, report, the
// written mask read back with nifticlib, series choice, DICOM SEG, and every bad input of docs/predict.md §5: each
// must end with a clear message and a non-zero exit, write no mask, and leave no temporary file. Also the
// output-safety API (no-clobber publication, inputs never replaced) and the case discovery.
#include <catch2/catch.hpp>

#include <dcmtk/dcmseg/segdoc.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "ichseg/data/phantom_layouts.hpp"
#include "ichseg/predict/predict.hpp"
#include "predict/predict_test_util.hpp"

using namespace ichseg;

namespace {

/// Shared inputs: a phantom as NIfTI and constant models.
struct Fixture {
    test::TempDir dir;
    std::string nifti, ich_const, cav_tissue, cav_bone;
    data::Phantom ph;
    Fixture() {
        ph = test::ich_phantom(404, 64, 8);
        nifti = dir / "head.nii.gz";
        io::write_nifti(nifti, ph.ct);
        ich_const = dir / "ich07.safetensors";
        test::write_constant_model(ich_const, 0.7, "ich");
        cav_tissue = dir / "tissue.safetensors";
        test::write_constant_model(cav_tissue, 0.9, "cavity", 0, 600);
        cav_bone = dir / "bone.safetensors";
        test::write_constant_model(cav_bone, 0.1, "cavity", 150, 650);
    }
};
#ifdef ICHSEG_PREDICT_BIN  // the helpers below serve only the program tests
Fixture& fx() {
    static Fixture f;
    return f;
}

struct SeriesSpec {
    std::string patient = "P1", study = "1.2.826.0.1.3680043.10.1.1", series = "1.2.826.0.1.3680043.10.1.2";
    std::string modality = "CT", description = "HEAD 5mm";
    std::vector<int64_t> skip;          ///< slice indices not written (missing slices)
    int64_t stretch_from = -1;          ///< slices from here are shifted 1.3 mm (uneven spacing)
    bool localizer = false;             ///< add a coronal localizer with the same SeriesInstanceUID
};

/// Write a volume as a DICOM series (one file per slice) into `dir`.
void write_series(const std::string& dir, const io::Volume& v, const SeriesSpec& s) {
    std::filesystem::create_directories(dir);
    for (int64_t k = 0; k < v.nz(); ++k) {
        if (std::find(s.skip.begin(), s.skip.end(), k) != s.skip.end()) continue;
        io::DicomWriteSpec w;
        w.rows = static_cast<int>(v.ny());
        w.cols = static_cast<int>(v.nx());
        w.modality = s.modality;
        w.patient_id = s.patient;
        w.study_uid = s.study;
        w.series_uid = s.series;
        w.sop_uid = s.series + "." + std::to_string(k + 1);
        w.series_description = s.description;
        w.instance_number = k + 1;
        data::detail::dicom_geometry(v.affine, static_cast<double>(k), w);
        if (s.stretch_from >= 0 && k >= s.stretch_from) w.position[2] += 1.3;
        w.slice_thickness = v.spacing[2];
        std::vector<float> px(v.slice(k), v.slice(k) + v.slice_size());
        for (float& x : px) x = std::clamp(x, -1024.f, 3000.f);
        char name[32];
        std::snprintf(name, sizeof name, "/IM%04lld.dcm", static_cast<long long>(k));
        io::write_dicom_slice(dir + name, w, px.data());
    }
    if (s.localizer) {
        io::DicomWriteSpec w;
        w.rows = 32;
        w.cols = static_cast<int>(v.nx());
        w.patient_id = s.patient;
        w.study_uid = s.study;
        w.series_uid = s.series;
        w.sop_uid = s.series + ".999";
        w.series_description = s.description;
        w.image_type = "ORIGINAL\\PRIMARY\\LOCALIZER";
        w.orientation = {1, 0, 0, 0, 0, -1};
        w.position = {-100, 0, 80};
        w.pixel_spacing = {2, 2};
        std::vector<float> px(static_cast<size_t>(w.rows * w.cols), -1000.f);
        io::write_dicom_slice(dir + "/IM9999.dcm", w, px.data());
    }
}

test::ProgramRun predict_run(std::vector<std::string> args) {
    args.insert(args.begin(), ICHSEG_PREDICT_BIN);
    return test::run_program(args);
}

bool has_temp_files(const std::string& dir) {
    for (const auto& n : test::list_dir(dir))
        if (n.find(".ichseg-") != std::string::npos || n.find(".tmp") != std::string::npos) return true;
    return false;
}

/// A bad input: non-zero exit, the message, no mask written, no temporary file left.
void expect_refused(const test::ProgramRun& r, const std::string& out, const std::vector<std::string>& phrases) {
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("error:") != std::string::npos);
    for (const auto& p : phrases) CHECK(r.output.find(p) != std::string::npos);
    for (const auto& n : test::list_dir(out)) CHECK(n.find("_seg.") == std::string::npos);
    CHECK_FALSE(has_temp_files(out));
}

int64_t ones(const io::Mask& m) {
    int64_t c = 0;
    for (int64_t i = 0; i < m.voxels.numel(); ++i) c += m.voxels.data()[i] ? 1 : 0;
    return c;
}
#endif

}  // namespace

#ifdef ICHSEG_PREDICT_BIN

TEST_CASE("program: NIfTI input end to end, mask and report read back with nifticlib", "[predict][program]") {
    auto& f = fx();
    test::TempDir out;
    const auto r = predict_run({"-m", test::band_ich_model(), "-o", out.path(), f.nifti, "--probabilities"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(test::list_dir(out.path()) == std::vector<std::string>{"head_prob.nii.gz", "head_report.json", "head_seg.nii.gz",
                                                                 "head_slices.csv", "predict_report.csv",
                                                                 "predict_report.json"});
    // The mask through nifticlib's own reader: uint8, intent LABEL, sform and qform code 1, the source affine.
    const io::Volume src = io::read_nifti(f.nifti);
    {
        nifti_image* nim = nifti_image_read((out / "head_seg.nii.gz").c_str(), 1);
        REQUIRE(nim != nullptr);
        CHECK(nim->datatype == DT_UINT8);
        CHECK(nim->intent_code == NIFTI_INTENT_LABEL);
        CHECK(nim->sform_code == NIFTI_XFORM_SCANNER_ANAT);
        CHECK(nim->qform_code == NIFTI_XFORM_SCANNER_ANAT);
        CHECK((nim->nx == 64 && nim->ny == 64 && nim->nz == 8));
        for (int rr = 0; rr < 3; ++rr)
            for (int c = 0; c < 4; ++c) {
                CHECK(double(nim->sto_xyz.m[rr][c]) == src.affine(rr, c));  // float32 affine of the source: exact
                CHECK(double(nim->qto_xyz.m[rr][c]) == Approx(src.affine(rr, c)).margin(1e-4));  // quaternion round trip
            }
        const uint8_t* d = static_cast<const uint8_t*>(nim->data);
        bool binary = true;
        for (int64_t i = 0; i < 64 * 64 * 8; ++i) binary = binary && d[i] <= 1;
        CHECK(binary);
        nifti_image_free(nim);
    }
    const io::Mask m = io::read_nifti_mask(out / "head_seg.nii.gz");
    CHECK(m.affine == src.affine);
    // The program's mask is the API's mask on the same file.
    Segmenter seg(test::band_ich_model());
    const auto api = seg.segment(src);
    CHECK(m.voxels.to_vector() == api.mask.voxels.to_vector());
    REQUIRE(ones(m) > 0);
    // The report describes that mask: volume = count x |det| / 1000.
    const auto j = nlohmann::json::parse(test::read_file(out / "head_report.json"));
    CHECK(j["status"] == "ok");
    CHECK(j["report"]["hemorrhage_voxels"].get<int64_t>() == ones(m));
    CHECK(j["report"]["hemorrhage_volume_ml"].get<double>() ==
          Approx(double(ones(m)) * std::fabs(src.affine.det3()) / 1000).epsilon(1e-12));
    CHECK(j["report"]["slices"].size() == 8);
    CHECK(j["models"]["ich_model"]["input_size"] == 64);
    const std::string run_csv = test::read_file(out / "predict_report.csv");
    CHECK(run_csv.find("\nhead,ok,") != std::string::npos);
    // Probabilities: float32 on the 64 x 64 network grid with its own affine.
    io::NiftiHeaderInfo h;
    const io::Volume p = io::read_nifti(out / "head_prob.nii.gz", {}, &h);
    CHECK(h.datatype == DT_FLOAT32);
    CHECK(p.voxels.shape() == Shape{8, 64, 64});
    CHECK(io::max_abs_diff(p.affine, predict::network_grid_affine(src.affine, 64, 64, 64)) < 1e-4);
}

TEST_CASE("program: DICOM folder, the axial CT series is chosen and named, --series, --prefer-thin, --strict", "[predict][program]") {
    auto& f = fx();
    test::TempDir in;
    const data::Phantom thin = test::ich_phantom(505, 64, 12);  // 12 slices
    SeriesSpec s5;
    s5.series = "1.2.826.0.1.3680043.10.1.5";
    s5.description = "HEAD 5mm";
    io::Volume thick = thin.ct;  // 6 slices of 5 mm: the rule's choice (closest to 5 mm)
    thick.voxels = thin.ct.voxels.narrow(0, 0, 6).contiguous();
    write_series(in / "s5", thick, s5);
    SeriesSpec st;
    st.series = "1.2.826.0.1.3680043.10.1.6";
    st.description = "HEAD THIN";
    io::Volume thinv = thin.ct;
    thinv.affine(2, 2) = 2.5;
    write_series(in / "thin", thinv, st);
    {
        test::TempDir out;
        const auto r = predict_run({"-m", f.ich_const, "-o", out.path(), in.path()});
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK(r.output.find("DICOM series 1.2.826.0.1.3680043.10.1.5 ('HEAD 5mm'") != std::string::npos);
        CHECK(r.output.find("chosen among 2 axial CT series") != std::string::npos);
        CHECK(r.output.find("not used: other candidate series 1.2.826.0.1.3680043.10.1.6") != std::string::npos);
        const std::string id = predict::case_id_of(in.path());
        const io::Mask m = io::read_nifti_mask(out / (id + "_seg.nii.gz"));
        CHECK(m.nz() == 6);
        // DICOM LPS -> RAS affine of the series, as read_dicom_series gives it.
        const io::Volume dv = predict::load_dicom_input(in.path()).ct;
        CHECK(io::max_abs_diff(m.affine, dv.affine) < 1e-5);  // float32 header storage
    }
    {
        test::TempDir out;
        const auto r = predict_run({"-m", f.ich_const, "-o", out.path(), in.path(), "--prefer-thin"});
        REQUIRE(r.status == 0);
        CHECK(io::read_nifti_mask(out / (predict::case_id_of(in.path()) + "_seg.nii.gz")).nz() == 12);
    }
    {
        test::TempDir out;
        const auto r = predict_run({"-m", f.ich_const, "-o", out.path(), in.path(), "--series", "1.2.826.0.1.3680043.10.1.6"});
        REQUIRE(r.status == 0);
        CHECK(r.output.find("chosen with --series") != std::string::npos);
        CHECK(io::read_nifti_mask(out / (predict::case_id_of(in.path()) + "_seg.nii.gz")).nz() == 12);
    }
    {
        test::TempDir out;
        // A failed run still writes its run report, so each refused run gets a folder of its own.
        test::TempDir out2;
        expect_refused(predict_run({"-m", f.ich_const, "-o", out.path(), in.path(), "--series", "9.9.9"}), out.path(),
                       {"series 9.9.9 is not a usable axial CT series"});
        expect_refused(predict_run({"-m", f.ich_const, "-o", out2.path(), in.path(), "--strict"}), out2.path(),
                       {"--strict", "other candidate series"});
    }
}

TEST_CASE("program: DICOM SEG references the source series and holds the mask", "[predict][program]") {
    test::TempDir in, out;
    const data::Phantom ph = test::ich_phantom(606, 64, 6);
    SeriesSpec s;
    write_series(in.path(), ph.ct, s);
    const auto r = predict_run({"-m", test::band_ich_model(), "-o", out.path(), in.path(), "--dicom-seg"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    const std::string id = predict::case_id_of(in.path());
    const io::Mask m = io::read_nifti_mask(out / (id + "_seg.nii.gz"));
    REQUIRE(ones(m) > 0);
    DcmSegmentation* segp = nullptr;
    REQUIRE(DcmSegmentation::loadFile((out / (id + "_seg.dcm")).c_str(), segp).good());
    std::unique_ptr<DcmSegmentation> seg(segp);
    CHECK(seg->getNumberOfFrames() == 6);
    CHECK(seg->getNumberOfSegments() == 1);
    OFString study, pid;
    seg->getStudy().getStudyInstanceUID(study);
    seg->getPatient().getPatientID(pid);
    CHECK(std::string(study.c_str()) == s.study);
    CHECK(std::string(pid.c_str()) == s.patient);
    // Frame k is slice k of the mask. DCMTK returns BINARY frames as stored: 1 bit per pixel, pixel i in bit i % 8
    // (least significant first) of byte i / 8; 64 x 64 frames start on byte boundaries.
    int64_t diff = 0;
    for (size_t k = 0; k < 6; ++k) {
        const DcmIODTypes::Frame* fr = seg->getFrame(k);
        REQUIRE(fr != nullptr);
        REQUIRE(fr->length == 64 * 64 / 8);
        for (int64_t i = 0; i < 64 * 64; ++i)
            diff += ((fr->pixData[i / 8] >> (i % 8)) & 1) != (m.slice(int64_t(k))[i] != 0 ? 1 : 0);
    }
    CHECK(diff == 0);
    // Derivation: the first frame references the first source image.
    DcmFileFormat ff;
    REQUIRE(ff.loadFile((out / (id + "_seg.dcm")).c_str()).good());
    OFString ref;
    CHECK(ff.getDataset()->findAndGetOFString(DCM_ReferencedSOPInstanceUID, ref, 0, OFTrue).good());
    CHECK(std::string(ref.c_str()).rfind(s.series + ".", 0) == 0);
    // A NIfTI input gets no DICOM SEG, with a note (not an error).
    test::TempDir out2;
    const auto r2 = predict_run({"-m", fx().ich_const, "-o", out2.path(), fx().nifti, "--dicom-seg"});
    CHECK(r2.status == 0);
    CHECK(r2.output.find("no DICOM SEG for a NIfTI input") != std::string::npos);
}

TEST_CASE("program: ICM models, cavity output and the nearest mode", "[predict][program]") {
    auto& f = fx();
    test::TempDir out;
    const auto r = predict_run({"-m", f.ich_const, "--icm-tissue", f.cav_tissue, "--icm-bone", f.cav_bone, "-o",
                                out.path(), f.nifti, "--cavity", "--resample", "nearest"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(ones(io::read_nifti_mask(out / "head_cavity.nii.gz")) == 64 * 64 * 8);  // tissue 0.9 OR bone 0.1
    CHECK(ones(io::read_nifti_mask(out / "head_seg.nii.gz")) == 64 * 64 * 8);
    const auto j = nlohmann::json::parse(test::read_file(out / "predict_report.json"));
    CHECK(j["models"]["icm"] == true);
    CHECK(j["models"]["resample"] == "nearest");
    // Only one ICM model: refused before anything is read.
    test::TempDir out2;
    expect_refused(predict_run({"-m", f.ich_const, "--icm-tissue", f.cav_tissue, "-o", out2.path(), f.nifti}), out2.path(),
                   {"needs both ICM models"});
}

TEST_CASE("program: not a CT (MR DICOM, MR-like NIfTI) is refused", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    SeriesSpec s;
    s.modality = "MR";
    s.description = "T1 AXIAL";
    write_series(in / "mr", f.ph.ct, s);
    expect_refused(predict_run({"-m", f.ich_const, "-o", out.path(), in / "mr"}), out.path(),
                   {"not a CT", "MR images only"});
    io::Volume mr = f.ph.ct;
    mr.voxels = f.ph.ct.voxels.clone();  // a Volume copy shares its voxels: never write into the shared fixture
    for (int64_t i = 0; i < mr.voxels.numel(); ++i) mr.voxels.data()[i] = float((i * 7) % 900);
    io::write_nifti(in / "t1.nii.gz", mr);
    test::TempDir out2;  // the refused run above wrote its run report into `out`
    expect_refused(predict_run({"-m", f.ich_const, "-o", out2.path(), in / "t1.nii.gz"}), out2.path(),
                   {"t1.nii.gz", "does not look like a head CT"});
}

TEST_CASE("program: a localizer mixed into the series is dropped and named, --strict refuses it", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    SeriesSpec s;
    s.localizer = true;
    write_series(in.path(), f.ph.ct, s);
    const auto r = predict_run({"-m", f.ich_const, "-o", out.path(), in.path()});
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(r.output.find("dropped from the chosen series: " + (in / "IM9999.dcm") + ": localizer") != std::string::npos);
    const io::Mask m = io::read_nifti_mask(out / (predict::case_id_of(in.path()) + "_seg.nii.gz"));
    CHECK(m.nz() == 8);  // the 8 axial slices, not the localizer
    const auto j = nlohmann::json::parse(test::read_file(out / (predict::case_id_of(in.path()) + "_report.json")));
    CHECK(j["notes"][0].get<std::string>().find("localizer") != std::string::npos);
    test::TempDir out2;
    expect_refused(predict_run({"-m", f.ich_const, "-o", out2.path(), in.path(), "--strict"}), out2.path(),
                   {"--strict", "localizer"});
}

TEST_CASE("program: missing slices and uneven spacing are refused unless allowed", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    SeriesSpec s;
    s.skip = {3};
    write_series(in / "gap", f.ph.ct, s);
    expect_refused(predict_run({"-m", f.ich_const, "-o", out.path(), in / "gap"}), out.path(),
                   {"1 slice(s) missing", "--allow-missing-slices"});
    test::TempDir out_ok;  // the refused run wrote its run report into `out`
    const auto r = predict_run({"-m", f.ich_const, "-o", out_ok.path(), in / "gap", "--allow-missing-slices"});
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(io::read_nifti_mask(out_ok / "gap_seg.nii.gz").nz() == 7);
    SeriesSpec u;
    u.stretch_from = 5;
    write_series(in / "uneven", f.ph.ct, u);
    test::TempDir out2;
    expect_refused(predict_run({"-m", f.ich_const, "-o", out2.path(), in / "uneven"}), out2.path(), {"uneven step"});
}

TEST_CASE("program: a folder mixing patients or studies is refused", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    SeriesSpec a, b;
    b.patient = "P2";
    b.study = "1.2.826.0.1.3680043.10.2.1";
    b.series = "1.2.826.0.1.3680043.10.2.2";
    write_series(in / "pa", f.ph.ct, a);
    write_series(in / "pb", f.ph.ct, b);
    expect_refused(predict_run({"-m", f.ich_const, "-o", out.path(), in.path()}), out.path(),
                   {"images of 2 patients", "--batch"});
    // --batch: each subfolder is a case.
    test::TempDir out_b;
    const auto r = predict_run({"-m", f.ich_const, "-o", out_b.path(), in.path(), "--batch"});
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(std::filesystem::exists(out_b / "pa_seg.nii.gz"));
    CHECK(std::filesystem::exists(out_b / "pb_seg.nii.gz"));
    // Same patient, two studies.
    test::TempDir in2, out2;
    SeriesSpec c = b;
    c.patient = "P1";
    write_series(in2 / "s1", f.ph.ct, a);
    write_series(in2 / "s2", f.ph.ct, c);
    expect_refused(predict_run({"-m", f.ich_const, "-o", out2.path(), in2.path()}), out2.path(),
                   {"2 different studies", "--series"});
}

TEST_CASE("program: unreadable files are refused unless skipped, a truncated NIfTI is refused", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    SeriesSpec s;
    write_series(in / "ser", f.ph.ct, s);
    test::write_bytes(in / "ser/IM0100.dcm", std::string(300, 'x'));
    expect_refused(predict_run({"-m", f.ich_const, "-o", out.path(), in / "ser"}), out.path(),
                   {"1 unreadable file(s)", "IM0100.dcm", "--skip-unreadable"});
    test::TempDir out_s;
    const auto r = predict_run({"-m", f.ich_const, "-o", out_s.path(), in / "ser", "--skip-unreadable"});
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("unreadable, skipped: " + (in / "ser/IM0100.dcm")) != std::string::npos);
    // Truncated gzip NIfTI.
    const std::string bytes = test::read_bytes(f.nifti);
    test::write_bytes(in / "cut.nii.gz", bytes.substr(0, bytes.size() / 2));
    test::TempDir out2, out3, out4;
    expect_refused(predict_run({"-m", f.ich_const, "-o", out2.path(), in / "cut.nii.gz"}), out2.path(), {"cut.nii.gz"});
    // Missing input, bad model file.
    expect_refused(predict_run({"-m", f.ich_const, "-o", out3.path(), in / "nothing.nii.gz"}), out3.path(),
                   {"nothing.nii.gz: no such file or folder"});
    expect_refused(predict_run({"-m", in / "ser/IM0001.dcm", "-o", out4.path(), f.nifti}), out4.path(),
                   {"ICH model: cannot load model", "IM0001.dcm"});
}

TEST_CASE("program: existing outputs are never replaced without --overwrite", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir out;
    REQUIRE(predict_run({"-m", f.ich_const, "-o", out.path(), f.nifti}).status == 0);
    const std::string before = test::read_bytes(out / "head_seg.nii.gz");
    // A different model would give a different mask: the old one must stay.
    test::TempDir m;
    test::write_constant_model(m / "zero.safetensors", 0.1, "ich");
    const auto r = predict_run({"-m", m / "zero.safetensors", "-o", out.path(), f.nifti});
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("exist already") != std::string::npos);
    CHECK(r.output.find("--overwrite") != std::string::npos);
    CHECK(test::read_bytes(out / "head_seg.nii.gz") == before);
    CHECK_FALSE(has_temp_files(out.path()));
    const auto r2 = predict_run({"-m", m / "zero.safetensors", "-o", out.path(), f.nifti, "--overwrite"});
    CHECK(r2.status == 0);
    CHECK(ones(io::read_nifti_mask(out / "head_seg.nii.gz")) == 0);
    CHECK_FALSE(has_temp_files(out.path()));
}

TEST_CASE("program: --device picks the CPU or the GPU, and a GPU that cannot be used is a clear error", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir out;
    const auto cpu = predict_run({"-m", f.ich_const, "-o", out / "cpu", f.nifti, "--device", "cpu"});
    INFO(cpu.output);
    REQUIRE(cpu.status == 0);
    CHECK(cpu.output.find("device cpu") != std::string::npos);
    const auto bad = predict_run({"-m", f.ich_const, "-o", out / "bad", f.nifti, "--device", "tpu"});
    CHECK(bad.status != 0);
    CHECK(bad.output.find("--device") != std::string::npos);
    // "cuda": without a usable GPU (no device, or a build without the CUDA backend) the run stops before writing
    // anything; on a GPU machine it runs there.
    const auto gpu = predict_run({"-m", f.ich_const, "-o", out / "gpu", f.nifti, "--device", "cuda"});
    INFO(gpu.output);
    if (gpu.status == 0) {
        CHECK(gpu.output.find("device cuda") != std::string::npos);
    } else {
        CHECK(gpu.status == 1);
        CHECK(gpu.output.find("device 'cuda' requested") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(out / "gpu/head_seg.nii.gz"));
    }
}

TEST_CASE("program: an output that is the input file is refused even with --overwrite", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    std::filesystem::copy_file(f.nifti, in / "head.nii.gz");
    // The mask's name in the output folder is a hard link to the input: replacing it would replace the input.
    std::filesystem::create_hard_link(in / "head.nii.gz", out / "head_seg.nii.gz");
    const std::string before = test::read_bytes(in / "head.nii.gz");
    const auto r = predict_run({"-m", f.ich_const, "-o", out.path(), in / "head.nii.gz", "--overwrite"});
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("over the input") != std::string::npos);
    CHECK(test::read_bytes(in / "head.nii.gz") == before);
    CHECK_FALSE(has_temp_files(out.path()));
}

TEST_CASE("program: a batch with one bad case writes the good one and exits 1", "[predict][program][bad-input]") {
    auto& f = fx();
    test::TempDir in, out;
    std::filesystem::copy_file(f.nifti, in / "good.nii.gz");
    io::Volume mr = f.ph.ct;
    mr.voxels = f.ph.ct.voxels.clone();  // a Volume copy shares its voxels: never write into the shared fixture
    for (int64_t i = 0; i < mr.voxels.numel(); ++i) mr.voxels.data()[i] = 100.f;
    io::write_nifti(in / "bad.nii.gz", mr);
    io::write_nifti(in / "old_seg.nii.gz", io::read_nifti_mask(in / "good.nii.gz"));  // an earlier output: not a case
    const auto r = predict_run({"-m", f.ich_const, "-o", out.path(), in.path()});  // NIfTI files inside: a batch
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(r.output.find("looks like a prediction output") != std::string::npos);
    CHECK(std::filesystem::exists(out / "good_seg.nii.gz"));
    CHECK_FALSE(std::filesystem::exists(out / "bad_seg.nii.gz"));
    const std::string csv = test::read_file(out / "predict_report.csv");
    CHECK(csv.find("\nbad,error,") != std::string::npos);
    CHECK(csv.find("\ngood,ok,") != std::string::npos);
    const auto j = nlohmann::json::parse(test::read_file(out / "predict_report.json"));
    CHECK(j["failures"] == 1);
    CHECK_FALSE(has_temp_files(out.path()));
}

#endif  // ICHSEG_PREDICT_BIN

TEST_CASE("outputs: publication never replaces an existing file or an input", "[predict][output]") {
    test::TempDir d;
    test::write_bytes(d / "final.txt", "old");
    CHECK_THROWS_WITH(predict::write_text_output(d / "final.txt", "new", false), Catch::Contains("already exists"));
    CHECK(test::read_bytes(d / "final.txt") == "old");
    predict::write_text_output(d / "final.txt", "new", true);
    CHECK(test::read_bytes(d / "final.txt") == "new");
    // An input is protected even with overwrite, also through another path to the same file.
    test::write_bytes(d / "input.nii.gz", "input");
    std::filesystem::create_symlink(d / "input.nii.gz", d / "link.nii.gz");
    predict::ProtectedFiles p;
    p.add(d / "link.nii.gz");
    CHECK_THROWS_WITH(predict::write_text_output(d / "input.nii.gz", "x", true, &p), Catch::Contains("over the input"));
    CHECK(test::read_bytes(d / "input.nii.gz") == "input");
    CHECK_THROWS_WITH(predict::check_outputs_free({d / "input.nii.gz"}, true, p), Catch::Contains("over the input"));
    CHECK_THROWS_WITH(predict::check_outputs_free({d / "final.txt", d / "free.txt"}, false, {}),
                      Catch::Contains("1 output file(s) exist already"));
    // No temporary file is left behind by any of the failures.
    CHECK(test::list_dir(d.path()) == std::vector<std::string>{"final.txt", "input.nii.gz", "link.nii.gz"});
}

TEST_CASE("inputs: case discovery, ids, batch folders and duplicates", "[predict][input]") {
    test::TempDir d;
    std::filesystem::create_directories(d / "batch/dicom case");
    test::write_bytes(d / "batch/a.nii.gz", "");
    test::write_bytes(d / "batch/b.nii", "");
    test::write_bytes(d / "batch/a_seg.nii.gz", "");
    std::vector<std::string> notes;
    const auto cases = predict::find_cases({d / "batch"}, false, &notes);
    REQUIRE(cases.size() == 3);
    CHECK(cases[0].id == "a");
    CHECK(cases[1].id == "b");
    CHECK(cases[2].id == "dicom_case");  // space replaced
    CHECK(notes.size() == 1);
    // A folder without NIfTI files is one DICOM case unless --batch.
    CHECK(predict::find_cases({d / "batch/dicom case"}, false).size() == 1);
    test::write_bytes(d / "a.nii", "");
    CHECK_THROWS_WITH(predict::find_cases({d / "batch", d / "a.nii"}, false), Catch::Contains("same output name 'a'"));
    CHECK_THROWS_WITH(predict::find_cases({d / "x.dcm"}, false), Catch::Contains("no such file"));
    test::write_bytes(d / "x.dcm", "");
    CHECK_THROWS_WITH(predict::find_cases({d / "x.dcm"}, false), Catch::Contains("pass the folder"));
}

#ifdef ICHSEG_PREDICT_BIN
TEST_CASE("program: known hemorrhage: reported mL equals the ground-truth volume from the voxel spacing", "[predict][program]") {
    test::TempDir in, out;
    const int64_t n = 48, nz = 7;
    const std::array<double, 3> sp{0.8, 0.65, 5.0};
    test::write_band_model(in / "band.safetensors", n);
    const test::BandPhantom b = test::band_phantom(n, nz, sp);
    io::write_nifti(in / "known.nii.gz", b.ct);
    const auto r = predict_run({"-m", in / "band.safetensors", "-o", out.path(), in / "known.nii.gz"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    const int64_t gt = ones(b.blood);
    REQUIRE(gt > 50);
    // The spacing as the header stores it (float32), the count from the ground truth.
    const io::Mask m = io::read_nifti_mask(out / "known_seg.nii.gz");
    const double gt_ml = double(gt) * double(float(sp[0])) * double(float(sp[1])) * double(float(sp[2])) / 1000.0;
    CHECK(m.voxels.to_vector() == b.blood.voxels.to_vector());
    const auto j = nlohmann::json::parse(test::read_file(out / "known_report.json"));
    CHECK(j["report"]["hemorrhage_voxels"].get<int64_t>() == gt);
    // Relative 1e-9: the report's voxel volume is |det| of the float32-stored affine, the same numbers.
    CHECK(j["report"]["hemorrhage_volume_ml"].get<double>() == Approx(gt_ml).epsilon(1e-9));
    const std::string line = "  hemorrhage " + [&] {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", gt_ml);
        return std::string(buf);
    }() + " mL";
    CHECK(r.output.find(line) != std::string::npos);
}
#endif  // ICHSEG_PREDICT_BIN
