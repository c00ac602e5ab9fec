/// @file cq500_reads.hpp
/// @brief CQ500's reads.csv (datasets.md §1c): `name` (CQ500-CT-<n>), `Category`, then for each of three readers
/// R1: / R2: / R3: the findings ICH, IPH, IVH, SDH, EDH, SAH (0/1) and eight more columns. The usual ground truth
/// is the majority (>= 2 of 3). Used by the CQ500 reader and by the Seg-CQ500 reader (subtypes of its cases).
#pragma once

#include <array>
#include <cctype>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/common.hpp"

namespace ichseg::io {

/// One row of reads.csv.
struct Cq500Reads {
    int64_t number = -1;  ///< <n> of CQ500-CT-<n>
    std::string name, category;
    /// reader (0..2) x finding: ICH, IPH, IVH, SDH, EDH, SAH (0/1)
    std::array<std::array<int, 6>, 3> reads{};
    /// Majority (>= 2 of 3) labels.
    IchLabels majority() const {
        IchLabels l;
        auto maj = [&](int f) -> int8_t { return (reads[0][static_cast<size_t>(f)] + reads[1][static_cast<size_t>(f)] + reads[2][static_cast<size_t>(f)]) >= 2 ? 1 : 0; };
        l.any = maj(0);
        l[IchSubtype::IPH] = maj(1);
        l[IchSubtype::IVH] = maj(2);
        l[IchSubtype::SDH] = maj(3);
        l[IchSubtype::EDH] = maj(4);
        l[IchSubtype::SAH] = maj(5);
        return l;
    }
};

/// "CQ500-CT-12", "CQ500CT12", "CQ500CT12 CQ500CT12" -> 12; -1 if the text is not a CQ500 name.
inline int64_t cq500_number(std::string_view s) {
    s = trim(s);
    std::string u;
    for (char c : s)
        if (c != '-' && c != '_') u.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (u.compare(0, 7, "CQ500CT") != 0) return -1;
    size_t i = 7, b = 7;
    while (i < u.size() && std::isdigit(static_cast<unsigned char>(u[i]))) ++i;
    if (i == b || i - b > 9) return -1;
    return std::stoll(u.substr(b, i - b));
}

/// Parse reads.csv; rows that cannot be used are returned in `bad` (the rest are kept).
inline std::map<int64_t, Cq500Reads> parse_cq500_reads(std::string_view text, const std::string& source,
                                                       std::vector<Skipped>* bad = nullptr) {
    std::map<int64_t, Cq500Reads> out;
    std::vector<std::string> header;
    int64_t c_name = -1, c_cat = -1;
    int64_t cols[3][6];
    const char* findings[6] = {"ICH", "IPH", "IVH", "SDH", "EDH", "SAH"};
    for_each_csv_record(text, source, [&](const std::vector<std::string>& f, int64_t line) {
        if (header.empty()) {
            header = f;
            c_name = require_column(header, "name", source);
            c_cat = find_column(header, "Category");
            for (int r = 0; r < 3; ++r)
                for (int k = 0; k < 6; ++k)
                    cols[r][k] = require_column(header, "R" + std::to_string(r + 1) + ":" + findings[k], source);
            return;
        }
        const std::string where = source + ":" + std::to_string(line);
        try {
            if (static_cast<int64_t>(f.size()) < static_cast<int64_t>(header.size()))
                fail(source, ": line ", line, ": ", f.size(), " fields, the header has ", header.size());
            Cq500Reads r;
            r.name = std::string(trim(f[static_cast<size_t>(c_name)]));
            r.number = cq500_number(r.name);
            if (r.number < 0) fail(source, ": line ", line, ": name '", r.name, "' is not CQ500-CT-<n>");
            if (c_cat >= 0) r.category = std::string(trim(f[static_cast<size_t>(c_cat)]));
            for (int rd = 0; rd < 3; ++rd)
                for (int k = 0; k < 6; ++k)
                    r.reads[static_cast<size_t>(rd)][static_cast<size_t>(k)] =
                        parse_label_cell(f[static_cast<size_t>(cols[rd][k])], source, line,
                                         "R" + std::to_string(rd + 1) + ":" + findings[k]);
            if (out.count(r.number)) fail(source, ": line ", line, ": second row for ", r.name);
            out[r.number] = r;
        } catch (const Error& e) {
            if (bad) bad->push_back({where, e.what()});
            log(LogLevel::warn, "skipped ", where, ": ", e.what());
        }
    });
    if (header.empty()) fail(source, ": empty file (no header row)");
    return out;
}

}  // namespace ichseg::io
