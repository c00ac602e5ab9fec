/// @file test_png.cpp (tests)
/// @brief PNG encoder validity (signature, chunk order, CRCs checked with an independent CRC table, zlib
/// inflate back to the exact pixels drawn, all five scanline filters) and the canvas primitives (render/).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "eval_test_util.hpp"
#include "ichseg/core/rng.hpp"
#include "ichseg/render/canvas.hpp"
#include "ichseg/render/png.hpp"
#include "support/errors.hpp"

using namespace ichseg;
using namespace ichseg::render;

TEST_CASE("CRC-32 of zlib equals the reference table and the standard check value", "[eval][png]") {
    const std::string s = "123456789";
    CHECK(test::crc32_reference(reinterpret_cast<const unsigned char*>(s.data()), s.size()) == 0xCBF43926u);
    CHECK(::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), 9) == 0xCBF43926u);
}

TEST_CASE("PNG of a drawing decodes back to the exact pixels", "[eval][png]") {
    Canvas cv(97, 61, Color{250, 250, 245});
    cv.fill_rect(10, 10, 40, 30, palette(0));
    cv.fill_rect(20.5, 35.25, 60.75, 50, palette(1), 0.6);
    cv.line(5, 55, 90, 3, colors::black, 2.5);
    cv.fill_circle(70, 40, 9.3, palette(2), 0.8);
    cv.stroke_circle(30, 45, 6, palette(3), 1.5);
    cv.text(48, 20, "p<.05 Dice", TextStyle{7, colors::text, HAlign::left, VAlign::baseline});
    const std::string png = encode_png(cv.image());
    const test::DecodedPng d = test::decode_png(png);
    INFO(d.error);
    REQUIRE(d.ok);
    CHECK(d.width == 97);
    CHECK(d.height == 61);
    CHECK(d.chunk_types == std::vector<std::string>{"IHDR", "tEXt", "IDAT", "IEND"});
    CHECK(d.rgb == cv.image().rgb);  // lossless: every byte equal
}

TEST_CASE("PNG round trip of noise and gradients (every filter type) and a 1x1 image", "[eval][png]") {
    Image img(64, 48);
    for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 64; ++x) {
            uint8_t* p = &img.rgb[(static_cast<std::size_t>(y) * 64 + x) * 3];
            if (y < 16) {  // noise: filter None/Sub
                for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(random_u32(5, 0, (y * 64 + x) * 3 + c));
            } else {  // smooth gradients favour Up / Average / Paeth
                p[0] = static_cast<uint8_t>(x * 4);
                p[1] = static_cast<uint8_t>(y * 5);
                p[2] = static_cast<uint8_t>((x + y) * 2);
            }
        }
    for (int level : {0, 1, 9}) {
        const test::DecodedPng d = test::decode_png(encode_png(img, level));
        INFO("level " << level << ": " << d.error);
        REQUIRE(d.ok);
        CHECK(d.rgb == img.rgb);
    }
    Image one(1, 1, Color{1, 2, 3});
    const test::DecodedPng d1 = test::decode_png(encode_png(one));
    REQUIRE(d1.ok);
    CHECK(d1.rgb == std::vector<uint8_t>{1, 2, 3});
}

TEST_CASE("a flipped byte is caught by the chunk CRC", "[eval][png]") {
    Image img(8, 8, palette(4));
    std::string png = encode_png(img);
    png[png.size() / 2] ^= 0x20;  // inside IDAT
    const test::DecodedPng d = test::decode_png(png);
    CHECK_FALSE(d.ok);
    CHECK(d.error.find("CRC mismatch") != std::string::npos);
}

TEST_CASE("write_png writes the encoded bytes atomically", "[eval][png]") {
    Image img(5, 4, palette(5));
    const std::string path = test::eval_output_dir() + "/tiny.png";
    write_png(path, img);
    CHECK(test::read_file(path) == encode_png(img));
    ICHSEG_REQUIRE_ERROR(write_png(test::eval_output_dir() + "/no/such/dir/x.png", img), {"x.png"});
    Image bad;
    ICHSEG_REQUIRE_ERROR(encode_png(bad), {"empty image"});
}

TEST_CASE("canvas primitives: crisp integer rectangles, blended fractional edges, clipping", "[eval][png]") {
    Canvas cv(20, 10);
    cv.fill_rect(2, 3, 6, 5, colors::black);
    CHECK(cv.image().at(2, 3) == colors::black);
    CHECK(cv.image().at(5, 4) == colors::black);
    CHECK(cv.image().at(6, 4) == colors::white);  // right edge exclusive
    CHECK(cv.image().at(1, 3) == colors::white);
    cv.fill_rect(10, 0, 10.5, 1, colors::black);  // half a pixel: mid grey
    CHECK(cv.image().at(10, 0).r == 128);          // 255 + (0-255)*0.5 = 127.5, rounded half away: 128
    cv.fill_rect(-5, -5, 100, 0.0, colors::black);  // fully outside / empty: no effect, no crash
    cv.fill_circle(-3, 50, 2, colors::black);
    cv.line(-10, -10, 30, 30, palette(0), 1);
    CHECK(cv.image().at(7, 7) == palette(0));  // the diagonal through pixel centres is fully covered
    ICHSEG_REQUIRE_ERROR((void)cv.image().at(20, 0), {"(20, 0)", "20x10"});
}

TEST_CASE("text: width formula, ink inside the expected box, vertical text rotates the box", "[eval][png]") {
    // At cap height 14 a font cell is 2 px: "Dice" = 4*6-1 = 23 cells = 46 px wide, 7 cells = 14 px tall.
    CHECK(Canvas::text_width("Dice", 14) == 46);
    Canvas cv(120, 80);
    cv.text(10, 30, "Dice", TextStyle{14, colors::black, HAlign::left, VAlign::baseline});
    int x0 = 1000, x1 = -1, y0 = 1000, y1 = -1;
    for (int y = 0; y < 80; ++y)
        for (int x = 0; x < 120; ++x)
            if (cv.image().at(x, y) != colors::white) {
                x0 = std::min(x0, x);
                x1 = std::max(x1, x);
                y0 = std::min(y0, y);
                y1 = std::max(y1, y);
            }
    // 'D' has ink in its first column, 'e' in its last (cell 3*6+4 = 22, pixels 44-45)
    CHECK(x0 == 10);
    CHECK(x1 == 10 + 46 - 1);
    CHECK(y0 == 30 - 14);  // cap top
    CHECK(y1 == 30 - 1);   // no descenders in "Dice"
    Canvas cv2(80, 120);
    TextStyle vs{14, colors::black, HAlign::left, VAlign::baseline};
    vs.vertical = true;
    cv2.text(40, 100, "Dice", vs);
    int vx0 = 1000, vx1 = -1, vy0 = 1000, vy1 = -1;
    for (int y = 0; y < 120; ++y)
        for (int x = 0; x < 80; ++x)
            if (cv2.image().at(x, y) != colors::white) {
                vx0 = std::min(vx0, x);
                vx1 = std::max(vx1, x);
                vy0 = std::min(vy0, y);
                vy1 = std::max(vy1, y);
            }
    CHECK(vy1 == 100 - 1);   // reads upwards from the anchor
    CHECK(vy0 == 100 - 46);
    CHECK(vx0 == 40 - 14);   // glyph tops point left
    CHECK(vx1 == 40 - 1);
}

TEST_CASE("colour maps", "[eval][png]") {
    CHECK(viridis(0) == Color::hex(0x440154));
    CHECK(viridis(1) == Color::hex(0xfde725));
    CHECK(viridis(0.5) == Color::hex(0x21918c));
    CHECK(viridis(-3) == viridis(0));
    CHECK(palette(0) == palette(10));
    CHECK(lerp(colors::black, colors::white, 0.5) == Color{128, 128, 128});
    CHECK(colors::white.luminance() == Approx(1.0));
}
