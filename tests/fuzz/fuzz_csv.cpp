// libFuzzer target: the CSV parser and every layout's label-file parser (PhysioNet diagnosis and demographics,
// RSNA long format, CQ500 reads) on the same arbitrary text. Any ichseg::Error is an accepted outcome.
#include <cstdint>
#include <string>

#include "ichseg/io/csv.hpp"
#include "ichseg/io/datasets/cq500.hpp"
#include "ichseg/io/datasets/physionet.hpp"
#include "ichseg/io/datasets/rsna.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    ichseg::io::set_log_level(ichseg::io::LogLevel::off);
    try {
        const ichseg::io::CsvTable t = ichseg::io::parse_csv(text, "fuzz.csv");
        if (t.rows.size() != t.lines.size()) __builtin_trap();
    } catch (const ichseg::Error&) {
    }
    try {
        ichseg::io::parse_physionet_diagnosis(text, "fuzz.csv");
    } catch (const ichseg::Error&) {
    }
    try {
        ichseg::io::parse_physionet_demographics(text, "fuzz.csv");
    } catch (const ichseg::Error&) {
    }
    try {
        ichseg::io::parse_rsna_labels(text, "fuzz.csv");
    } catch (const ichseg::Error&) {
    }
    try {
        std::vector<ichseg::io::Skipped> bad;
        ichseg::io::parse_cq500_reads(text, "fuzz.csv", &bad);
    } catch (const ichseg::Error&) {
    }
    return 0;
}
