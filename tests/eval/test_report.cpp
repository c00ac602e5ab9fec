/// @file test_report.cpp (tests)
/// @brief Result files: per-volume CSV, nnU-Net-style summary.json, the Table 3 Markdown layout (values by
/// hand), p-value CSV; all written through the atomic writer.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "eval_test_util.hpp"
#include "ichseg/eval/report.hpp"
#include "support/errors.hpp"

using namespace ichseg;
using namespace ichseg::eval;

namespace {
/// Three volumes with hand-checkable metrics:
///   "049": ICH (IPH, SDH), TP 4 FP 2 FN 1 -> Dice 9/12 = 0.75, Prec 5/7, Rec 5/6
///   "050": ICH (EDH),      TP 1 FP 1 FN 2 -> Dice 3/6 = 0.5,  Prec 2/3, Rec 2/4
///   "051": no ICH,         TP 0 FP 3 FN 0 -> Dice 1/4,        Prec 1/4, Rec 1
MethodResults three_volumes(const std::string& name = "U-Net, mixed") {
    MethodResults r{name, {}};
    VolumeResult a, b, c;
    a.case_id = "049", a.fold = 0, a.has_ich = true, a.subtypes = IPH | SDH, a.n_slices = 30, a.counts = {4, 2, 1, 90};
    b.case_id = "050", b.fold = 1, b.has_ich = true, b.subtypes = EDH, b.n_slices = 28, b.counts = {1, 1, 2, 80};
    c.case_id = "051", c.fold = 1, c.has_ich = false, c.n_slices = 31, c.counts = {0, 3, 0, 70};
    r.volumes = {a, b, c};
    return r;
}
}  // namespace

TEST_CASE("per-volume CSV", "[eval][report]") {
    const std::string path = test::eval_output_dir("report_csv") + "/volumes.csv";
    write_volume_csv(path, three_volumes());
    std::istringstream is(test::read_file(path));
    std::string header, row1, row2, row3;
    std::getline(is, header);
    std::getline(is, row1);
    std::getline(is, row2);
    std::getline(is, row3);
    CHECK(header == "method,case_id,fold,has_ich,EDH,IPH,IVH,SAH,SDH,n_slices,TP,FP,FN,TN,Dice,Precision,Recall");
    // the method name holds a comma, so it is quoted; 0.75 and 0.5 print exactly with %.17g
    CHECK(row1.rfind("\"U-Net, mixed\",049,0,1,0,1,0,0,1,30,4,2,1,90,0.75,", 0) == 0);
    CHECK(row2.rfind("\"U-Net, mixed\",050,1,1,1,0,0,0,0,28,1,1,2,80,0.5,", 0) == 0);
    CHECK(row3.rfind("\"U-Net, mixed\",051,1,0,0,0,0,0,0,31,0,3,0,70,0.25,0.25,1", 0) == 0);
    // values printed with 17 significant digits read back to the same double
    const std::string prec = row1.substr(row1.rfind(',', row1.rfind(',') - 1) + 1);
    CHECK(std::stod(prec.substr(0, prec.find(','))) == 5.0 / 7.0);
}

TEST_CASE("summary.json in nnU-Net's layout with the paper's metrics", "[eval][report]") {
    const std::string path = test::eval_output_dir("report_summary") + "/summary.json";
    SummaryOptions opt;
    opt.dataset = "synthetic";
    write_summary_json(path, three_volumes(), opt);
    const auto j = nlohmann::json::parse(test::read_file(path));
    REQUIRE(j["metric_per_case"].size() == 3);
    const auto& c0 = j["metric_per_case"][0];
    CHECK(c0["case_id"] == "049");
    CHECK(c0["subtypes"] == nlohmann::json({"IPH", "SDH"}));
    CHECK(c0["metrics"]["1"]["Dice"].get<double>() == 0.75);
    CHECK(c0["metrics"]["1"]["TP"].get<int64_t>() == 4);
    CHECK(c0["metrics"]["1"]["n_ref"].get<int64_t>() == 5);
    CHECK(c0["metrics"]["1"]["n_pred"].get<int64_t>() == 6);
    CHECK(c0["metrics"]["1"]["IoU"].get<double>() == 5.0 / 8.0);  // (4+1)/(4+2+1+1), exact
    // mean Dice over the 3 cases = (0.75 + 0.5 + 0.25)/3 = 0.5; a sum of exact binary fractions: exact
    CHECK(j["mean"]["1"]["Dice"].get<double>() == 0.5);
    CHECK(j["foreground_mean"]["Dice"].get<double>() == 0.5);
    const auto& ich = j["ichseg"]["subsets"]["ich"]["Dice"];
    CHECK(ich["n"] == 2);
    CHECK(ich["mean"].get<double>() == 0.625);
    CHECK(ich["sd"].get<double>() == Approx(0.25 / std::sqrt(2.0)).epsilon(1e-14));  // two roundings
    CHECK(j["ichseg"]["subsets"]["EDH"]["Dice"]["n"] == 1);
    CHECK(j["ichseg"]["subsets"]["EDH"]["Dice"]["sd"].is_null());  // NaN (one value) is written as null
    CHECK(j["ichseg"]["epsilon"] == 1.0);
    CHECK(j["ichseg"]["sd_ddof"] == 1);
    opt.prediction_files = {"a"};
    ICHSEG_REQUIRE_ERROR(summary_json(three_volumes(), opt), {"1 prediction files for 3 volumes"});
}

TEST_CASE("Table 3 Markdown: SPEC layout with hand-computed values", "[eval][report]") {
    const auto m = three_volumes("U-Net 2D mixed");
    // Seg-CQ500 stand-in: the two ICH volumes only
    std::vector<VolumeResult> cq(m.volumes.begin(), m.volumes.begin() + 2);
    std::vector<Table3Row> rows{make_table3_row("U-Net 2D mixed", &m.volumes, &cq),
                                make_table3_row("U-Net 2D ICH-only", &m.volumes, nullptr)};
    const std::string md = table3_markdown(rows);
    // all volumes: Dice mean 0.5, sd = sqrt(((0.25)^2 + 0 + (0.25)^2)/2) = 0.25 -> "50.00 ± 25.00"
    // ICH volumes: Dice 62.50 ± 17.68 (0.25/sqrt 2 = 0.1767767), Prec (5/7 + 2/3)/2 = 69.05, Rec (5/6+1/2)/2 = 66.67
    const std::string row1 =
        "| U-Net 2D mixed | **50.00** ± 25.00 | **62.50** ± 17.68 | **69.05** | **66.67** | **62.50** ± 17.68 | "
        "**69.05** | **66.67** |";
    const std::string row2 = "| U-Net 2D ICH-only | **50.00** ± 25.00 | **62.50** ± 17.68 | **69.05** | **66.67** | – | – | – |";
    INFO(md);
    CHECK(md.find("| Method | Hssayeni all: Dice [%] | ICH vols: Dice [%] | ICH vols: Prec [%] | ICH vols: Rec [%] | "
                  "Seg-CQ500: Dice [%] | Seg-CQ500: Prec [%] | Seg-CQ500: Rec [%] |") != std::string::npos);
    CHECK(md.find(row1) != std::string::npos);
    CHECK(md.find(row2) != std::string::npos);
    CHECK(md.find("Hssayeni all n = 3, Hssayeni ICH n = 2, Seg-CQ500 n = 2") != std::string::npos);
    // the full layout has nine "mean ± sd" columns
    const std::string full = table3_markdown(rows, Table3Layout::full);
    CHECK(full.find("| Hssayeni ICH vols: Precision [%] |") != std::string::npos);
    CHECK(full.find("**69.05** ± ") != std::string::npos);
    const std::string path = test::eval_output_dir("report_table3") + "/table3.md";
    write_table3_markdown(path, rows);
    CHECK(test::read_file(path) == md);
    // no leftover temporary files from the atomic writes (a folder of its own: ctest runs test cases in parallel)
    for (const auto& e : std::filesystem::directory_iterator(test::eval_output_dir("report_table3")))
        CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("p-value matrix CSV", "[eval][report]") {
    const PairwiseTests t = pairwise_welch({"A", "B,1"}, {{0.1, 0.2, 0.3}, {0.5, 0.6, 0.8}});
    const std::string csv = pvalue_csv(t);
    CHECK(csv.rfind("method,A,\"B,1\"\nA,1,", 0) == 0);
    const std::string path = test::eval_output_dir("report_pvalues") + "/pvalues_dice.csv";
    write_pvalue_csv(path, t);
    CHECK(test::read_file(path) == csv);
}
