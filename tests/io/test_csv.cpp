// CSV parsing and the label files of the four layouts (parsers only; trees are in test_datasets.cpp).
#include <catch2/catch.hpp>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/cq500.hpp"
#include "ichseg/io/datasets/physionet.hpp"
#include "ichseg/io/datasets/rsna.hpp"
#include "io_test_util.hpp"

using namespace ichseg;
using namespace ichseg::io;
using Catch::Matchers::Contains;

TEST_CASE("csv: RFC-4180 quoting, embedded newlines, CRLF, BOM and blank lines", "[io][csv]") {
    const std::string text = "\xEF\xBB\xBF" "a,\"b,1\",\"say \"\"hi\"\"\"\r\n"
                             "\r\n"
                             "x,\"two\nlines\",\n"
                             "last,,\"\"";
    const CsvTable t = parse_csv(text, "t.csv");
    REQUIRE(t.rows.size() == 3);
    CHECK(t.rows[0] == std::vector<std::string>{"a", "b,1", "say \"hi\""});
    CHECK(t.rows[1] == std::vector<std::string>{"x", "two\nlines", ""});
    CHECK(t.rows[2] == std::vector<std::string>{"last", "", ""});
    CHECK(t.lines[0] == 1);
    CHECK(t.lines[1] == 3);
    CHECK(t.lines[2] == 5);  // the quoted newline advanced the line count
}

TEST_CASE("csv: malformed input is an error naming the file and line", "[io][csv]") {
    CHECK_THROWS_WITH(parse_csv("a,b\n\"open,c\n", "f.csv"), Contains("f.csv") && Contains("line 2") && Contains("not closed"));
    CHECK_THROWS_WITH(parse_csv("a,b\nx\"y,z\n", "g.csv"), Contains("g.csv: line 2") && Contains("stray quote"));
    CHECK_THROWS_WITH(parse_csv("\"a\"b,c\n", "h.csv"), Contains("h.csv: line 1") && Contains("after a closing quote"));
    test::TempDir d;
    CHECK_THROWS_WITH(read_csv(d / "missing.csv"), Contains("missing.csv") && Contains("cannot open"));
}

TEST_CASE("csv: strict cell parsers", "[io][csv]") {
    CHECK(parse_label_cell("1", "f", 3, "c") == 1);
    CHECK(parse_label_cell(" 0 ", "f", 3, "c") == 0);
    CHECK(parse_label_cell("1.0", "f", 3, "c") == 1);
    CHECK(parse_label_cell("", "f", 3, "c", true) == 0);
    CHECK_THROWS_WITH(parse_label_cell("2", "f", 3, "Epidural"), Contains("f: line 3") && Contains("Epidural"));
    CHECK_THROWS_WITH(parse_label_cell("", "f", 3, "c"), Contains("0/1"));
    CHECK_THROWS_WITH(parse_label_cell("yes", "f", 3, "c"), Contains("'yes'"));
    CHECK_THROWS_WITH(parse_int_cell("1.5", "f", 9, "SliceNumber"), Contains("line 9") && Contains("integer"));
    CHECK_THROWS_WITH(require_column({"a", "b"}, "c", "f.csv"), Contains("f.csv: missing column 'c'") && Contains("'a', 'b'"));
    CHECK(find_column({"  PatientNumber ", "x"}, "patientnumber") == 0);
}

TEST_CASE("physionet diagnosis CSV: rows grouped per patient, bad patients set aside", "[io][csv][physionet]") {
    const std::string h = "PatientNumber,SliceNumber,Intraventricular,Intraparenchymal,Subarachnoid,Epidural,Subdural,"
                          "No_Hemorrhage,Fracture_Yes_No\n";
    const std::string text = h +
                             "49,2,0,1,0,0,0,0,0\n"   // out of order on purpose
                             "49,1,0,0,0,0,0,1,0\n"
                             "50,1,0,0,0,0,0,1.0,0\n"
                             "51,1,0,0,0,0,0,1,0\n"
                             "51,1,0,0,0,0,0,1,0\n"   // duplicate
                             "52,1,0,0,0,0,0,1,0\n"
                             "52,3,0,0,0,0,0,1,0\n"   // slice 2 missing
                             "53,1,0,7,0,0,0,1,0\n"   // bad label
                             "54,1,0,0\n"             // short row
                             "abc,1,0,0,0,0,0,1,0\n"; // no patient number
    const PhysioNetDiagnosis d = parse_physionet_diagnosis(text, "diag.csv");
    REQUIRE(d.patients.size() == 2);
    const auto& p49 = d.patients.at(49);
    REQUIRE(p49.size() == 2);
    CHECK(p49[0].slice == 1);
    CHECK(p49[0].labels.any == 0);
    CHECK(p49[1].labels.any == 1);
    CHECK(p49[1].labels[IchSubtype::IPH] == 1);
    CHECK(d.patients.at(50)[0].labels.any == 0);
    CHECK_THAT(d.bad_patients.at(51), Contains("duplicate row"));
    CHECK_THAT(d.bad_patients.at(52), Contains("slice 2 has no row"));
    CHECK_THAT(d.bad_patients.at(53), Contains("Intraparenchymal"));
    CHECK_THAT(d.bad_patients.at(54), Contains("fields"));
    REQUIRE(d.bad_rows.size() == 1);
    CHECK_THAT(d.bad_rows[0].path, Contains("diag.csv:11"));
    CHECK_THROWS_WITH(parse_physionet_diagnosis("PatientNumber,SliceNumber\n1,1\n", "d.csv"),
                      Contains("d.csv: missing column 'Intraventricular'"));
    CHECK_THROWS_WITH(parse_physionet_diagnosis("", "e.csv"), Contains("e.csv: empty file"));
}

TEST_CASE("physionet diagnosis CSV: a row shorter than the PatientNumber column is a bad row (fuzz regression)", "[io][csv][physionet]") {
    // PatientNumber is the third column here; the row "7" has one field. Reading f[2] of it was a
    // heap-use-after-free (the record vector keeps destroyed strings past size()), found by tools/fuzz.sh.
    const std::string text = "name,Category,PatientNumber,SliceNumber,Intraventricular,Intraparenchymal,Subarachnoid,"
                             "Epidural,Subdural,No_Hemorrhage\n"
                             "a,b,98,1,0,0,0,0,0,1\n"
                             "7\n";
    const PhysioNetDiagnosis d = parse_physionet_diagnosis(text, "short.csv");
    CHECK(d.patients.size() == 1);
    REQUIRE(d.bad_rows.size() == 1);
    CHECK_THAT(d.bad_rows[0].path, Contains("short.csv:3"));
    CHECK_THAT(d.bad_rows[0].reason, Contains("no valid PatientNumber ('7')"));
}

TEST_CASE("physionet demographics: two header rows, multi-line cell, footers", "[io][csv][physionet]") {
    const std::string text =
        "Patient Number,\"Age\n(years)\",Gender,Hemorrhage type based on the radiologists diagnosis ,,,,,"
        "Fracture (yes 1/no 0),Note1\n"
        ",,,Intraventricular,Intraparenchymal,Subarachnoid,Epidural,Subdural,,\n"
        "49,35,Male,,1,,,,0,\"note, with comma\"\n"
        "50,61,Female,1,,,,1,1,\n"
        "51,40,Male,,x,,,,0,\n"
        ",,,,,,,,,\n"
        "\"Total\",,,,,,,,,\n";
    test::LogCapture cap;
    const auto m = parse_physionet_demographics(text, "demo.csv");
    REQUIRE(m.size() == 2);
    CHECK(m.at(49).age == 35);
    CHECK(m.at(49).gender == "Male");
    CHECK(m.at(49).labels.any == 1);
    CHECK(m.at(49).labels[IchSubtype::IPH] == 1);
    CHECK(m.at(49).labels[IchSubtype::IVH] == 0);
    CHECK(m.at(49).note == "note, with comma");
    CHECK(m.at(50).labels[IchSubtype::IVH] == 1);
    CHECK(m.at(50).labels[IchSubtype::SDH] == 1);
    CHECK(m.at(50).fracture == 1);
    CHECK(cap.contains("patient 51: malformed label cell"));
    CHECK_THROWS_WITH(parse_physionet_demographics("only one row\n", "d.csv"), Contains("two header rows"));
}

TEST_CASE("physionet demographics: subtype columns beyond a short row are not read (fuzz regression)", "[io][csv][physionet]") {
    // the second header row names "Subdural" in column 12; a 10-field patient row must be ignored, not overrun
    const std::string text = "a,b,c,d,e,f,g,h,i,j\n"
                             ",,,,,,,,,,,,Subdural\n"
                             "49,35,Male,,1,,,,0,\n";
    test::LogCapture cap;
    const auto m = parse_physionet_demographics(text, "demo.csv");
    CHECK(m.empty());
    CHECK(cap.contains("patient 49 row has 10 fields (expected 13)"));
}

TEST_CASE("rsna labels: long format, duplicates, conflicts, unknown types, incomplete images", "[io][csv][rsna]") {
    std::string text = "ID,Label\n";
    const char* types[6] = {"epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural", "any"};
    auto add = [&](const std::string& id, const int (&v)[6]) {
        for (int t = 0; t < 6; ++t) text += id + "_" + types[t] + "," + std::to_string(v[t]) + "\n";
    };
    add("ID_000000001", {0, 1, 0, 0, 0, 1});
    add("ID_000000002", {0, 0, 0, 0, 0, 0});
    text += "ID_000000002_any,0\n";           // identical duplicate: tolerated
    add("ID_000000003", {0, 0, 0, 0, 0, 0});
    text += "ID_000000003_any,1\n";           // conflicting duplicate
    text += "ID_000000004_epidural,0\n";      // incomplete image
    text += "ID_000000005_foo,1\n";           // unknown type
    text += "ID_000000006_any,2\n";           // bad label
    text += "garbage,1\n";                    // bad ID
    add("ID_000000007", {1, 0, 0, 0, 0, 0});  // subtype without any
    const RsnaLabels r = parse_rsna_labels(text, "labels.csv");
    REQUIRE(r.images.size() == 2);
    CHECK(r.images.at("ID_000000001").any == 1);
    CHECK(r.images.at("ID_000000001")[IchSubtype::IPH] == 1);
    CHECK(r.images.at("ID_000000002").any == 0);
    CHECK(r.duplicate_rows == 1);
    auto reason = [&](const std::string& key) {
        for (const auto& b : r.bad)
            if (b.path.find(key) != std::string::npos) return b.reason;
        return std::string("<none>");
    };
    CHECK_THAT(reason("ID_000000003"), Contains("conflicting"));
    CHECK_THAT(reason("ID_000000004"), Contains("incomplete"));
    CHECK_THAT(reason("labels.csv:" + std::to_string(2 + 18 + 1 + 1 + 1)), Contains("unknown label type 'foo'"));
    CHECK_THAT(reason("ID_000000007"), Contains("'any' is 0"));
    bool saw_bad_id = false, saw_bad_label = false;
    for (const auto& b : r.bad) {
        saw_bad_id = saw_bad_id || b.reason.find("'garbage'") != std::string::npos;
        saw_bad_label = saw_bad_label || b.reason.find("label '2'") != std::string::npos;
    }
    CHECK(saw_bad_id);
    CHECK(saw_bad_label);
    CHECK_THROWS_WITH(parse_rsna_labels("", "x.csv"), Contains("x.csv: empty file"));
}

TEST_CASE("cq500 reads.csv: exact header, 3-reader majority, name normalisation", "[io][csv][cq500]") {
    std::string h = "name,Category";
    const char* f[6] = {"ICH", "IPH", "IVH", "SDH", "EDH", "SAH"};
    for (int r = 1; r <= 3; ++r)
        for (const char* x : f) h += ",R" + std::to_string(r) + ":" + x;
    const std::string text = h + "\n"
                                 "CQ500-CT-7,B1,1,1,0,0,0,0, 1,0,0,0,0,1, 0,1,0,0,0,1\n"
                                 "CQ500-CT-8,B2,0,0,0,0,0,0, 0,0,0,0,0,0, 1,0,0,0,0,0\n"
                                 "bogus,B2,0,0,0,0,0,0, 0,0,0,0,0,0, 1,0,0,0,0,0\n"
                                 "CQ500-CT-9,B2,0,0,0\n";
    std::vector<Skipped> bad;
    const auto m = parse_cq500_reads(text, "reads.csv", &bad);
    REQUIRE(m.size() == 2);
    const IchLabels l7 = m.at(7).majority();
    CHECK(l7.any == 1);
    CHECK(l7[IchSubtype::IPH] == 1);
    CHECK(l7[IchSubtype::SAH] == 1);
    CHECK(l7[IchSubtype::SDH] == 0);
    CHECK(m.at(8).majority().any == 0);
    CHECK(m.at(7).category == "B1");
    REQUIRE(bad.size() == 2);
    CHECK_THAT(bad[0].reason, Contains("'bogus'"));
    CHECK_THAT(bad[1].reason, Contains("fields"));
    CHECK(cq500_number("CQ500-CT-12") == 12);
    CHECK(cq500_number("CQ500CT12 CQ500CT12") == 12);
    CHECK(cq500_number("Unknown Study") == -1);
    CHECK(cq500_number("CQ500CT") == -1);
    CHECK_THROWS_WITH(parse_cq500_reads("name,Category\nCQ500-CT-1,B1\n", "r.csv"), Contains("r.csv: missing column 'R1:ICH'"));
}
