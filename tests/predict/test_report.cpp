// Report definitions (predict/report.hpp): volume in mL, slices involved, largest axial extent, per-slice rows.
// Values are checked against hand computations and brute force; the phantom test feeds a ground-truth mask
// through the same reporting path the program uses.
#include <catch2/catch.hpp>

#include <cmath>

#include "ichseg/predict/report.hpp"
#include "predict/predict_test_util.hpp"

// GCC 12 at -O3 reports "writing 1 byte into a region of size 0" for the mask writes below (it loses the
// tensor's allocation size through the inlined storage); every index written is inside the mask.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

using namespace ichseg;

namespace {

io::Mask box_mask(int64_t nz, int64_t ny, int64_t nx, std::array<double, 3> sp) {
    return io::Mask::zeros(nz, ny, nx, sp);
}

/// Brute force: largest centre distance between two foreground pixels of slice k, through the affine.
double brute_extent(const io::Mask& m, int64_t k) {
    std::vector<std::array<double, 3>> pts;
    for (int64_t j = 0; j < m.ny(); ++j)
        for (int64_t i = 0; i < m.nx(); ++i)
            if (m.slice(k)[j * m.nx() + i]) pts.push_back(m.affine.apply(double(i), double(j), double(k)));
    double best = 0;
    for (size_t a = 0; a < pts.size(); ++a)
        for (size_t b = a + 1; b < pts.size(); ++b) {
            double d = 0;
            for (int r = 0; r < 3; ++r) d += (pts[a][r] - pts[b][r]) * (pts[a][r] - pts[b][r]);
            best = std::max(best, std::sqrt(d));
        }
    return best;
}

}  // namespace

TEST_CASE("report: volume is voxel count times voxel volume, slices and extent by hand", "[predict][report]") {
    io::Mask m = box_mask(6, 10, 12, {0.5, 0.75, 5.0});
    // A 3 x 4 block on slices 1 and 2, one pixel on slice 4.
    for (int64_t k : {1, 2})
        for (int64_t j = 2; j < 6; ++j)
            for (int64_t i = 3; i < 6; ++i) m.voxels.data()[(k * 10 + j) * 12 + i] = 1;
    m.voxels.data()[(4 * 10 + 7) * 12 + 9] = 1;
    const std::vector<float> pmax{0.1f, 0.9f, 0.8f, 0.2f, 0.6f, 0.0f};
    const predict::Report r = predict::compute_report(m, &pmax, "box");
    const double vv = 0.5 * 0.75 * 5.0;  // mm^3
    CHECK(r.voxels == 25);
    CHECK(r.voxel_volume_mm3 == Approx(vv).epsilon(1e-15));
    CHECK(r.volume_ml == Approx(25 * vv / 1000).epsilon(1e-15));
    CHECK(r.slices_involved == 3);
    // Block corners (3,2) .. (5,5): dx = 2 * 0.5 mm, dy = 3 * 0.75 mm.
    const double ext = std::sqrt(1.0 * 1.0 + 2.25 * 2.25);
    CHECK(r.largest_axial_extent_mm == Approx(ext).epsilon(1e-12));
    CHECK(r.largest_axial_extent_slice == 1);  // the first of the two equal slices
    CHECK(r.slices[4].extent_mm == 0.0);       // one pixel: centre to itself
    CHECK(r.slices[1].area_mm2 == Approx(12 * 0.5 * 0.75).epsilon(1e-15));
    CHECK(r.slices[3].voxels == 0);
    CHECK(r.slices[2].max_probability == 0.8f);
    CHECK(r.max_probability == Approx(0.9).epsilon(1e-7));
    CHECK(r.slices[2].z_mm == Approx(10.0).epsilon(1e-15));  // diagonal affine: z = 5 mm * k
    CHECK(r.case_id == "box");

    const nlohmann::json j = predict::report_json(r);
    CHECK(j["hemorrhage_volume_ml"].get<double>() == Approx(r.volume_ml).epsilon(1e-15));
    CHECK(j["slices"].size() == 6);
    CHECK(j["slices"][3]["max_probability"].get<double>() == Approx(0.2).epsilon(1e-7));
    const std::string csv = predict::slices_csv(r);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 7);  // header + 6 slices
    CHECK(csv.find("\n1,5,12,4.5,") != std::string::npos);

    // Without probabilities: -1 / null.
    const predict::Report r2 = predict::compute_report(m);
    CHECK(r2.max_probability == -1);
    CHECK(predict::report_json(r2)["max_probability"].is_null());
}

TEST_CASE("report: a sheared affine uses the determinant, not the spacing product", "[predict][report]") {
    io::Mask m = box_mask(4, 8, 8, {1, 1, 1});
    // Gantry tilt of 20 degrees: the k column leans in y; slices stay 5 mm apart along z.
    const double t = 20.0 * M_PI / 180.0;
    m.affine(0, 0) = 0.5;
    m.affine(1, 1) = 0.5;
    m.affine(1, 2) = 5.0 * std::tan(t);
    m.affine(2, 2) = 5.0;
    for (int64_t i = 0; i < 10; ++i) m.voxels.data()[i] = 1;
    const predict::Report r = predict::compute_report(m);
    CHECK(r.voxel_volume_mm3 == Approx(0.5 * 0.5 * 5.0).epsilon(1e-12));  // parallelepiped: base x height
    const auto sp = m.affine.spacing();
    CHECK(sp[0] * sp[1] * sp[2] == Approx(0.25 * 5.0 / std::cos(t)).epsilon(1e-12));  // what a spacing product gives
    CHECK(r.volume_ml == Approx(10 * 1.25 / 1000).epsilon(1e-12));
    // A singular affine is an error, not a zero volume.
    io::Mask bad = m;
    bad.affine(2, 2) = 0;
    bad.affine(1, 2) = 0;
    CHECK_THROWS_WITH(predict::compute_report(bad), Catch::Contains("singular"));
}

TEST_CASE("report: largest extent equals the brute-force diameter on random masks and affines", "[predict][report]") {
    Generator gen(21);
    for (int trial = 0; trial < 20; ++trial) {
        io::Mask m = box_mask(2, 17, 23, {1, 1, 1});
        // Anisotropic, rotated, sheared in-plane affine.
        const double a = gen.uniform(0, 3.14159f), sx = gen.uniform(0.3f, 1.2f), sy = gen.uniform(0.3f, 1.2f);
        m.affine(0, 0) = sx * std::cos(a);
        m.affine(1, 0) = sx * std::sin(a);
        m.affine(0, 1) = -sy * std::sin(a) + 0.1 * trial / 20.0;
        m.affine(1, 1) = sy * std::cos(a);
        m.affine(2, 2) = 3.0;
        const float fill = gen.uniform(0.02f, 0.6f);
        for (int64_t i = 0; i < m.voxels.numel(); ++i) m.voxels.data()[i] = gen.uniform() < fill ? 1 : 0;
        const predict::Report r = predict::compute_report(m);
        for (int64_t k = 0; k < 2; ++k)
            CHECK(r.slices[static_cast<size_t>(k)].extent_mm == Approx(brute_extent(m, k)).epsilon(1e-12));
    }
}

TEST_CASE("report: phantom ground truth volume equals the voxel count times the voxel spacing", "[predict][report]") {
    const data::Phantom ph = test::ich_phantom(3, 64, 10);
    int64_t count = 0, slices = 0;
    for (int64_t k = 0; k < ph.ich.nz(); ++k) {
        int64_t c = 0;
        for (int64_t i = 0; i < ph.ich.slice_size(); ++i) c += ph.ich.slice(k)[i] ? 1 : 0;
        count += c;
        slices += c > 0;
    }
    REQUIRE(count > 0);
    const predict::Report r = predict::compute_report(ph.ich);
    // Independent computation from the phantom's spacing (its affine is orthogonal: no tilt requested).
    const double expect_ml = double(count) * ph.ich.spacing[0] * ph.ich.spacing[1] * ph.ich.spacing[2] / 1000.0;
    CHECK(r.voxels == count);
    CHECK(r.slices_involved == slices);
    // Relative 1e-12: the determinant and the spacing product of an orthogonal affine agree to rounding.
    CHECK(r.volume_ml == Approx(expect_ml).epsilon(1e-12));
    CHECK(r.largest_axial_extent_mm > 0);
}

TEST_CASE("report: summary CSV rows quote fields and leave numbers empty for failures", "[predict][report]") {
    predict::Report r;
    r.case_id = "a,b";
    const std::string row = predict::summary_csv_row(r, "error", "in \"x\"", "", "bad, file");
    CHECK(row == "\"a,b\",error,,,,,,,,,,,,,\"in \"\"x\"\"\",,\"bad, file\"\n");
    const std::string header = predict::summary_csv_header();
    CHECK(std::count(header.begin(), header.end(), ',') == std::count(row.begin(), row.end(), ',') - 2);  // two quoted commas
}
