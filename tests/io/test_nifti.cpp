// NIfTI reading and writing: round trips, byte order, scaling, affines, and every kind of bad file.
#include <catch2/catch.hpp>

#include <cmath>
#include <zlib.h>

#include "ichseg/io/nifti.hpp"
#include "io_test_util.hpp"

using namespace ichseg;
using namespace ichseg::io;
using Catch::Matchers::Contains;

namespace {

Volume ramp_volume(int64_t nz, int64_t ny, int64_t nx) {
    Volume v = Volume::zeros(nz, ny, nx, {0.5, 0.75, 5.0});
    for (int64_t i = 0; i < v.voxels.numel(); ++i) v.voxels.data()[i] = static_cast<float>((i * 37) % 3000 - 1024);
    v.affine(0, 3) = -12.5;
    v.affine(1, 3) = 30.25;
    v.affine(2, 3) = -7.0;
    return v;
}

bool same_voxels(const Volume& a, const Volume& b) {
    if (a.voxels.shape() != b.voxels.shape()) return false;
    for (int64_t i = 0; i < a.voxels.numel(); ++i)
        if (a.voxels.data()[i] != b.voxels.data()[i]) return false;
    return true;
}

void gzip_file(const std::string& in, const std::string& out) {
    const std::string bytes = test::read_bytes(in);
    gzFile g = gzopen(out.c_str(), "wb");
    gzwrite(g, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(g);
}

}  // namespace

TEST_CASE("nifti: int16 .nii round trip keeps voxels, affine and voxel order", "[io][nifti]") {
    test::TempDir d;
    const Volume v = ramp_volume(4, 5, 6);
    write_nifti(d / "ct.nii", v);
    NiftiHeaderInfo h;
    const Volume r = read_nifti(d / "ct.nii", {}, &h);
    CHECK(same_voxels(v, r));
    CHECK(max_abs_diff(v.affine, r.affine) == 0.0);
    CHECK(h.datatype_name == "int16");
    CHECK(h.qform_code == 1);
    CHECK(h.sform_code == 1);
    CHECK(h.nx() == 6);
    CHECK(h.ny() == 5);
    CHECK(h.nz() == 4);
    CHECK(r.spacing[0] == Approx(0.5));
    CHECK(r.spacing[2] == Approx(5.0));
    // file order: x fastest -> element (k, j, i) = file voxel i + nx * (j + ny * k)
    const std::string bytes = test::read_bytes(d / "ct.nii");
    int16_t v_1_2_3;
    const int64_t idx = 3 + 6 * (2 + 5 * 1);
    std::memcpy(&v_1_2_3, bytes.data() + 352 + 2 * idx, 2);
    CHECK(static_cast<float>(v_1_2_3) == r.voxels.at({1, 2, 3}));
}

TEST_CASE("nifti: float32 .nii.gz, uint8 masks and scl_slope / scl_inter round trip", "[io][nifti]") {
    test::TempDir d;
    Volume v = ramp_volume(3, 4, 5);
    for (int64_t i = 0; i < v.voxels.numel(); ++i) v.voxels.data()[i] += 0.25f;
    NiftiWriteOptions f32;
    f32.dtype = NiftiDtype::float32;
    write_nifti(d / "f.nii.gz", v, f32);
    NiftiHeaderInfo h;
    CHECK(same_voxels(v, read_nifti(d / "f.nii.gz", {}, &h)));
    CHECK(h.compressed);
    CHECK(h.datatype_name == "float32");

    // int16 storage with slope 0.25, intercept -1024: HU = stored * 0.25 - 1024
    NiftiWriteOptions sc;
    sc.scl_slope = 0.25;
    sc.scl_inter = -1024;
    write_nifti(d / "s.nii", v, sc);
    const Volume r = read_nifti(d / "s.nii", {}, &h);
    CHECK(h.scl_slope == 0.25);
    CHECK(h.scl_inter == -1024);
    CHECK(same_voxels(v, r));
    const std::string bytes = test::read_bytes(d / "s.nii");
    int16_t s0;
    std::memcpy(&s0, bytes.data() + 352, 2);
    CHECK(s0 == static_cast<int16_t>(std::lround((v.voxels.data()[0] + 1024) / 0.25)));

    Mask m = v.like<uint8_t>();
    for (int64_t i = 0; i < m.voxels.numel(); ++i) m.voxels.data()[i] = (i % 3 == 0) ? 1 : 0;
    write_nifti(d / "m.nii.gz", m);
    const Mask mr = read_nifti_mask(d / "m.nii.gz", {}, &h);
    CHECK(h.datatype_name == "uint8");
    CHECK(h.intent_code == 1002);
    for (int64_t i = 0; i < m.voxels.numel(); ++i) REQUIRE(mr.voxels.data()[i] == m.voxels.data()[i]);
}

TEST_CASE("nifti: a sheared (gantry-tilt) sform is kept exactly and the qform is left unset", "[io][nifti]") {
    test::TempDir d;
    Volume v = ramp_volume(3, 4, 4);
    v.affine(1, 2) = 0.375;  // y shifts with z (tilt); float-representable
    v.affine(2, 2) = 4.5;
    REQUIRE_FALSE(v.affine.is_orthogonal());
    write_nifti(d / "tilt.nii", v);
    NiftiHeaderInfo h;
    const Volume r = read_nifti(d / "tilt.nii", {}, &h);
    CHECK(h.sform_code == 1);
    CHECK(h.qform_code == 0);
    CHECK(max_abs_diff(v.affine, r.affine) == 0.0);
    CHECK_FALSE(r.affine.is_orthogonal());
}

TEST_CASE("nifti: big-endian files (int16 and float32 with scaling) read correctly", "[io][nifti]") {
    test::TempDir d;
    test::RawNifti be;
    be.big_endian = true;
    be.set_values<int16_t>({-1000, -10, 0, 10, 40, 80, 1000, 2000, -1024, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
    be.srow[0][0] = -0.5f;
    be.srow[1][1] = 0.5f;
    be.srow[2][2] = 5.f;
    be.srow[0][3] = 10.f;
    test::write_bytes(d / "be.nii", be.bytes());
    NiftiHeaderInfo h;
    const Volume r = read_nifti(d / "be.nii", {}, &h);
    CHECK(h.big_endian);
    REQUIRE(r.nx() == 4);
    REQUIRE(r.ny() == 3);
    REQUIRE(r.nz() == 2);
    CHECK(r.voxels.data()[0] == -1000.f);
    CHECK(r.voxels.data()[7] == 2000.f);
    CHECK(r.voxels.at({1, 2, 3}) == 19.f);
    CHECK(r.affine(0, 0) == -0.5);
    CHECK(r.affine(0, 3) == 10.0);
    CHECK(axis_codes(r.affine) == "LAS");

    test::RawNifti bf = be;
    bf.datatype = 16;
    bf.bitpix = 32;
    bf.scl_slope = 2.f;
    bf.scl_inter = -3.f;
    std::vector<float> vals(24);
    for (int i = 0; i < 24; ++i) vals[static_cast<size_t>(i)] = 0.5f * static_cast<float>(i);
    bf.set_values<float>(vals);
    test::write_bytes(d / "bf.nii", bf.bytes());
    const Volume rf = read_nifti(d / "bf.nii");
    for (int i = 0; i < 24; ++i) REQUIRE(rf.voxels.data()[i] == 2.f * vals[static_cast<size_t>(i)] - 3.f);

    // the same big-endian file gzip-compressed
    gzip_file(d / "be.nii", d / "be.nii.gz");
    CHECK(same_voxels(r, read_nifti(d / "be.nii.gz")));
}

TEST_CASE("nifti: qform-only, no-xform and scl_slope = 0 headers", "[io][nifti]") {
    test::TempDir d;
    test::RawNifti q;
    q.sform_code = 0;
    q.qform_code = 1;
    q.pixdim[0] = -1;  // qfac
    q.pixdim[1] = 0.5f;
    q.pixdim[2] = 0.5f;
    q.pixdim[3] = 3.f;
    q.quatern[2] = 1.f;  // 180 deg about z: x -> -x, y -> -y
    q.qoffset[0] = 5.f;
    q.scl_slope = 0.f;   // "no scaling"
    q.scl_inter = 99.f;
    q.set_values<int16_t>(std::vector<int16_t>(24, 7));
    test::write_bytes(d / "q.nii", q.bytes());
    const Volume r = read_nifti(d / "q.nii");
    CHECK(r.voxels.data()[0] == 7.f);  // slope 0: not scaled
    CHECK(r.affine(0, 0) == Approx(-0.5));
    CHECK(r.affine(1, 1) == Approx(-0.5));
    CHECK(r.affine(2, 2) == Approx(-3.0));  // qfac = -1 flips k
    CHECK(r.affine(0, 3) == Approx(5.0));

    test::RawNifti none;
    none.sform_code = 0;
    none.pixdim[1] = 0.7f;
    none.set_values<int16_t>(std::vector<int16_t>(24, 1));
    test::write_bytes(d / "none.nii", none.bytes());
    const Volume rn = read_nifti(d / "none.nii");
    CHECK(rn.affine(0, 0) == Approx(0.7));
    REQUIRE(rn.source.warnings.size() == 1);
    CHECK_THAT(rn.source.warnings[0], Contains("orientation unknown"));
}

TEST_CASE("nifti: masks are binarised (> 0) whatever the stored values", "[io][nifti]") {
    test::TempDir d;
    test::RawNifti m;
    m.set_values<int16_t>({0, 255, 1, -3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
    test::write_bytes(d / "m.nii", m.bytes());
    const Mask r = read_nifti_mask(d / "m.nii");
    const std::vector<uint8_t> want = {0, 1, 1, 0, 0, 1};
    for (size_t i = 0; i < want.size(); ++i) CHECK(r.voxels.data()[i] == want[i]);
    CHECK(r.voxels.data()[23] == 1);
}

TEST_CASE("nifti: bad files give errors naming the file and the problem", "[io][nifti][errors]") {
    test::TempDir d;
    test::RawNifti good;
    good.set_values<int16_t>(std::vector<int16_t>(24, 1));
    test::write_bytes(d / "good.nii", good.bytes());
    REQUIRE_NOTHROW(read_nifti(d / "good.nii"));

    SECTION("missing file, directory, wrong extension") {
        CHECK_THROWS_WITH(read_nifti(d / "nope.nii"), Contains("nope.nii") && Contains("cannot open"));
        CHECK_THROWS_WITH(read_nifti(d.path()), Contains("is a directory"));
        test::write_bytes(d / "x.txt", good.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "x.txt"), Contains("x.txt: not a NIfTI file name"));
    }
    SECTION("garbage and empty files") {
        test::write_bytes(d / "garbage.nii", std::string(1000, 'z'));
        CHECK_THROWS_WITH(read_nifti(d / "garbage.nii"), Contains("garbage.nii: not a NIfTI-1 file: sizeof_hdr"));
        test::write_bytes(d / "empty.nii", "");
        CHECK_THROWS_WITH(read_nifti(d / "empty.nii"), Contains("empty.nii") && Contains("only 0 bytes"));
        test::write_bytes(d / "short.nii", good.bytes().substr(0, 200));
        CHECK_THROWS_WITH(read_nifti(d / "short.nii"), Contains("truncated NIfTI header"));
    }
    SECTION("wrong magic, NIfTI-2, bad rank, 4-D, bad datatype, bitpix mismatch") {
        test::RawNifti m = good;
        std::memcpy(m.magic, "abc", 4);
        test::write_bytes(d / "magic.nii", m.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "magic.nii"), Contains("magic.nii: wrong NIfTI magic"));
        test::RawNifti pair = good;
        std::memcpy(pair.magic, "ni1", 4);
        test::write_bytes(d / "pairmagic.nii", pair.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "pairmagic.nii"), Contains("does not match the file name"));
        test::RawNifti n2 = good;
        n2.sizeof_hdr = 540;
        test::write_bytes(d / "n2.nii", n2.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "n2.nii"), Contains("NIfTI-2"));
        test::RawNifti r0 = good;
        r0.dim[0] = 0;
        test::write_bytes(d / "rank.nii", r0.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "rank.nii"), Contains("invalid NIfTI rank"));
        test::RawNifti f4 = good;
        f4.dim[0] = 4;
        f4.dim[4] = 3;
        f4.set_values<int16_t>(std::vector<int16_t>(72, 1));
        test::write_bytes(d / "4d.nii", f4.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "4d.nii"), Contains("4d.nii: 4-D NIfTI image (dim[4] = 3)"));
        test::RawNifti s4 = good;  // 4-D with a singleton 4th axis is a 3-D volume
        s4.dim[0] = 4;
        s4.dim[4] = 1;
        test::write_bytes(d / "4d1.nii", s4.bytes());
        CHECK(read_nifti(d / "4d1.nii").nz() == 2);
        test::RawNifti rgb = good;
        rgb.datatype = 128;
        rgb.bitpix = 24;
        test::write_bytes(d / "rgb.nii", rgb.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "rgb.nii"), Contains("unsupported NIfTI datatype 128 (rgb24)"));
        test::RawNifti cx = good;
        cx.datatype = 32;
        cx.bitpix = 64;
        test::write_bytes(d / "complex.nii", cx.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "complex.nii"), Contains("complex64"));
        test::RawNifti bp = good;
        bp.bitpix = 8;
        test::write_bytes(d / "bitpix.nii", bp.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "bitpix.nii"), Contains("bitpix 8"));
        test::RawNifti neg = good;
        neg.dim[2] = -3;
        test::write_bytes(d / "neg.nii", neg.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "neg.nii"), Contains("dim[2] = -3"));
        test::RawNifti vo = good;
        vo.vox_offset = 10;
        test::write_bytes(d / "vox.nii", vo.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "vox.nii"), Contains("invalid vox_offset"));
    }
    SECTION("truncated voxel data, plain and gzip") {
        const std::string b = good.bytes();
        test::write_bytes(d / "trunc.nii", b.substr(0, b.size() - 10));
        CHECK_THROWS_WITH(read_nifti(d / "trunc.nii"), Contains("trunc.nii: truncated NIfTI file"));
        test::write_bytes(d / "t.nii", b.substr(0, b.size() - 10));
        gzip_file(d / "t.nii", d / "t.nii.gz");
        CHECK_THROWS_WITH(read_nifti(d / "t.nii.gz"), Contains("t.nii.gz: truncated NIfTI voxel data: 38 of 48 bytes"));
        test::write_bytes(d / "bad.nii.gz", std::string("\x1f\x8b\x08\x00garbage-not-deflate", 22));
        CHECK_THROWS_WITH(read_nifti(d / "bad.nii.gz"), Contains("bad.nii.gz"));
    }
    SECTION("non-finite voxels and size limit") {
        test::RawNifti f = good;
        f.datatype = 16;
        f.bitpix = 32;
        std::vector<float> vals(24, 1.f);
        vals[5] = std::nanf("");
        f.set_values<float>(vals);
        test::write_bytes(d / "nan.nii", f.bytes());
        CHECK_THROWS_WITH(read_nifti(d / "nan.nii"), Contains("nan.nii: 1 voxels are NaN or infinite"));
        NiftiReadOptions small;
        small.max_bytes = 10;
        CHECK_THROWS_WITH(read_nifti(d / "good.nii", small), Contains("exceeds the limit"));
    }
}

TEST_CASE("nifti: the writer refuses values that do not fit and bad names, leaving no file", "[io][nifti][errors]") {
    test::TempDir d;
    Volume v = ramp_volume(2, 2, 2);
    v.voxels.data()[3] = 40000.f;
    CHECK_THROWS_WITH(write_nifti(d / "big.nii", v), Contains("big.nii: value 40000") && Contains("16-bit"));
    CHECK_FALSE(std::filesystem::exists(d / "big.nii"));
    CHECK(std::distance(std::filesystem::directory_iterator(d.path()), std::filesystem::directory_iterator{}) == 0);
    CHECK_THROWS_WITH(write_nifti(d / "x.img", ramp_volume(2, 2, 2)), Contains("must end in .nii"));
    Volume n = ramp_volume(2, 2, 2);
    n.voxels.data()[0] = std::nanf("");
    NiftiWriteOptions f32;
    f32.dtype = NiftiDtype::float32;
    CHECK_THROWS_WITH(write_nifti(d / "nan.nii", n, f32), Contains("non-finite"));
    CHECK_THROWS_WITH(write_nifti(d / "nodir/x.nii", ramp_volume(2, 2, 2)), Contains("nodir/x.nii"));
}

TEST_CASE("volume: display transform puts anterior at the top, from the affine only", "[io][nifti]") {
    Affine lps_like;  // DICOM axial converted to RAS: i -> left, j -> posterior
    lps_like(0, 0) = -0.5;
    lps_like(1, 1) = -0.5;
    DisplayTransform t = display_transform(lps_like);
    CHECK_FALSE(t.transpose);
    CHECK_FALSE(t.flip_rows);
    CHECK_FALSE(t.flip_cols);
    Affine ras = Affine::diagonal(0.5, 0.5, 5);
    t = display_transform(ras);
    CHECK(t.flip_rows);  // j increases anteriorly: row 0 is posterior
    CHECK(t.flip_cols);
    Affine swapped;  // i runs anterior-posterior (the PhysioNet x/y layout seen through nibabel)
    swapped(0, 0) = 0;
    swapped(1, 0) = 0.5;
    swapped(0, 1) = 0.5;
    swapped(1, 1) = 0;
    t = display_transform(swapped);
    CHECK(t.transpose);
    CHECK(axis_codes(swapped) == "ARS");
}
