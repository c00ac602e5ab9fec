/// @file errors.hpp (tests)
/// @brief Bad-input checks: the call must throw ichseg::Error (not crash, not another exception type) and the
/// message must contain every given fragment (the op name, the offending shapes, the key, ...).
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ichseg/core/error.hpp"

namespace ichseg::test {

template <class F>
void require_error(F&& f, const std::vector<std::string>& fragments) {
    bool thrown = false;
    std::string msg;
    try {
        f();
    } catch (const ichseg::Error& e) {
        thrown = true;
        msg = e.what();
    }
    INFO("message: " << msg);
    REQUIRE(thrown);
    for (const auto& part : fragments) {
        INFO("expected the message to contain: " << part);
        CHECK(msg.find(part) != std::string::npos);
    }
}

}  // namespace ichseg::test

/// ICHSEG_REQUIRE_ERROR(statement, {"fragment", ...})
#define ICHSEG_REQUIRE_ERROR(stmt, ...) ::ichseg::test::require_error([&] { stmt; }, __VA_ARGS__)
