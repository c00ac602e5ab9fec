// The non-head guard (predict/head_check.hpp) and the QC montage (predict/qc.hpp): head phantoms of both families
// pass, chest and abdomen volumes are flagged with their reasons, DICOM BodyPartExamined is read, an ICM that finds
// no cavity is reported; ichseg_predict warns and still writes the mask, or refuses with --refuse-non-head; --qc
// writes a montage whose outline marks the predicted hemorrhage.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <nlohmann/json.hpp>

#include "ichseg/data/phantom_indep.hpp"
#include "ichseg/data/phantom_layouts.hpp"
#include "ichseg/predict/predict.hpp"
#include "predict/predict_test_util.hpp"

using namespace ichseg;

namespace {

bool has_reason(const predict::HeadCheck& h, const std::string& what) {
    for (const auto& r : h.reasons)
        if (r.find(what) != std::string::npos) return true;
    return false;
}

/// Width and height from a PNG's IHDR, and the decoded RGB rows (zlib inflate + PNG filters undone).
struct Png {
    int w = 0, h = 0;
    std::vector<uint8_t> rgb;
};
Png decode_png(const std::string& bytes) {
    Png p;
    REQUIRE(bytes.size() > 33);
    REQUIRE(bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
    auto u32 = [&](size_t o) {
        return (uint32_t(uint8_t(bytes[o])) << 24) | (uint32_t(uint8_t(bytes[o + 1])) << 16) |
               (uint32_t(uint8_t(bytes[o + 2])) << 8) | uint32_t(uint8_t(bytes[o + 3]));
    };
    p.w = static_cast<int>(u32(16));
    p.h = static_cast<int>(u32(20));
    std::string idat;
    for (size_t o = 8; o + 8 <= bytes.size();) {
        const uint32_t len = u32(o);
        const std::string type = bytes.substr(o + 4, 4);
        if (type == "IDAT") idat += bytes.substr(o + 8, len);
        o += 12 + len;
    }
    const size_t stride = static_cast<size_t>(p.w) * 3;
    std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(p.h));
    uLongf n = static_cast<uLongf>(raw.size());
    REQUIRE(::uncompress(raw.data(), &n, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) == Z_OK);
    p.rgb.assign(stride * static_cast<size_t>(p.h), 0);
    for (int y = 0; y < p.h; ++y) {
        const uint8_t f = raw[static_cast<size_t>(y) * (stride + 1)];
        const uint8_t* in = raw.data() + static_cast<size_t>(y) * (stride + 1) + 1;
        uint8_t* out = p.rgb.data() + static_cast<size_t>(y) * stride;
        const uint8_t* up = y ? out - stride : nullptr;
        for (size_t i = 0; i < stride; ++i) {
            const int a = i >= 3 ? out[i - 3] : 0, b = up ? up[i] : 0, c = (up && i >= 3) ? up[i - 3] : 0;
            int pred = 0;
            if (f == 1) pred = a;
            if (f == 2) pred = b;
            if (f == 3) pred = (a + b) / 2;
            if (f == 4) {
                const int pp = a + b - c, pa = std::abs(pp - a), pb = std::abs(pp - b), pc = std::abs(pp - c);
                pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
            }
            out[i] = static_cast<uint8_t>(in[i] + pred);
        }
    }
    return p;
}

int64_t outline_pixels(const Png& p, const render::Color& c) {
    int64_t n = 0;
    for (size_t i = 0; i + 2 < p.rgb.size(); i += 3) n += p.rgb[i] == c.r && p.rgb[i + 1] == c.g && p.rgb[i + 2] == c.b;
    return n;
}

}  // namespace

TEST_CASE("head check: head phantoms of both families look like a head", "[predict][head_check]") {
    for (uint64_t seed = 1; seed <= 6; ++seed) {
        data::PhantomParams p;
        p.size = 64;
        p.slices = seed % 2 ? 8 : 0;  // slabs and skull base to vertex
        p.slice_spacing = 0;
        const data::Phantom ph = data::generate_phantom(p, 700 + seed);
        const predict::HeadCheck h = predict::check_head_like(ph.ct);
        INFO("phantom " << seed << ": " << predict::head_check_summary(h) << "; extent " << h.extent_mm << " fat "
                        << h.fat_fraction << " lung " << h.lung_fraction << " ring slices " << h.ring_slices);
        CHECK(h.looks_like_head);
        CHECK(h.ring_slices > 0);
    }
    data::indep::IndepParams q;
    q.size = 64;
    q.slices = 0;
    const data::indep::IndepCase b = data::indep::generate_indep_phantom(q, 5);
    const predict::HeadCheck hb = predict::check_head_like(b.ct);
    INFO("family B: " << predict::head_check_summary(hb));
    CHECK(hb.looks_like_head);
}

TEST_CASE("head check: chest and abdomen are flagged, each with its reasons", "[predict][head_check]") {
    const predict::HeadCheck c = predict::check_head_like(test::body_phantom("chest"));
    INFO(predict::head_check_summary(c));
    CHECK_FALSE(c.looks_like_head);
    CHECK(has_reason(c, "mm across"));
    CHECK(has_reason(c, "lung"));
    CHECK(has_reason(c, "closed ring of bone"));
    CHECK(c.extent_mm > 300);
    const predict::HeadCheck a = predict::check_head_like(test::body_phantom("abdomen"));
    INFO(predict::head_check_summary(a));
    CHECK_FALSE(a.looks_like_head);
    CHECK(has_reason(a, "fat"));
    CHECK_FALSE(has_reason(a, "lung"));
    // metadata alone: a head-sized body described as a chest
    data::PhantomParams p;
    p.size = 48;
    p.slices = 4;
    io::Volume head = data::generate_phantom(p, 3).ct;
    head.source.body_part = "CHEST";
    predict::HeadCheck m = predict::check_head_like(head);
    CHECK_FALSE(m.looks_like_head);
    CHECK(has_reason(m, "BodyPartExamined is 'CHEST'"));
    head.source.body_part = "";
    head.source.study_description = "CT ABDOMEN PELVIS";
    CHECK(has_reason(predict::check_head_like(head), "described as"));
    head.source.study_description = "CT HEAD WITHOUT CONTRAST";
    head.source.body_part = "HEAD";
    CHECK(predict::check_head_like(head).looks_like_head);
    // the ICM's verdict
    predict::HeadCheck h = predict::check_head_like(head);
    predict::add_cavity_check(h, 3.0);
    CHECK_FALSE(h.looks_like_head);
    CHECK(has_reason(h, "found no cavity"));
    predict::HeadCheck h2 = predict::check_head_like(head);
    predict::add_cavity_check(h2, 250.0);
    CHECK(h2.looks_like_head);
    // an empty volume has no body
    io::Volume air = io::Volume::zeros(2, 32, 32);
    air.voxels.fill_(-1000.f);
    CHECK(has_reason(predict::check_head_like(air), "no slice shows a body"));
}

TEST_CASE("QC montage: tiles of the slices with hemorrhage, outlined in red", "[predict][qc]") {
    const test::BandPhantom b = test::band_phantom(64, 6, {3.0, 3.0, 5.0});
    const predict::Report r = predict::compute_report(b.blood);
    REQUIRE(r.slices_involved == 5);  // no blood on slice 0
    predict::QcOptions o;
    const std::string png = predict::qc_png(b.ct, b.blood, r, "band phantom", {"WARNING: a test warning"}, o);
    const Png p = decode_png(png);
    const render::Image img = predict::qc_montage(b.ct, b.blood, r, "band phantom", {"WARNING: a test warning"}, o);
    CHECK(p.w == img.width);
    CHECK(p.h == img.height);
    CHECK(p.rgb == img.rgb);  // the PNG holds the montage
    // five tiles in one row: width 5 x (256 + 4) + 4
    CHECK(img.width == 5 * (256 + 4) + 4);
    const int64_t red = outline_pixels(p, o.outline);
    CHECK(red > 100);
    // the outline lies on the blood: map every red pixel back would need the layout; instead, an empty mask has none
    io::Mask none = b.blood;
    none.voxels.fill_(0);
    const predict::Report r0 = predict::compute_report(none);
    const Png q = decode_png(predict::qc_png(b.ct, none, r0, "no blood", {}, o));
    CHECK(outline_pixels(q, o.outline) == 0);
    CHECK(q.w == 6 * (256 + 4) + 4);  // six evenly spaced slices shown instead
}

#ifdef ICHSEG_PREDICT_BIN
namespace {

void write_series(const std::string& dir, const io::Volume& v, const std::string& body_part, const std::string& desc) {
    std::filesystem::create_directories(dir);
    for (int64_t k = 0; k < v.nz(); ++k) {
        io::DicomWriteSpec w;
        w.rows = static_cast<int>(v.ny());
        w.cols = static_cast<int>(v.nx());
        w.patient_id = "P9";
        w.study_uid = "1.2.826.0.1.3680043.10.9.1";
        w.series_uid = "1.2.826.0.1.3680043.10.9.2";
        w.sop_uid = w.series_uid + "." + std::to_string(k + 1);
        w.series_description = desc;
        w.body_part = body_part;
        w.study_description = desc;
        w.instance_number = k + 1;
        data::detail::dicom_geometry(v.affine, static_cast<double>(k), w);
        w.slice_thickness = v.spacing[2];
        std::vector<float> px(v.slice(k), v.slice(k) + v.slice_size());
        for (float& x : px) x = std::clamp(x, -1024.f, 3000.f);
        io::write_dicom_slice(dir + "/IM" + std::to_string(1000 + k) + ".dcm", w, px.data());
    }
}

nlohmann::json case_json(const std::string& path) { return io::read_json_file(path); }

}  // namespace

TEST_CASE("ichseg_predict: a non-head series is reported and still written, or refused on request",
          "[predict][head_check][program]") {
    test::TempDir dir;
    const std::string model = test::band_ich_model();
    const io::Volume chest = test::body_phantom("chest");
    io::write_nifti(dir / "chest.nii.gz", chest);
    write_series(dir / "chest_dicom", chest, "CHEST", "CT THORAX");
    const data::Phantom head = test::ich_phantom(31, 64, 6);
    io::write_nifti(dir / "head.nii.gz", head.ct);
    write_series(dir / "head_dicom", head.ct, "HEAD", "CT HEAD");
    const std::string out = dir / "out";
    const test::ProgramRun run = test::run_program({ICHSEG_PREDICT_BIN, "-m", model, "-o", out, "--qc",
                                                    dir / "chest.nii.gz", dir / "chest_dicom", dir / "head.nii.gz",
                                                    dir / "head_dicom"});
    INFO(run.output);
    REQUIRE(run.status == 0);  // a warning is not a failure
    CHECK(run.output.find("WARNING: does not look like a head CT") != std::string::npos);
    for (const char* id : {"chest", "chest_dicom"}) {
        INFO(id);
        CHECK(std::filesystem::exists(out + "/" + id + "_seg.nii.gz"));  // still written
        const nlohmann::json j = case_json(out + "/" + id + "_report.json");
        CHECK(j["input_check"]["looks_like_head"] == false);
        CHECK(j["input_check"]["reasons"].size() >= 2);
    }
    const nlohmann::json jd = case_json(out + "/chest_dicom_report.json");
    CHECK(jd["input_check"]["body_part_examined"] == "CHEST");
    CHECK(jd["input_check"]["reasons"][0].get<std::string>().find("BodyPartExamined is 'CHEST'") != std::string::npos);
    for (const char* id : {"head", "head_dicom"}) {
        INFO(id);
        const nlohmann::json j = case_json(out + "/" + id + "_report.json");
        CHECK(j["input_check"]["looks_like_head"] == true);
        CHECK(std::filesystem::exists(out + "/" + id + "_qc.png"));
    }
    CHECK(case_json(out + "/head_dicom_report.json")["input_check"]["body_part_examined"] == "HEAD");
    // the run CSV carries the warning in the message column of the chest rows only
    std::ifstream f(out + "/predict_report.csv");
    std::string line, csv;
    int warned = 0;
    while (std::getline(f, line)) warned += line.find("warning: does not look like a head CT") != std::string::npos;
    CHECK(warned == 2);
    // the QC montage of the head: a PNG with the band model's outline
    std::ifstream qf(out + "/head_qc.png", std::ios::binary);
    std::stringstream qs;
    qs << qf.rdbuf();
    const Png qc = decode_png(qs.str());
    CHECK(qc.w > 500);
    CHECK(outline_pixels(qc, predict::QcOptions{}.outline) > 0);

    // --refuse-non-head: the chest is an error and nothing of it is written; the head still is
    const std::string out2 = dir / "out2";
    const test::ProgramRun r2 = test::run_program({ICHSEG_PREDICT_BIN, "-m", model, "-o", out2, "--refuse-non-head",
                                                   dir / "chest.nii.gz", dir / "head.nii.gz"});
    INFO(r2.output);
    CHECK(r2.status == 1);
    CHECK(r2.output.find("refused: --refuse-non-head") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out2 + "/chest_seg.nii.gz"));
    CHECK_FALSE(std::filesystem::exists(out2 + "/chest_report.json"));
    CHECK(std::filesystem::exists(out2 + "/head_seg.nii.gz"));
}

TEST_CASE("ichseg_predict: an ICM that finds no intracranial cavity is reported", "[predict][head_check][program]") {
    test::TempDir dir;
    const data::Phantom head = test::ich_phantom(32, 64, 6);
    io::write_nifti(dir / "head.nii.gz", head.ct);
    for (const double p : {0.01, 0.99}) {
        const std::string t = dir / ("t" + std::to_string(p) + ".safetensors"), b = dir / ("b" + std::to_string(p) + ".safetensors");
        test::write_constant_model(t, p, "cavity", 0, 600);
        test::write_constant_model(b, p, "cavity", 150, 650);
        const std::string out = dir / ("out" + std::to_string(p));
        const test::ProgramRun run = test::run_program(
            {ICHSEG_PREDICT_BIN, "-m", test::band_ich_model(), "--icm-tissue", t, "--icm-bone", b, "-o", out, dir / "head.nii.gz"});
        INFO(run.output);
        REQUIRE(run.status == 0);
        const nlohmann::json j = case_json(out + "/head_report.json");
        CHECK(j["input_check"]["icm_cavity_ml"].get<double>() >= 0);
        if (p < 0.5) {
            CHECK(j["input_check"]["looks_like_head"] == false);
            CHECK(j["input_check"]["reasons"].dump().find("found no cavity") != std::string::npos);
            CHECK(run.output.find("WARNING") != std::string::npos);
        } else {
            CHECK(j["input_check"]["looks_like_head"] == true);
            CHECK(j["input_check"]["icm_cavity_ml"].get<double>() > 100);
        }
    }
}
#endif
