/// @file test_concat.cpp
/// @brief concat: exact reference, gradient slices, gradient check, PyTorch golden values, shape errors.
#include <catch2/catch.hpp>

#include "ichseg/ops/concat.hpp"
#include "support/errors.hpp"
#include "support/fill.hpp"
#include "support/golden.hpp"
#include "support/gradcheck.hpp"
#include "support/tolerance.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_concat {

TEST_CASE("concat along each dimension places inputs in order and slices the gradient back (exact)",
          "[ops][concat]") {
    const Shape s0{2, 3, 4, 5};
    for (int64_t dim = 0; dim < 4; ++dim) {
        Shape s1 = s0, s2 = s0;
        s1[dim] = 2;
        s2[dim] = 1;
        const auto a = integers<float>(s0, 1), b = integers<float>(s1, 2), c = integers<float>(s2, 3);
        Var<float> av(a, true), bv(b, true), cv(c, true);
        Var<float> y = concat<float>({av, bv, cv}, dim);
        Shape so = s0;
        so[dim] = s0[dim] + 3;
        REQUIRE(y.shape() == so);
        const auto dy = integers<float>(so, 4);
        y.backward(dy);
        // naive: walk every output index, find the input it came from
        int64_t idx[4];
        for (idx[0] = 0; idx[0] < so[0]; ++idx[0])
            for (idx[1] = 0; idx[1] < so[1]; ++idx[1])
                for (idx[2] = 0; idx[2] < so[2]; ++idx[2])
                    for (idx[3] = 0; idx[3] < so[3]; ++idx[3]) {
                        int64_t j[4] = {idx[0], idx[1], idx[2], idx[3]};
                        const Tensor<float>* src = &a;
                        const Tensor<float>* g = &av.grad();
                        if (j[dim] >= s0[dim] + 2) {
                            j[dim] -= s0[dim] + 2;
                            src = &c;
                            g = &cv.grad();
                        } else if (j[dim] >= s0[dim]) {
                            j[dim] -= s0[dim];
                            src = &b;
                            g = &bv.grad();
                        }
                        REQUIRE(y.value()(idx[0], idx[1], idx[2], idx[3]) == (*src)(j[0], j[1], j[2], j[3]));
                        REQUIRE((*g)(j[0], j[1], j[2], j[3]) == dy(idx[0], idx[1], idx[2], idx[3]));
                    }
    }
}

TEST_CASE("concat with negative dimension and a single input", "[ops][concat]") {
    const auto a = integers<float>({2, 3}, 5);
    Var<float> y = concat<float>({Var<float>(a), Var<float>(a)}, -1);
    REQUIRE(y.shape() == Shape{2, 6});
    CHECK(y.value()(1, 4) == a(1, 1));
    CHECK(concat<float>({Var<float>(a)}, 0).value().to_vector() == a.to_vector());
}

TEST_CASE("concat finite-difference gradient check in double", "[ops][concat][gradcheck]") {
    gradcheck([](const std::vector<Var<double>>& v) { return concat<double>({v[0], v[1]}, 1); },
              {uniform<double>({2, 2, 3, 3}, 6), uniform<double>({2, 3, 3, 3}, 7)});
}

TEST_CASE("concat matches PyTorch golden values", "[ops][concat][golden]") {
    // Exact: copies only.
    const std::string f = "ops_concat";
    for (const std::string c : {"dim1", "dim0"}) {
        Var<float> a(gold<float>(f, c + ".a"), true), b(gold<float>(f, c + ".b"), true);
        Var<float> y = concat<float>({a, b}, c == "dim1" ? 1 : 0);
        y.backward(gold<float>(f, c + ".gy"));
        REQUIRE(y.shape() == gold<double>(f, c + ".y").shape());
        ICHSEG_REQUIRE_CLOSE(y.value(), gold<double>(f, c + ".y"), 0.0, 0.0);
        ICHSEG_REQUIRE_CLOSE(a.grad(), gold<double>(f, c + ".da"), 0.0, 0.0);
        ICHSEG_REQUIRE_CLOSE(b.grad(), gold<double>(f, c + ".db"), 0.0, 0.0);
    }
}

TEST_CASE("concat rejects incompatible shapes, naming the op and the shapes", "[ops][concat][bad_input]") {
    Var<float> a(uniform<float>({2, 3, 4, 4}, 1)), b(uniform<float>({2, 5, 4, 3}, 2));
    ICHSEG_REQUIRE_ERROR(concat<float>({a, b}, 1), {"concat", "[2, 5, 4, 3]", "[2, 3, 4, 4]"});
    ICHSEG_REQUIRE_ERROR(concat<float>({a, Var<float>(uniform<float>({2, 3, 4}, 3))}, 1), {"concat", "[2, 3, 4]"});
    ICHSEG_REQUIRE_ERROR(concat<float>({a, a}, 4), {"concat", "dimension 4", "[2, 3, 4, 4]"});
    ICHSEG_REQUIRE_ERROR(concat<float>({}, 0), {"concat", "no inputs"});
}

}  // namespace test_concat
