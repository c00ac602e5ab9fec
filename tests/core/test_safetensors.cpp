/// @file test_safetensors.cpp
/// @brief safetensors read/write: round trips and dtype conversion, a file written by PyTorch, and every kind
/// of malformed file (truncated, bad header JSON, header length too large, offsets that do not tile, unknown
/// dtype, duplicate key, overflowing shapes, every truncation of a valid file): always an ichseg::Error that
/// names the file and the offending tensor, never a crash.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "ichseg/io/safetensors.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_safetensors {

namespace {
/// A file image: 8-byte little-endian header length, header, data.
std::vector<char> image(const std::string& header, const std::string& data = "", int64_t claimed_len = -1) {
    const uint64_t n = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : header.size();
    std::vector<char> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}
io::SafetensorsFile parse(const std::vector<char>& b) { return io::SafetensorsFile::parse("test.safetensors", b); }
}  // namespace

TEST_CASE("safetensors round trip: F32, F64, I64 and BF16 conversion, metadata, layout", "[core][safetensors]") {
    io::SafetensorsWriter w;
    const auto a = uniform<float>({2, 3}, 1);
    const auto d = uniform<double>({5}, 2);
    const auto c = Tensor<float>::from_vector({3}, {0.f, 3.f, 7.f});
    w.add("b.weight", a);
    w.add("a.double", d);
    w.add("c.count", c, "I64");
    w.add("d.bf16", Tensor<float>::from_vector({2}, {1.0f, 3.14159f}), "BF16");
    w.add("e.scalar", Tensor<float>::full({}, 2.5f));
    w.add("f.empty", Tensor<float>::zeros({0, 4}));
    w.set_metadata("format", "pt");
    const std::string bytes = w.serialize();
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
    CHECK(hlen % 8 == 0);  // header padded to 8 bytes, as the reference writer does
    auto f = parse(std::vector<char>(bytes.begin(), bytes.end()));
    CHECK(f.keys().size() == 6u);
    CHECK(f.metadata().at("format") == "pt");
    CHECK(f.get<float>("b.weight").to_vector() == a.to_vector());
    CHECK(f.get<double>("a.double").to_vector() == d.to_vector());
    CHECK(f.entry("c.count").dtype == "I64");
    CHECK(f.get<int64_t>("c.count").to_vector() == std::vector<int64_t>({0, 3, 7}));
    CHECK(f.get<float>("c.count").to_vector() == c.to_vector());
    CHECK(f.get<float>("d.bf16").to_vector() == std::vector<float>({1.0f, 3.140625f}));  // rounded to 8 bits
    CHECK(f.get<float>("e.scalar").shape() == Shape{});
    CHECK(f.get<float>("e.scalar").to_vector() == std::vector<float>({2.5f}));
    CHECK(f.get<float>("f.empty").shape() == Shape{0, 4});
    // 8-byte tensors first (a.double, c.count), then 4-byte, then 2-byte, each by name; data tiles in that order
    CHECK(f.entry("a.double").begin == 0u);
    CHECK(f.entry("c.count").begin == 40u);
    CHECK(f.entry("b.weight").begin == 64u);
    ICHSEG_REQUIRE_ERROR(f.entry("nope"), {"test.safetensors", "no tensor named 'nope'"});
    ICHSEG_REQUIRE_ERROR(w.add("b.weight", a), {"b.weight", "added twice"});
    ICHSEG_REQUIRE_ERROR(w.add("__metadata__", a), {"__metadata__"});
}

TEST_CASE("safetensors write to disk atomically and read back", "[core][safetensors]") {
    const std::string path = std::string(ICHSEG_TEST_BINARY_DIR) + "/test_safetensors_roundtrip.safetensors";
    io::SafetensorsWriter w;
    const auto a = uniform<float>({4, 4}, 3);
    w.add("x", a);
    w.write(path);
    CHECK(io::SafetensorsFile::read(path).get<float>("x").to_vector() == a.to_vector());
    std::remove(path.c_str());
    ICHSEG_REQUIRE_ERROR(io::SafetensorsFile::read(path), {path, "cannot open"});
}

TEST_CASE("safetensors reads a file written by PyTorch (safetensors.torch.save_file)", "[core][safetensors]") {
    const auto& f = golden("unet_state");
    const auto& e = f.entry("encoder.blocks.0.bn1.num_batches_tracked");
    CHECK(e.dtype == "I64");
    CHECK(e.shape == Shape{});
    CHECK(f.get<float>("encoder.blocks.0.bn1.num_batches_tracked").to_vector() == std::vector<float>({3.f}));
    CHECK(f.entry("encoder.blocks.0.conv1.weight").dtype == "F32");
    CHECK(f.entry("encoder.blocks.0.conv1.weight").shape == Shape({2, 1, 3, 3}));
    CHECK(f.metadata().at("format") == "pt");
}

TEST_CASE("malformed safetensors files give an error naming the file and the problem", "[core][safetensors][bad_input]") {
    const std::string ok_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::string eight(8, '\0');
    CHECK(parse(image(ok_header, eight)).get<float>("a").to_vector() == std::vector<float>({0.f, 0.f}));

    ICHSEG_REQUIRE_ERROR(parse({}), {"test.safetensors", "truncated", "0 bytes"});
    ICHSEG_REQUIRE_ERROR(parse({1, 2, 3}), {"test.safetensors", "truncated"});
    ICHSEG_REQUIRE_ERROR(parse(image(ok_header, eight, 1000)), {"test.safetensors", "header length 1000"});
    ICHSEG_REQUIRE_ERROR(parse(image(ok_header, eight, int64_t(1) << 40)), {"test.safetensors", "exceeds"});
    ICHSEG_REQUIRE_ERROR(parse(image("{\"a\":", "")), {"test.safetensors", "not valid JSON"});
    ICHSEG_REQUIRE_ERROR(parse(image("[1, 2]", "")), {"test.safetensors", "JSON object"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight)),
                         {"test.safetensors", "duplicate", "'a'"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'", "unknown dtype 'F17'"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":5,"shape":[2],"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'", "non-negative"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'", "shape"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight)),
                         {"test.safetensors", "'a'", "data_offsets"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight)),
                         {"test.safetensors", "'a'", "end before begin"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)),
                         {"test.safetensors", "'a'", "needs 12 bytes"});
    // offsets that do not tile the data: a gap, an overlap
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight)),
                         {"test.safetensors", "'a'", "tile"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight)),
                         {"test.safetensors", "tile"});
    // data shorter or longer than the offsets say
    ICHSEG_REQUIRE_ERROR(parse(image(ok_header, "1234")), {"test.safetensors", "truncated"});
    ICHSEG_REQUIRE_ERROR(parse(image(ok_header, eight + "x")), {"test.safetensors", "8 bytes of tensor data", "9"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"__metadata__":{"k":1}})")), {"test.safetensors", "__metadata__"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"__metadata__":[]})")), {"test.safetensors", "__metadata__"});
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":[1,2]})")), {"test.safetensors", "'a'"});
}

TEST_CASE("safetensors shapes whose byte size overflows 64 bits are rejected, not allocated",
          "[core][safetensors][bad_input]") {
    // 2^62 F32 elements need 2^64 bytes, which wraps to 0 in 64-bit arithmetic and would match offsets [0, 0].
    ICHSEG_REQUIRE_ERROR(parse(image(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})")),
                         {"test.safetensors", "'a'"});
    // element count itself overflows int64
    ICHSEG_REQUIRE_ERROR(
        parse(image(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})")),
        {"test.safetensors", "'a'"});
    // offsets near 2^64 must not wrap around the file-size check
    ICHSEG_REQUIRE_ERROR(
        parse(image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                    R"("b":{"dtype":"U8","shape":[18446744073709551614],"data_offsets":[1,18446744073709551615]}})",
                    "x")),
        {"test.safetensors"});
}

TEST_CASE("every truncation and many byte corruptions of a valid file fail cleanly", "[core][safetensors][bad_input]") {
    io::SafetensorsWriter w;
    w.add("layer.weight", uniform<float>({3, 2}, 4));
    w.add("layer.count", Tensor<float>::full({}, 5.f), "I64");
    w.set_metadata("format", "pt");
    const std::string s = w.serialize();
    const std::vector<char> full(s.begin(), s.end());
    REQUIRE_NOTHROW(parse(full));
    for (size_t len = 0; len < full.size(); ++len) {
        INFO("truncated to " << len << " of " << full.size() << " bytes");
        ICHSEG_REQUIRE_ERROR(parse(std::vector<char>(full.begin(), full.begin() + static_cast<long>(len))),
                             {"test.safetensors"});
    }
    // Corrupt every header byte in turn (three values each): the result either parses or throws ichseg::Error.
    size_t parsed = 0, rejected = 0;
    for (size_t i = 0; i < full.size(); ++i)
        for (char v : {'\0', '9', '"'}) {
            std::vector<char> bad = full;
            bad[i] = v;
            try {
                auto f = parse(bad);
                for (auto& k : f.keys()) (void)f.get<double>(k);  // converting what parsed must be safe too
                ++parsed;
            } catch (const Error&) {
                ++rejected;
            }
        }
    CHECK(rejected > 0);
    CHECK(parsed + rejected == 3 * full.size());
}

}  // namespace test_safetensors
