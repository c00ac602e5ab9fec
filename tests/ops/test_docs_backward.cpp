/// @file test_docs_backward.cpp
/// @brief docs/ops.md says, for every differentiable op, the one file and line where its backward formula lives
/// (the tape node the op records). This test keeps that table true: each row's line must record a node of that
/// name, and every node recorded in include/ichseg/ops/ must have a row.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace test_docs_backward {

const std::string kRoot = std::string(ICHSEG_TEST_DATA_DIR) + "/../..";

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream f(path);
    INFO(path);
    REQUIRE(f.good());
    std::vector<std::string> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    return lines;
}

TEST_CASE("docs/ops.md gives the file and line of every op's backward formula, and they are right", "[ops][docs]") {
    // Rows of the form  | `name` | `include/ichseg/<folder>/<file>.hpp:<line>` |
    const std::regex row(R"(^\| `([a-z0-9_]+)` \| `(include/ichseg/[a-z_]+/[a-z0-9_]+\.hpp):([0-9]+)` \|)");
    std::map<std::string, std::string> documented;  // op name -> "file:line"
    for (const std::string& l : read_lines(kRoot + "/docs/ops.md")) {
        std::smatch m;
        if (!std::regex_search(l, m, row)) continue;
        const std::string name = m[1], file = m[2];
        const size_t line = std::stoul(m[3]);
        INFO("docs/ops.md row for " << name << ": " << file << ":" << line);
        const std::vector<std::string> src = read_lines(kRoot + "/" + file);
        REQUIRE(line >= 1);
        REQUIRE(line <= src.size());
        const std::string& code = src[line - 1];
        INFO("that line reads: " << code);
        CHECK(code.find("record") != std::string::npos);
        CHECK(code.find("(\"" + name + "\"") != std::string::npos);
        documented[name] = file + ":" + std::to_string(line);
    }
    REQUIRE(!documented.empty());
    // Every node an op records has a row.
    const std::regex rec(R"(record<T>\("([a-z0-9_]+)\")");
    for (const auto& e : std::filesystem::directory_iterator(kRoot + "/include/ichseg/ops")) {
        const std::vector<std::string> src = read_lines(e.path().string());
        for (size_t i = 0; i < src.size(); ++i) {
            std::smatch m;
            if (!std::regex_search(src[i], m, rec)) continue;
            INFO(e.path().filename().string() << ":" << i + 1 << " records '" << m[1] << "'");
            CHECK(documented.count(m[1]) == 1);
        }
    }
}

}  // namespace test_docs_backward
