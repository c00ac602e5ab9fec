// DICOM: HU conversion for every storage form and transfer syntax, the RSNA quirk, series ordering and geometry
// checks, and every kind of bad file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "ichseg/data/phantom.hpp"
#include "ichseg/io/dicom.hpp"

#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include "io_test_util.hpp"

using namespace ichseg;
using namespace ichseg::io;
using Catch::Matchers::Contains;

namespace {

std::vector<float> test_image(int rows, int cols, float lo = -1024, float hi = 2000) {
    std::vector<float> v(static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::round(lo + std::fmod(static_cast<float>(i) * 97.f, hi - lo));
    return v;
}

DicomWriteSpec spec(int rows, int cols, const std::string& series = "1.2.826.0.1.3680043.2.1125.1") {
    DicomWriteSpec w;
    w.rows = rows;
    w.cols = cols;
    w.series_uid = series;
    w.study_uid = "1.2.826.0.1.3680043.2.1125.9";
    w.sop_uid = make_dicom_uid(static_cast<uint64_t>(rows) * 1000 + static_cast<uint64_t>(cols), std::rand());
    w.patient_id = "P1";
    return w;
}

/// Write a series of a phantom volume, files named in a shuffled order with reversed InstanceNumbers.
std::vector<std::string> write_series(const std::string& dir, const Volume& v, const std::vector<int64_t>& ks,
                                      const std::string& series, double extra_step_after = -1, double extra = 0) {
    std::filesystem::create_directories(dir);
    std::vector<std::string> files;
    std::vector<size_t> names(ks.size());
    for (size_t i = 0; i < names.size(); ++i) names[i] = (names.size() + 1 - i) % names.size();  // reversed, rotated
    for (size_t t = 0; t < ks.size(); ++t) {
        const int64_t k = ks[t];
        DicomWriteSpec w = spec(static_cast<int>(v.ny()), static_cast<int>(v.nx()), series);
        w.sop_uid = make_dicom_uid(77 + static_cast<uint64_t>(k), std::hash<std::string>{}(series + dir));
        w.instance_number = 100 - k;
        const auto p = v.affine.apply(0, 0, static_cast<double>(k));
        double z = p[2];
        if (extra_step_after >= 0 && k > extra_step_after) z += extra;
        w.position = {-p[0], -p[1], z};
        const double sx = v.affine.column_norm(0), sy = v.affine.column_norm(1);
        w.orientation = {-v.affine(0, 0) / sx, -v.affine(1, 0) / sx, v.affine(2, 0) / sx,
                         -v.affine(0, 1) / sy, -v.affine(1, 1) / sy, v.affine(2, 1) / sy};
        w.pixel_spacing = {sy, sx};
        std::vector<float> px(v.slice(k), v.slice(k) + v.slice_size());
        for (float& x : px) x = std::round(x);
        const std::string f = dir + "/IM" + std::to_string(names[t]);
        write_dicom_slice(f, w, px.data());
        files.push_back(f);
    }
    return files;
}

Volume small_phantom(double tilt = 0, int64_t slices = 8) {
    data::PhantomParams p;
    p.size = 32;
    p.slices = slices;
    p.gantry_tilt_deg = tilt;
    p.ich = 0;
    data::Phantom ph = data::generate_phantom(p, 42);
    for (int64_t i = 0; i < ph.ct.voxels.numel(); ++i) ph.ct.voxels.data()[i] = std::round(ph.ct.voxels.data()[i]);
    return ph.ct;
}

}  // namespace

TEST_CASE("dicom: HU identical through every supported transfer syntax and storage form", "[io][dicom]") {
    test::TempDir d;
    const int R = 12, C = 10;
    const auto hu = test_image(R, C);
    struct Case {
        DicomTransferSyntax ts;
        int pixrep;
        double slope, inter;
    };
    const Case cases[] = {{DicomTransferSyntax::explicit_le, 1, 1, -1024}, {DicomTransferSyntax::explicit_le, 0, 1, -1024},
                          {DicomTransferSyntax::implicit_le, 1, 1, 0},     {DicomTransferSyntax::explicit_be, 1, 1, -1024},
                          {DicomTransferSyntax::jpeg_lossless, 1, 1, -1024}, {DicomTransferSyntax::jpeg_lossless, 0, 1, -1024},
                          {DicomTransferSyntax::jpegls_lossless, 1, 1, 0}, {DicomTransferSyntax::rle, 1, 1, -1024},
                          {DicomTransferSyntax::explicit_le, 1, 0.5, -1024},
                          {DicomTransferSyntax::deflated, 1, 1, -1024},
                          {DicomTransferSyntax::jpeg2000_lossless, 1, 1, -1024},
                          {DicomTransferSyntax::jpeg2000_lossless, 0, 1, -1024},
                          {DicomTransferSyntax::jpeg2000, 1, 1, 0}};
    int n = 0;
    for (const Case& c : cases) {
        DicomWriteSpec w = spec(R, C);
        w.transfer_syntax = c.ts;
        w.pixel_representation = c.pixrep;
        w.rescale_slope = c.slope;
        w.rescale_intercept = c.inter;
        w.j2k_ratio = 0;  // .91 with the reversible wavelet: lossless
        const std::string f = d / ("ts" + std::to_string(n++) + ".dcm");
        write_dicom_slice(f, w, hu.data());
        const DicomSlice s = read_dicom_slice(f);
        INFO("case " << n << " transfer syntax " << s.header.transfer_syntax_name);
        CHECK(s.header.rows == R);
        CHECK(s.header.cols == C);
        CHECK(s.header.pixel_representation == c.pixrep);
        REQUIRE(s.hu.size() == hu.size());
        CHECK(std::equal(s.hu.begin(), s.hu.end(), hu.begin()));
        CHECK_FALSE(s.rsna_fix_applied);
    }
    // the same bytes from memory
    const std::string bytes = test::read_bytes(d / "ts4.dcm");
    const DicomSlice m = read_dicom_slice_from_memory(bytes.data(), bytes.size(), "mem.dcm");
    CHECK(std::equal(m.hu.begin(), m.hu.end(), hu.begin()));
}

TEST_CASE("dicom: 12-bit signed storage is sign-extended, masked high bits are ignored", "[io][dicom]") {
    test::TempDir d;
    DicomWriteSpec w = spec(4, 4);
    w.bits_stored = 12;
    w.pixel_representation = 1;
    w.rescale_intercept = 0;
    std::vector<float> hu = {-2048, -1000, -1, 0, 1, 40, 2047, -5, 5, 100, -100, 7, 8, 9, 10, 11};
    write_dicom_slice(d / "s12.dcm", w, hu.data());
    const DicomSlice s = read_dicom_slice(d / "s12.dcm");
    CHECK(std::equal(s.hu.begin(), s.hu.end(), hu.begin()));
    std::vector<float> too_big = hu;
    too_big[0] = 3000;
    CHECK_THROWS_WITH(write_dicom_slice(d / "x.dcm", w, too_big.data()), Contains("outside -2048..2047"));
}

TEST_CASE("dicom: the RSNA 12-bit quirk is detected and fixed", "[io][dicom][rsna]") {
    test::TempDir d;
    DicomWriteSpec w = spec(8, 8);
    w.rsna_quirk = true;
    const auto hu = test_image(8, 8, -1000, 3000);
    write_dicom_slice(d / "q.dcm", w, hu.data());
    const DicomSlice s = read_dicom_slice(d / "q.dcm");
    CHECK(s.header.bits_stored == 12);
    CHECK(s.header.pixel_representation == 0);
    CHECK(s.header.rescale_intercept == 0);
    CHECK(s.rsna_fix_applied);
    CHECK(std::equal(s.hu.begin(), s.hu.end(), hu.begin()));
    REQUIRE_FALSE(s.warnings.empty());
    CHECK_THAT(s.warnings[0], Contains("RSNA 12-bit quirk"));
    // without the fix the same file gives values that are not CT (no air, wrapped negatives)
    DicomReadOptions nofix;
    nofix.rsna_12bit_fix = false;
    const DicomSlice raw = read_dicom_slice(d / "q.dcm", nofix);
    CHECK_FALSE(raw.rsna_fix_applied);
    CHECK(*std::min_element(raw.hu.begin(), raw.hu.end()) >= 0.f);
    CHECK(raw.hu[0] == 3096.f);  // -1000 HU stored as (0 - 1000) mod 4096
}

TEST_CASE("dicom: multi-valued window tags and header fields", "[io][dicom]") {
    test::TempDir d;
    DicomWriteSpec w = spec(4, 4);
    w.window_center = {40, 600};
    w.window_width = {80, 2800};
    w.series_description = "PLAIN THIN";
    w.convolution_kernel = "H30s";
    w.slice_thickness = 0.625;
    w.instance_number = 17;
    const auto hu = test_image(4, 4);
    write_dicom_slice(d / "w.dcm", w, hu.data());
    const DicomHeader h = read_dicom_header(d / "w.dcm");
    CHECK(h.window_center == std::vector<double>{40, 600});
    CHECK(h.window_width == std::vector<double>{80, 2800});
    CHECK(h.series_description == "PLAIN THIN");
    CHECK(h.convolution_kernel == "H30s");
    CHECK(h.slice_thickness == 0.625);
    CHECK(h.instance_number == 17);
    CHECK(h.modality == "CT");
    CHECK(h.has_pixel_data);
    // missing rescale: defaults with a warning; bare dataset without preamble still reads
    DicomWriteSpec nr = spec(4, 4);
    nr.write_rescale = false;
    nr.rescale_intercept = 0;
    nr.write_meta_header = false;
    write_dicom_slice(d / "nr.dcm", nr, hu.data());
    const DicomSlice s = read_dicom_slice(d / "nr.dcm");
    CHECK(std::equal(s.hu.begin(), s.hu.end(), hu.begin()));
    REQUIRE(s.warnings.size() == 1);
    CHECK_THAT(s.warnings[0], Contains("RescaleSlope/RescaleIntercept missing"));
}

TEST_CASE("dicom: bad files give errors naming the file and the problem", "[io][dicom][errors]") {
    test::TempDir d;
    const auto hu = test_image(8, 8);
    SECTION("not DICOM") {
        test::write_bytes(d / "garbage.dcm", std::string(3000, '\x07'));
        CHECK_THROWS_WITH(read_dicom_slice(d / "garbage.dcm"), Contains("garbage.dcm"));
        test::write_bytes(d / "empty.dcm", "");
        CHECK_THROWS_WITH(read_dicom_slice(d / "empty.dcm"), Contains("empty.dcm"));
        CHECK_THROWS_WITH(read_dicom_slice(d / "missing.dcm"), Contains("missing.dcm: no such file"));
        CHECK_THROWS_WITH(read_dicom_slice(d.path()), Contains("is a directory"));
    }
    SECTION("non-CT modality") {
        DicomWriteSpec w = spec(8, 8);
        w.modality = "MR";
        write_dicom_slice(d / "mr.dcm", w, hu.data());
        CHECK_THROWS_WITH(read_dicom_slice(d / "mr.dcm"), Contains("mr.dcm: modality 'MR' is not CT"));
        DicomReadOptions any;
        any.require_ct = false;
        CHECK(read_dicom_slice(d / "mr.dcm", any).hu.size() == 64);
    }
    SECTION("missing and short pixel data, truncated file") {
        DicomWriteSpec w = spec(8, 8);
        w.write_pixel_data = false;
        write_dicom_slice(d / "nopix.dcm", w, hu.data());
        CHECK_THROWS_WITH(read_dicom_slice(d / "nopix.dcm"), Contains("nopix.dcm: no PixelData"));
        DicomWriteSpec s = spec(8, 8);
        s.pixel_count_override = 20;
        write_dicom_slice(d / "ID_6431af929.dcm", s, hu.data());
        CHECK_THROWS_WITH(read_dicom_slice(d / "ID_6431af929.dcm"),
                          Contains("ID_6431af929.dcm: PixelData holds 40 bytes") && Contains("= 128"));
        write_dicom_slice(d / "cut.dcm", spec(8, 8), hu.data());
        const auto size = std::filesystem::file_size(d / "cut.dcm");
        test::truncate_file(d / "cut.dcm", size - 50);
        CHECK_THROWS_WITH(read_dicom_slice(d / "cut.dcm"), Contains("cut.dcm"));
    }
    SECTION("multi-frame, colour and odd bit depths") {
        write_dicom_slice(d / "a.dcm", spec(8, 8), hu.data());
        auto patch = [&](const std::string& out, const DcmTagKey& tag, const char* value) {
            DcmFileFormat ff;
            REQUIRE(ff.loadFile((d / "a.dcm").c_str()).good());
            ff.getDataset()->putAndInsertString(tag, value);
            REQUIRE(ff.saveFile((d / out).c_str(), EXS_LittleEndianExplicit).good());
        };
        patch("mf.dcm", DCM_NumberOfFrames, "2");
        CHECK_THROWS_WITH(read_dicom_slice(d / "mf.dcm"), Contains("mf.dcm: multi-frame image"));
        patch("rgb.dcm", DCM_SamplesPerPixel, "3");
        CHECK_THROWS_WITH(read_dicom_slice(d / "rgb.dcm"), Contains("rgb.dcm: SamplesPerPixel 3"));
        {
            DcmFileFormat ff;
            REQUIRE(ff.loadFile((d / "a.dcm").c_str()).good());
            ff.getDataset()->putAndInsertUint16(DCM_BitsStored, 17);
            REQUIRE(ff.saveFile((d / "bits.dcm").c_str(), EXS_LittleEndianExplicit).good());
        }
        CHECK_THROWS_WITH(read_dicom_slice(d / "bits.dcm"), Contains("bits.dcm: invalid BitsStored 17"));
        patch("pos.dcm", DCM_ImagePositionPatient, "1\\2");
        CHECK_THROWS_WITH(read_dicom_slice(d / "pos.dcm"), Contains("pos.dcm: ImagePositionPatient has 2 values"));
    }
    SECTION("a JPEG 2000 file whose codestream stops inside its header is refused with a clear message") {
        DcmFileFormat ff;
        DcmDataset* ds = ff.getDataset();
        ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5");
        ds->putAndInsertString(DCM_Modality, "CT");
        ds->putAndInsertUint16(DCM_Rows, 8);
        ds->putAndInsertUint16(DCM_Columns, 8);
        ds->putAndInsertUint16(DCM_BitsAllocated, 16);
        ds->putAndInsertUint16(DCM_BitsStored, 16);
        ds->putAndInsertUint16(DCM_HighBit, 15);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        auto* pd = new DcmPixelData(DCM_PixelData);
        auto* seq = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
        seq->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));
        auto* frag = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
        Uint8 junk[8] = {0xff, 0x4f, 0xff, 0x51, 0, 0, 0, 0};
        frag->putUint8Array(junk, 8);
        seq->insert(frag);
        pd->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, seq);
        ds->insert(pd, true);
        REQUIRE(ff.saveFile((d / "j2k.dcm").c_str(), EXS_JPEG2000LosslessOnly).good());
        CHECK_THROWS_WITH(read_dicom_slice(d / "j2k.dcm"),
                          Contains("j2k.dcm: cannot decode the compressed pixel data (transfer syntax JPEG 2000") &&
                              Contains("codestream truncated inside its SIZ marker"));
    }
}

TEST_CASE("dicom series: shuffled files are ordered along the normal with the right spacing", "[io][dicom][series]") {
    test::TempDir d;
    const Volume v = small_phantom();
    std::vector<int64_t> ks(8);
    for (int64_t k = 0; k < 8; ++k) ks[static_cast<size_t>(k)] = k;
    write_series(d / "s", v, ks, "1.2.3.100");
    test::write_bytes(d / "s/readme.txt", "not dicom");   // ignored: not a DICOM name
    test::write_bytes(d / "s/notes", "not dicom either");  // no extension: tried, skipped with a reason
    std::vector<Skipped> skipped;
    const auto series = scan_dicom_folder(d / "s", {}, &skipped);
    REQUIRE(series.size() == 1);
    REQUIRE(skipped.size() == 1);
    CHECK_THAT(skipped[0].path, Contains("notes"));
    CHECK(series[0].size() == 8);
    CHECK(series[0].step == Approx(5.0));
    CHECK(series[0].missing == 0);
    CHECK_FALSE(series[0].uneven);
    const Volume r = read_dicom_series(series[0]);
    REQUIRE(r.voxels.shape() == v.voxels.shape());
    for (int64_t i = 0; i < v.voxels.numel(); ++i) REQUIRE(r.voxels.data()[i] == v.voxels.data()[i]);
    CHECK(max_abs_diff(r.affine, v.affine) < 1e-6);
    CHECK(r.spacing[2] == Approx(5.0));
    CHECK(r.source.series_uid == "1.2.3.100");
    CHECK(r.source.files.size() == 8);
}

TEST_CASE("dicom series: gantry tilt gives a sheared affine", "[io][dicom][series]") {
    test::TempDir d;
    const Volume v = small_phantom(12.0, 5);
    REQUIRE_FALSE(v.affine.is_orthogonal());
    write_series(d / "t", v, {0, 1, 2, 3, 4}, "1.2.3.200");
    const auto series = scan_dicom_folder(d / "t");
    REQUIRE(series.size() == 1);
    CHECK_FALSE(series[0].uneven);
    const Volume r = read_dicom_series(series[0]);
    CHECK(max_abs_diff(r.affine, v.affine) < 1e-6);
    CHECK(r.affine(1, 2) == Approx(5.0 * std::tan(12.0 * 3.14159265358979 / 180)));
}

TEST_CASE("dicom series: missing slices, uneven spacing, duplicates and localizers", "[io][dicom][series]") {
    test::TempDir d;
    const Volume v = small_phantom();
    SECTION("a missing slice is an error unless allowed") {
        write_series(d / "m", v, {0, 1, 2, 4, 5, 6, 7}, "1.2.3.300");
        const auto s = scan_dicom_folder(d / "m");
        REQUIRE(s.size() == 1);
        CHECK(s[0].missing == 1);
        CHECK_THROWS_WITH(read_dicom_series(s[0]), Contains("1 slice(s) missing"));
        SeriesReadOptions allow;
        allow.allow_missing_slices = true;
        const Volume r = read_dicom_series(s[0], allow);
        CHECK(r.nz() == 7);
        CHECK(r.affine(2, 2) == Approx(5.0));
        CHECK_FALSE(r.source.warnings.empty());
    }
    SECTION("uneven spacing is an error unless allowed") {
        write_series(d / "u", v, {0, 1, 2, 3, 4, 5}, "1.2.3.400", 2.5, 1.7);
        const auto s = scan_dicom_folder(d / "u");
        REQUIRE(s.size() == 1);
        CHECK(s[0].uneven);
        CHECK_THROWS_WITH(read_dicom_series(s[0]), Contains("uneven step"));
        SeriesReadOptions allow;
        allow.allow_uneven_spacing = true;
        CHECK(read_dicom_series(s[0], allow).nz() == 6);
    }
    SECTION("two images at one position are an error") {
        write_series(d / "dup", v, {0, 1, 2, 3}, "1.2.3.500");
        auto files = write_series(d / "dup2", v, {2}, "1.2.3.500");
        std::filesystem::rename(files[0], d / "dup/extra");
        const auto s = scan_dicom_folder(d / "dup");
        REQUIRE(s.size() == 1);
        CHECK(s[0].duplicate_positions);
        CHECK_THROWS_WITH(read_dicom_series(s[0]), Contains("same position"));
    }
    SECTION("localizers and other series are separated") {
        write_series(d / "mix", v, {0, 1, 2, 3, 4}, "1.2.3.600");
        write_series(d / "mix/other", v, {5, 6, 7}, "1.2.3.700");
        DicomWriteSpec loc = spec(16, 32, "1.2.3.600");
        loc.image_type = "ORIGINAL\\PRIMARY\\LOCALIZER";
        loc.orientation = {1, 0, 0, 0, 0, -1};
        const auto px = test_image(16, 32);
        write_dicom_slice(d / "mix/loc.dcm", loc, px.data());
        const auto s = scan_dicom_folder(d / "mix");
        REQUIRE(s.size() == 2);
        CHECK(s[0].series_uid == "1.2.3.600");
        CHECK(s[0].size() == 5);
        REQUIRE(s[0].dropped.size() == 1);
        CHECK_THAT(s[0].dropped[0].reason, Contains("localizer"));
        CHECK(s[1].size() == 3);
        ScanOptions flat;
        flat.recursive = false;
        CHECK(scan_dicom_folder(d / "mix", flat).size() == 1);
    }
    SECTION("empty and missing folders") {
        std::filesystem::create_directories(d / "empty");
        CHECK(scan_dicom_folder(d / "empty").empty());
        CHECK_THROWS_WITH(scan_dicom_folder(d / "nowhere"), Contains("nowhere: no such folder"));
    }
}
