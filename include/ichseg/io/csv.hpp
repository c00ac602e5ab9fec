/// @file csv.hpp
/// @brief RFC-4180 CSV: quoted fields with embedded commas, doubled quotes and line breaks, CRLF / LF / CR line
/// ends, a UTF-8 byte-order mark, blank lines skipped. A streaming parser (`for_each_csv_record`, no per-row
/// allocation once warm, used for RSNA's 4.5 M-row label file) and a table (`read_csv`) on top of it, plus the
/// strict cell parsers the dataset loaders use. Every error names the source file, the line and the problem.
#pragma once

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ichseg/core/error.hpp"

namespace ichseg::io {

struct CsvOptions {
    char delimiter = ',';
    /// Refuse files larger than this (bytes); protects against reading a wrong, huge file by mistake.
    int64_t max_bytes = int64_t(4) << 30;
};

/// Whole file into a string; error naming the file when it cannot be opened or read.
inline std::string read_text_file(const std::string& path, int64_t max_bytes = int64_t(4) << 30) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(path, ": cannot open file: ", std::strerror(errno));
    f.seekg(0, std::ios::end);
    const std::streamoff n = f.tellg();
    if (n < 0) fail(path, ": cannot determine the file size");
    if (n > max_bytes) fail(path, ": file is ", n, " bytes, more than the limit of ", max_bytes);
    f.seekg(0, std::ios::beg);
    std::string s(static_cast<size_t>(n), '\0');
    if (n > 0 && !f.read(&s[0], n)) fail(path, ": read failed");
    return s;
}

/// Calls `on_record(fields, line)` for each non-blank record; `line` is the 1-based line where it starts.
/// `fields` is reused between calls (copy what you keep). Returns the number of records.
template <class F>
int64_t for_each_csv_record(std::string_view text, const std::string& source, F&& on_record,
                            const CsvOptions& opt = {}) {
    size_t pos = 0;
    const size_t n = text.size();
    if (n >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
        static_cast<unsigned char>(text[2]) == 0xBF)
        pos = 3;
    std::vector<std::string> fields;
    size_t nf = 0;  // fields used in the current record
    int64_t line = 1, records = 0;
    auto field = [&]() -> std::string& {
        if (nf == fields.size()) fields.emplace_back();
        std::string& s = fields[nf++];
        s.clear();
        return s;
    };
    while (pos < n) {
        const int64_t start_line = line;
        nf = 0;
        bool record_has_content = false;
        // One record.
        while (true) {
            std::string& cell = field();
            if (pos < n && text[pos] == '"') {
                record_has_content = true;
                ++pos;
                const int64_t quote_line = line;
                bool closed = false;
                while (pos < n) {
                    const char c = text[pos];
                    if (c == '"') {
                        if (pos + 1 < n && text[pos + 1] == '"') {
                            cell.push_back('"');
                            pos += 2;
                            continue;
                        }
                        ++pos;
                        closed = true;
                        break;
                    }
                    if (c == '\n') ++line;
                    if (c == '\r' && !(pos + 1 < n && text[pos + 1] == '\n')) ++line;
                    cell.push_back(c);
                    ++pos;
                }
                if (!closed)
                    fail(source, ": line ", quote_line, ": quoted field is not closed before the end of the file");
                if (pos < n && text[pos] != opt.delimiter && text[pos] != '\n' && text[pos] != '\r')
                    fail(source, ": line ", line, ": unexpected character '", text[pos],
                         "' after a closing quote (expected the delimiter or the end of the line)");
            } else {
                const size_t b = pos;
                while (pos < n && text[pos] != opt.delimiter && text[pos] != '\n' && text[pos] != '\r') {
                    if (text[pos] == '"')
                        fail(source, ": line ", line, ": stray quote inside an unquoted field");
                    ++pos;
                }
                cell.assign(text.data() + b, pos - b);
                if (pos > b) record_has_content = true;
            }
            if (pos < n && text[pos] == opt.delimiter) {
                record_has_content = true;
                ++pos;
                continue;
            }
            // end of line or of file
            if (pos < n && text[pos] == '\r') ++pos;
            if (pos < n && text[pos] == '\n') ++pos;
            ++line;
            break;
        }
        if (!record_has_content) continue;  // blank line
        ++records;
        fields.resize(nf);
        on_record(static_cast<const std::vector<std::string>&>(fields), start_line);
    }
    return records;
}

/// A whole CSV file as rows of strings (header rows included, as stored).
struct CsvTable {
    std::string source;
    std::vector<std::vector<std::string>> rows;
    std::vector<int64_t> lines;  ///< 1-based starting line of each row
};

inline CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& opt = {}) {
    CsvTable t;
    t.source = source;
    for_each_csv_record(
        text, source,
        [&](const std::vector<std::string>& f, int64_t line) {
            t.rows.push_back(f);
            t.lines.push_back(line);
        },
        opt);
    return t;
}

inline CsvTable read_csv(const std::string& path, const CsvOptions& opt = {}) {
    return parse_csv(read_text_file(path, opt.max_bytes), path, opt);
}

inline std::string_view trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
    return s.substr(b, e - b);
}

inline std::string to_lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

/// Index of the column named `name` (case-insensitive, surrounding spaces ignored) in a header row; -1 if absent.
inline int64_t find_column(const std::vector<std::string>& header, std::string_view name) {
    const std::string want = to_lower(trim(name));
    for (size_t i = 0; i < header.size(); ++i)
        if (to_lower(trim(header[i])) == want) return static_cast<int64_t>(i);
    return -1;
}
/// As find_column, but an error listing the available columns when absent.
inline int64_t require_column(const std::vector<std::string>& header, std::string_view name,
                              const std::string& source) {
    const int64_t c = find_column(header, name);
    if (c < 0) {
        std::ostringstream os;
        for (size_t i = 0; i < header.size(); ++i) os << (i ? ", " : "") << '\'' << header[i] << '\'';
        fail(source, ": missing column '", name, "' (the header has: ", os.str(), ")");
    }
    return c;
}

/// Strict integer cell: optional sign, digits, surrounding spaces; "12.0" accepted (integral float).
inline bool try_parse_int(std::string_view cell, int64_t& out) {
    cell = trim(cell);
    if (cell.empty() || cell.size() > 40) return false;
    std::string s(cell);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end == s.c_str() + s.size()) {
        out = v;
        return true;
    }
    errno = 0;
    const double d = std::strtod(s.c_str(), &end);
    if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15)
        return false;
    out = static_cast<int64_t>(d);
    return true;
}
inline bool try_parse_double(std::string_view cell, double& out) {
    cell = trim(cell);
    if (cell.empty() || cell.size() > 64) return false;
    std::string s(cell);
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(s.c_str(), &end);
    if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(d)) return false;
    out = d;
    return true;
}
inline int64_t parse_int_cell(std::string_view cell, const std::string& source, int64_t line, std::string_view col) {
    int64_t v = 0;
    if (!try_parse_int(cell, v))
        fail(source, ": line ", line, ": column '", col, "': expected an integer, got '", std::string(cell), "'");
    return v;
}
/// A 0/1 label cell ("0", "1", "0.0", "1.0"); `empty_is_zero` accepts an empty cell as 0.
inline int parse_label_cell(std::string_view cell, const std::string& source, int64_t line, std::string_view col,
                            bool empty_is_zero = false) {
    if (empty_is_zero && trim(cell).empty()) return 0;
    int64_t v = -1;
    if (!try_parse_int(cell, v) || (v != 0 && v != 1))
        fail(source, ": line ", line, ": column '", col, "': expected a 0/1 label, got '", std::string(cell), "'");
    return static_cast<int>(v);
}

}  // namespace ichseg::io
