// JPEG 2000 (transfer syntaxes .90 and .91) through OpenJPEG: files written by other software (pydicom +
// pylibjpeg-openjpeg, checked in under tests/io/data/jpeg2000/ with pydicom's decoded values) decode to exactly
// pydicom's values; ichseg's own writer round-trips 8..16 bits, signed and unsigned, in one or several fragments;
// several frames are split correctly; and every malformed codestream is refused with an error naming the file.
#include <catch2/catch.hpp>

#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ichseg/io/dicom.hpp"
#include "io_test_util.hpp"

using namespace ichseg;
using namespace ichseg::io;
using Catch::Matchers::Contains;

namespace test_jpeg2000 {

const std::string kData = std::string(ICHSEG_IO_TEST_DATA) + "/jpeg2000";

/// A smooth image of stored values in [lo, hi] (J2K compresses it well; lossy errors stay small).
std::vector<int32_t> smooth(int rows, int cols, int64_t lo, int64_t hi) {
    std::vector<int32_t> v(static_cast<size_t>(rows * cols));
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x) {
            const double t = 0.5 + 0.45 * std::sin(0.21 * x + 0.4) * std::cos(0.17 * y - 0.3);
            v[static_cast<size_t>(y * cols + x)] = static_cast<int32_t>(std::llround(static_cast<double>(lo) + t * static_cast<double>(hi - lo)));
        }
    return v;
}

DicomWriteSpec spec(int rows, int cols, int bits_alloc, int bits_stored, int pixrep) {
    DicomWriteSpec w;
    w.rows = rows;
    w.cols = cols;
    w.bits_allocated = bits_alloc;
    w.bits_stored = bits_stored;
    w.pixel_representation = pixrep;
    w.rescale_slope = 1;
    w.rescale_intercept = -1024;  // (an intercept > -100 with 12 unsigned bits would be the RSNA quirk)
    w.series_uid = "1.2.826.0.1.3680043.2.1125.7";
    w.sop_uid = make_dicom_uid(static_cast<uint64_t>(rows * 100 + bits_stored), static_cast<uint64_t>(pixrep + 7));
    w.transfer_syntax = DicomTransferSyntax::jpeg2000_lossless;
    return w;
}

/// HU of stored values with the spec's rescale (slope 1, intercept -1024).
std::vector<float> as_hu(const std::vector<int32_t>& v) {
    std::vector<float> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = static_cast<float>(v[i] - 1024);
    return h;
}

std::string bytes_of(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

}  // namespace test_jpeg2000

using namespace test_jpeg2000;

TEST_CASE("jpeg2000: files from pydicom + OpenJPEG decode to exactly pydicom's values", "[io][dicom][jpeg2000]") {
    std::ifstream f(kData + "/expected.json");
    REQUIRE(f.good());
    const nlohmann::json j = nlohmann::json::parse(f);
    const auto& files = j.at("files");
    REQUIRE(files.size() == 7);
    int lossy = 0, multi_fragment = 0, eight_bit = 0, is_signed = 0, unsigned_ = 0;
    for (auto it = files.begin(); it != files.end(); ++it) {
        const std::string path = kData + "/" + it.key();
        const auto& e = it.value();
        INFO(path);
        DicomReadOptions opt;
        opt.require_ct = e.at("modality") == "CT";
        const DicomSlice s = read_dicom_slice(path, opt);
        CHECK(s.header.transfer_syntax_uid == e.at("transfer_syntax").get<std::string>());
        CHECK(s.header.rows == e.at("rows").get<int>());
        CHECK(s.header.cols == e.at("cols").get<int>());
        CHECK(s.header.bits_allocated == e.at("bits_allocated").get<int>());
        CHECK(s.header.bits_stored == e.at("bits_stored").get<int>());
        const auto stored = e.at("stored").get<std::vector<int64_t>>();
        REQUIRE(s.hu.size() == stored.size());
        const double slope = e.at("slope"), inter = e.at("intercept");
        size_t wrong = 0;
        for (size_t i = 0; i < stored.size(); ++i)
            if (s.hu[i] != static_cast<float>(static_cast<double>(stored[i]) * slope + inter)) ++wrong;
        CHECK(wrong == 0);
        lossy += !e.at("lossless").get<bool>();
        multi_fragment += e.at("fragments").get<int>() > 1;
        eight_bit += e.at("bits_allocated").get<int>() == 8;
        is_signed += e.at("signed").get<bool>();
        unsigned_ += !e.at("signed").get<bool>();
        if (!opt.require_ct) {
            CHECK_THROWS_WITH(read_dicom_slice(path), Contains(it.key() + ": modality 'MR' is not CT"));
        }
    }
    // the set covers what the issue asks for
    CHECK(lossy >= 2);
    CHECK(multi_fragment >= 2);
    CHECK(eight_bit >= 1);
    CHECK(is_signed >= 2);
    CHECK(unsigned_ >= 2);
}

TEST_CASE("jpeg2000: ichseg's writer and reader round-trip 8..16 bits, signed and unsigned, 1..4 fragments",
          "[io][dicom][jpeg2000]") {
    test::TempDir d;
    const int R = 36, C = 44;
    struct Case {
        int bits_alloc, bits_stored, pixrep;
    };
    const Case cases[] = {{8, 8, 0}, {8, 8, 1}, {8, 6, 0}, {16, 10, 0}, {16, 12, 1}, {16, 12, 0},
                          {16, 14, 1}, {16, 16, 1}, {16, 16, 0}, {16, 9, 1}};
    int n = 0;
    for (const Case& c : cases) {
        const int64_t lo = c.pixrep ? -(int64_t(1) << (c.bits_stored - 1)) : 0;
        const int64_t hi = c.pixrep ? (int64_t(1) << (c.bits_stored - 1)) - 1 : (int64_t(1) << c.bits_stored) - 1;
        const auto v = smooth(R, C, lo, hi);
        for (auto ts : {DicomTransferSyntax::jpeg2000_lossless, DicomTransferSyntax::jpeg2000}) {
            for (int frags : {1, 4}) {
                DicomWriteSpec w = spec(R, C, c.bits_alloc, c.bits_stored, c.pixrep);
                w.transfer_syntax = ts;
                w.j2k_ratio = 0;  // reversible in .91 too
                w.fragments = frags;
                const std::string f = d / ("rt" + std::to_string(n++) + ".dcm");
                const auto hu = as_hu(v);
                write_dicom_slice(f, w, hu.data());
                const DicomSlice s = read_dicom_slice(f);
                INFO("BitsAllocated " << c.bits_alloc << " BitsStored " << c.bits_stored << " signed " << c.pixrep
                                      << " " << s.header.transfer_syntax_uid << " fragments " << frags);
                CHECK(s.header.transfer_syntax_uid ==
                      (ts == DicomTransferSyntax::jpeg2000 ? "1.2.840.10008.1.2.4.91" : "1.2.840.10008.1.2.4.90"));
                REQUIRE(s.hu.size() == hu.size());
                CHECK(std::equal(s.hu.begin(), s.hu.end(), hu.begin()));
            }
        }
    }
    SECTION("lossy .91: values change, within the error of the requested ratio; the header says lossy") {
        const auto v = smooth(64, 64, -1024, 2000);
        const auto hu = as_hu(v);
        DicomWriteSpec w = spec(64, 64, 16, 12, 1);
        w.transfer_syntax = DicomTransferSyntax::jpeg2000;
        w.j2k_ratio = 8;
        w.fragments = 2;
        write_dicom_slice(d / "lossy.dcm", w, hu.data());
        const DicomSlice s = read_dicom_slice(d / "lossy.dcm");
        double se = 0, maxe = 0;
        for (size_t i = 0; i < hu.size(); ++i) {
            const double e = std::fabs(static_cast<double>(s.hu[i]) - hu[i]);
            se += e * e;
            maxe = std::max(maxe, e);
        }
        const double rms = std::sqrt(se / static_cast<double>(hu.size()));
        // The irreversible wavelet at 8:1 on a smooth 12-bit image: not exact, but far below the 3024 HU range.
        // (pydicom decodes the same file to the same values: tests/io/peers/jpeg2000_pydicom_test.py.)
        CHECK(maxe > 0);
        CHECK(rms < 0.01 * 3024);
        DcmFileFormat ff;
        REQUIRE(ff.loadFile((d / "lossy.dcm").c_str()).good());
        OFString lossy;
        CHECK(ff.getDataset()->findAndGetOFString(DCM_LossyImageCompression, lossy).good());
        CHECK(lossy == "01");
    }
}

TEST_CASE("jpeg2000: several frames are split by offset table, by fragment or by SOC marker", "[io][dicom][jpeg2000]") {
    // The slice reader takes single-frame images only; the codec itself (used through DCMTK's
    // chooseRepresentation) also decodes multi-frame pixel data, checked here directly.
    const int R = 32, C = 40;
    const auto a = smooth(R, C, 0, 4000), b = smooth(R, C, 4000, 100);
    const auto ca = j2k::encode(a.data(), R, C, 12, false), cb = j2k::encode(b.data(), R, C, 12, false);
    auto run = [&](bool with_bot, int frags_per_frame, const char* declared_frames = "2") {
        io::detail::dicom_init_once();
        DcmFileFormat ff;
        DcmDataset* ds = ff.getDataset();
        ds->putAndInsertUint16(DCM_Rows, R);
        ds->putAndInsertUint16(DCM_Columns, C);
        ds->putAndInsertUint16(DCM_BitsAllocated, 16);
        ds->putAndInsertUint16(DCM_BitsStored, 12);
        ds->putAndInsertUint16(DCM_HighBit, 11);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        ds->putAndInsertString(DCM_NumberOfFrames, declared_frames);
        auto* seq = new DcmPixelSequence(DCM_PixelSequenceTag);
        auto* bot = new DcmPixelItem(DCM_PixelItemTag);
        seq->insert(bot);
        std::vector<Uint32> offsets;
        Uint32 pos = 0;
        for (const auto* cs : {&ca, &cb}) {
            offsets.push_back(pos);
            std::vector<uint8_t> c = *cs;
            if (c.size() % 2) c.push_back(0);
            size_t per = (c.size() + static_cast<size_t>(frags_per_frame) - 1) / static_cast<size_t>(frags_per_frame);
            per += per % 2;
            for (size_t p = 0; p < c.size(); p += per) {
                const size_t len = std::min(per, c.size() - p);
                auto* item = new DcmPixelItem(DCM_PixelItemTag);
                item->putUint8Array(c.data() + p, static_cast<Uint32>(len));
                seq->insert(item);
                pos += static_cast<Uint32>(8 + len);
            }
        }
        if (with_bot) bot->putUint8Array(reinterpret_cast<const Uint8*>(offsets.data()), 8);  // little-endian host
        auto* pd = new DcmPixelData(DCM_PixelData);
        pd->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, seq);
        ds->insert(pd, true);
        const OFCondition c = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (std::string(declared_frames) != "2") {
            CHECK(c.bad());
            CHECK_THAT(std::string(c.text()), Contains("NumberOfFrames is 99999 but the pixel data holds only 2 fragment(s)"));
            return;
        }
        REQUIRE(c.good());
        const Uint16* px = nullptr;
        REQUIRE(ds->findAndGetUint16Array(DCM_PixelData, px).good());
        for (size_t i = 0; i < a.size(); ++i) {
            REQUIRE(px[i] == a[i]);
            REQUIRE(px[a.size() + i] == b[i]);
        }
    };
    SECTION("offset table, 3 fragments per frame") { run(true, 3); }
    SECTION("no offset table, one fragment per frame") { run(false, 1); }
    SECTION("no offset table, 2 fragments per frame (frame starts found by SOC)") { run(false, 2); }
    SECTION("more frames declared than fragments: refused before the frames are allocated") { run(false, 1, "99999"); }
}

TEST_CASE("jpeg2000: a codestream wrapped in a JP2 file (seen in old archives) is accepted", "[io][dicom][jpeg2000]") {
    test::TempDir d;
    const auto v = smooth(32, 32, -1000, 1000);
    const auto cs = j2k::encode(v.data(), 32, 32, 16, true);
    std::string jp2;
    auto box = [&](const char* type, const std::string& body) {
        const uint32_t len = static_cast<uint32_t>(8 + body.size());
        for (int s = 24; s >= 0; s -= 8) jp2.push_back(static_cast<char>((len >> s) & 0xFF));
        jp2 += std::string(type, 4) + body;
    };
    box("jP  ", std::string("\x0D\x0A\x87\x0A", 4));
    box("ftyp", std::string("jp2 \0\0\0\0jp2 ", 12));
    box("jp2c", bytes_of(cs));
    DicomWriteSpec w = spec(32, 32, 16, 16, 1);
    w.fragments_override = {jp2};
    write_dicom_slice(d / "jp2.dcm", w, nullptr);
    const DicomSlice s = read_dicom_slice(d / "jp2.dcm");
    const auto hu = as_hu(v);
    CHECK(std::equal(s.hu.begin(), s.hu.end(), hu.begin()));
}

TEST_CASE("jpeg2000: every malformed codestream is refused with an error naming the file", "[io][dicom][jpeg2000][errors]") {
    test::TempDir d;
    const int R = 32, C = 32;
    const auto v = smooth(R, C, -1024, 2000);
    const auto good = j2k::encode(v.data(), R, C, 16, true);
    REQUIRE(good.size() > 200);
    auto write = [&](const std::string& name, std::vector<std::string> frags, int rows = 32, int cols = 32, int ba = 16,
                     int bs = 16) {
        DicomWriteSpec w = spec(rows, cols, ba, bs, 1);
        w.fragments_override = std::move(frags);
        if (w.fragments_override.empty()) w.fragments = 0;  // only the (empty) offset table
        write_dicom_slice(d / name, w, nullptr);
        return d / name;
    };
    const std::string prefix = ": cannot decode the compressed pixel data (transfer syntax JPEG 2000";
    auto refused = [&](const std::string& file, const std::string& why) {
        const std::string name = std::filesystem::path(file).filename().string();
        CHECK_THROWS_WITH(read_dicom_slice(file), Contains(name + prefix) && Contains(why));
    };
    SECTION("the unmodified codestream decodes (the fixtures below differ only as stated)") {
        const DicomSlice s = read_dicom_slice(write("good.dcm", {bytes_of(good)}));
        CHECK(std::equal(s.hu.begin(), s.hu.end(), as_hu(v).begin()));
    }
    SECTION("truncated codestream") {
        for (double keep : {0.25, 0.5, 0.9}) {
            const size_t n = static_cast<size_t>(static_cast<double>(good.size()) * keep);
            refused(write("cut" + std::to_string(n) + ".dcm", {bytes_of(good).substr(0, n)}),
                    "corrupt or truncated JPEG 2000 codestream");
        }
        refused(write("cut_siz.dcm", {bytes_of(good).substr(0, 20)}), "codestream truncated inside its SIZ marker");
        // cut at the second of three fragments: the frame's bytes stop early
        const std::string g = bytes_of(good);
        const size_t third = (g.size() / 3) & ~size_t(1);
        refused(write("cut_frag.dcm", {g.substr(0, third), g.substr(third, third)}),
                "corrupt or truncated JPEG 2000 codestream");
    }
    SECTION("wrong component count") {
        std::vector<int32_t> rgb(static_cast<size_t>(R * C * 3));
        for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = v[i / 3];
        const auto three = j2k::encode(rgb.data(), R, C, 16, true, 0, 3);
        refused(write("rgb.dcm", {bytes_of(three)}), "codestream has 3 component(s) but SamplesPerPixel is 1");
    }
    SECTION("image size differs from Rows x Columns") {
        std::vector<int32_t> big(64 * 48, 5);
        const auto other = j2k::encode(big.data(), 48, 64, 16, true);
        refused(write("size.dcm", {bytes_of(other)}),
                "codestream image is 64 x 48 pixels (width x height) but Columns x Rows is 32 x 32");
        refused(write("size2.dcm", {bytes_of(good)}, 32, 31), "but Columns x Rows is 31 x 32");
    }
    SECTION("precision larger than BitsAllocated") {
        refused(write("prec.dcm", {bytes_of(good)}, R, C, 8, 8), "codestream precision 16 bits exceeds BitsAllocated 8");
    }
    SECTION("absurd dimensions and tiling") {
        std::string g = bytes_of(good);
        // SIZ: FF4F FF51 Lsiz(2) Rsiz(2) Xsiz(4) at offset 8, Ysiz(4) at 12, ..., XTsiz at 24, YTsiz at 28
        std::string huge = g;
        for (int i : {8, 12}) huge.replace(static_cast<size_t>(i), 4, std::string("\x7F\xFF\xFF\xF0", 4));
        refused(write("huge.dcm", {huge}), "codestream image is 2147483632 x 2147483632 pixels");
        std::string tiles = g;
        for (int i : {24, 28}) tiles.replace(static_cast<size_t>(i), 4, std::string("\0\0\0\1", 4));
        refused(write("tiles.dcm", {tiles}), "absurd tiling (1024 tiles for 1024 pixels)");
        std::string zero = g;
        zero.replace(8, 4, std::string("\0\0\0\0", 4));
        refused(write("empty_image.dcm", {zero}), "SIZ marker describes an empty image");
        // Rows x Columns of the DICOM header itself absurd: refused before any decoding
        DicomWriteSpec w = spec(R, C, 16, 16, 1);
        w.fragments_override = {g};
        write_dicom_slice(d / "rows.dcm", w, nullptr);
        DcmFileFormat ff;
        REQUIRE(ff.loadFile((d / "rows.dcm").c_str()).good());
        ff.getDataset()->putAndInsertUint16(DCM_Rows, 65535);
        ff.getDataset()->putAndInsertUint16(DCM_Columns, 65535);
        REQUIRE(ff.saveFile((d / "rows2.dcm").c_str(), EXS_JPEG2000LosslessOnly).good());
        CHECK_THROWS_WITH(read_dicom_slice(d / "rows2.dcm"),
                          Contains("rows2.dcm: image of 65535 x 65535 pixels exceeds the limit"));
    }
    SECTION("not a codestream, an empty fragment, no fragment") {
        refused(write("junk.dcm", {std::string(300, '\x42')}), "not a JPEG 2000 codestream");
        refused(write("empty_frag.dcm", {std::string()}), "empty JPEG 2000 frame");
        refused(write("none.dcm", {}), "the encapsulated pixel data holds no fragment");
        std::string bad_siz = bytes_of(good);
        bad_siz[4] = '\x7F';  // Lsiz no longer matches the component count
        refused(write("lsiz.dcm", {bad_siz}), "SIZ marker length");
        std::string subs = bytes_of(good);
        subs[4 + 39] = 2;  // XRsiz of component 0 (SIZ parameters start after FF4F FF51, at Lsiz)
        refused(write("subsampled.dcm", {subs}), "component 0 is sub-sampled");
    }
    SECTION("JPEG 2000 Part 2 and transfer syntaxes DCMTK does not know") {
        const std::string f = write("good2.dcm", {bytes_of(good)});
        std::string bytes = test::read_bytes(f);
        const std::string uid90 = "1.2.840.10008.1.2.4.90";
        const size_t at = bytes.find(uid90);
        REQUIRE(at != std::string::npos);
        std::string mc = bytes;
        mc.replace(at, uid90.size(), "1.2.840.10008.1.2.4.92");
        test::write_bytes(d / "part2.dcm", mc);
        CHECK_THROWS_WITH(read_dicom_slice(d / "part2.dcm"),
                          Contains("part2.dcm: JPEG 2000 Part 2 multi-component pixel data is not supported"));
        // A transfer syntax UID DCMTK does not know (same length as ".90", so the meta header is patched in place).
        std::string unknown = bytes;
        unknown.replace(at, uid90.size(), "1.2.840.10008.1.2.4.20");
        test::write_bytes(d / "unknown.dcm", unknown);
        CHECK_THROWS_WITH(read_dicom_slice(d / "unknown.dcm"),
                          Contains("unknown.dcm: transfer syntax 1.2.840.10008.1.2.4.20 is a transfer syntax this "
                                   "DCMTK (3.6.7) does not know"));
        CHECK_THAT(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.4.201"), Contains("High-Throughput JPEG 2000"));
        CHECK_THAT(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.4.110"), Contains("JPEG XL"));
        CHECK_THAT(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.4.94"), Contains("JPIP"));
        CHECK_THAT(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.4.100"), Contains("video"));
        CHECK(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.4.90").empty());
        CHECK(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.4.91").empty());
        CHECK(io::detail::unsupported_transfer_syntax("1.2.840.10008.1.2.1.99").empty());
    }
}
