/// @file test_tensor.cpp
/// @brief Tensor<T>: construction, strides, views (view, narrow, operator[]), contiguous copies, reshape
/// errors, element access, copy_ and cast.
#include <catch2/catch.hpp>

#include "ichseg/core/tensor.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_tensor {

namespace {
Tensor<float> iota(const Shape& s) {
    Tensor<float> t = Tensor<float>::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
    return t;
}
}  // namespace

TEST_CASE("construction, shape, row-major strides, numel", "[core][tensor]") {
    auto t = Tensor<float>::zeros({2, 3, 4});
    CHECK(t.defined());
    CHECK(t.shape() == Shape{2, 3, 4});
    CHECK(t.strides() == Shape{12, 4, 1});
    CHECK(t.numel() == 24);
    CHECK(t.nbytes() == 96u);
    CHECK(t.dim() == 3);
    CHECK(t.size(-1) == 4);
    CHECK(t.is_contiguous());
    for (float v : t.to_vector()) REQUIRE(v == 0.f);
    CHECK(Tensor<double>::full({3}, 2.5).to_vector() == std::vector<double>({2.5, 2.5, 2.5}));
    auto s = Tensor<float>::zeros({});
    CHECK(s.numel() == 1);
    CHECK(s.dim() == 0);
    CHECK(Tensor<float>::zeros({3, 0}).numel() == 0);
    CHECK_FALSE(Tensor<float>().defined());
    CHECK(reinterpret_cast<uintptr_t>(Tensor<float>::empty({7}).data()) % 64 == 0);  // 64-byte aligned
    CHECK(describe(t) == "F32[2, 3, 4] on cpu");
    ICHSEG_REQUIRE_ERROR(t.size(3), {"size", "[2, 3, 4]"});
    ICHSEG_REQUIRE_ERROR(Tensor<float>::empty({2, -1}), {"negative extent", "[2, -1]"});
    ICHSEG_REQUIRE_ERROR(Tensor<float>::from_vector({2, 2}, {1, 2, 3}), {"from_vector", "3 values", "[2, 2]"});
}

TEST_CASE("copies share the buffer, clone copies it", "[core][tensor]") {
    auto a = iota({2, 3});
    Tensor<float> b = a;
    CHECK(b.shares_buffer_with(a));
    CHECK_FALSE(a.owns_buffer_exclusively());
    Tensor<float> c = a.clone();
    CHECK_FALSE(c.shares_buffer_with(a));
    a(1, 2) = 100.f;
    CHECK(b(1, 2) == 100.f);
    CHECK(c(1, 2) == 5.f);
}

TEST_CASE("view: same data, new shape, one -1 inferred, errors name both shapes", "[core][tensor]") {
    auto a = iota({2, 3, 4});
    auto v = a.view({6, -1});
    CHECK(v.shape() == Shape{6, 4});
    CHECK(v.shares_buffer_with(a));
    CHECK(v(5, 3) == 23.f);
    ICHSEG_REQUIRE_ERROR(a.view({5, 5}), {"view", "[2, 3, 4]", "[5, 5]"});
    ICHSEG_REQUIRE_ERROR(a.view({-1, 5}), {"view", "[2, 3, 4]", "[-1, 5]"});
    ICHSEG_REQUIRE_ERROR(a.view({-1, -1}), {"view", "more than one -1"});
    ICHSEG_REQUIRE_ERROR(a.narrow(2, 1, 2).view({12}), {"view", "not contiguous", "contiguous()"});
    CHECK(a.narrow(2, 1, 2).reshape({12}).to_vector().front() == 1.f);  // reshape copies instead
}

TEST_CASE("narrow and indexing are views with offsets, contiguous() copies in logical order", "[core][tensor]") {
    auto a = iota({3, 4, 5});
    auto n = a.narrow(1, 1, 2);  // (3, 2, 5)
    CHECK(n.shape() == Shape{3, 2, 5});
    CHECK(n.shares_buffer_with(a));
    CHECK_FALSE(n.is_contiguous());
    CHECK(n(2, 1, 4) == a(2, 2, 4));
    auto c = n.contiguous();
    CHECK(c.is_contiguous());
    CHECK_FALSE(c.shares_buffer_with(a));
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 2; ++j)
            for (int64_t k = 0; k < 5; ++k) REQUIRE(c(i, j, k) == a(i, j + 1, k));
    auto d0 = a.narrow(0, 1, 2);  // along the leading dimension: still contiguous
    CHECK(d0.is_contiguous());
    CHECK(d0.data() == a.data() + 20);
    CHECK(d0.contiguous().data() == d0.data());  // no copy when already contiguous
    auto row = a[2];
    CHECK(row.shape() == Shape{4, 5});
    CHECK(row(3, 4) == 59.f);
    CHECK(a[1][2].shape() == Shape{5});
    CHECK(a[1][2](0) == 30.f);
    // writes through a view reach the base tensor
    n(0, 0, 0) = -1.f;
    CHECK(a(0, 1, 0) == -1.f);
    // narrow of a narrow
    auto nn = n.narrow(2, 3, 2);
    CHECK(nn(1, 1, 1) == a(1, 2, 4));
    ICHSEG_REQUIRE_ERROR(a.narrow(1, 3, 2), {"narrow", "[3, 5)", "[3, 4, 5]"});
    ICHSEG_REQUIRE_ERROR(a.narrow(3, 0, 1), {"narrow", "[3, 4, 5]"});
    ICHSEG_REQUIRE_ERROR(a.narrow(0, -1, 1), {"narrow"});
    CHECK(a.narrow(-1, 0, 0).numel() == 0);
}

TEST_CASE("size-1 dimensions do not break contiguity", "[core][tensor]") {
    auto a = iota({4, 1, 3});
    CHECK(a.narrow(1, 0, 1).is_contiguous());
    CHECK(a.narrow(0, 2, 1).view({3}).to_vector() == std::vector<float>({6.f, 7.f, 8.f}));
}

TEST_CASE("at() is bounds-checked and names the shape", "[core][tensor]") {
    auto a = iota({2, 3});
    CHECK(a.at({1, 2}) == 5.f);
    a.at({0, 1}) = 9.f;
    CHECK(a(0, 1) == 9.f);
    ICHSEG_REQUIRE_ERROR(a.at({2, 0}), {"at", "index 2", "[2, 3]"});
    ICHSEG_REQUIRE_ERROR(a.at({0}), {"at", "1 indices", "[2, 3]"});
    ICHSEG_REQUIRE_ERROR(a.at({0, -1}), {"at", "index -1"});
}

TEST_CASE("copy_ between strided tensors, fill_, zero_, cast", "[core][tensor]") {
    auto a = iota({3, 4});
    auto b = Tensor<float>::zeros({3, 6});
    b.narrow(1, 1, 4).copy_(a);  // strided destination
    CHECK(b(2, 4) == a(2, 3));
    CHECK(b(2, 5) == 0.f);
    auto c = Tensor<float>::zeros({4, 3});
    ICHSEG_REQUIRE_ERROR(c.copy_(a), {"copy_", "[3, 4]", "[4, 3]"});
    auto d = Tensor<float>::empty({2, 2});
    d.copy_(b.narrow(1, 1, 2).narrow(0, 1, 2));  // strided source
    CHECK(d.to_vector() == std::vector<float>({a(1, 0), a(1, 1), a(2, 0), a(2, 1)}));
    d.fill_(3.f);
    CHECK(d.to_vector() == std::vector<float>(4, 3.f));
    d.zero_();
    CHECK(d.to_vector() == std::vector<float>(4, 0.f));
    ICHSEG_REQUIRE_ERROR(b.narrow(1, 1, 4).fill_(1.f), {"fill_", "contiguous"});
    auto i = Tensor<float>::from_vector({3}, {1.7f, -2.2f, 3.f}).cast<int64_t>();
    CHECK(i.to_vector() == std::vector<int64_t>({1, -2, 3}));
    CHECK(a.narrow(1, 2, 2).cast<double>().to_vector() == std::vector<double>({2, 3, 6, 7, 10, 11}));
}

TEST_CASE("a CUDA tensor in a CPU-only build fails with a clear message", "[core][tensor]") {
#if !ICHSEG_WITH_CUDA
    ICHSEG_REQUIRE_ERROR(Tensor<float>::empty({2}, Device::cuda(0)), {"CUDA", "ICHSEG_CUDA=ON"});
    ICHSEG_REQUIRE_ERROR(iota({2}).to(Device::cuda(0)), {"CUDA"});
#else
    SUCCEED("built with CUDA: covered by the CUDA tests");
#endif
}

}  // namespace test_tensor
