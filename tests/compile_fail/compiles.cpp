// Control for the compile-fail tests: the same includes and flags do compile a correct program, so a failure
// of the other files is caused by the type error they contain.
#include "ichseg/ops/conv2d.hpp"
#include "ichseg/ops/relu.hpp"

int main() {
    ichseg::Var<float> x(ichseg::Tensor<float>::zeros({1, 1, 3, 3})), w(ichseg::Tensor<float>::zeros({1, 1, 3, 3}));
    (void)ichseg::relu(ichseg::conv2d(x, w, ichseg::Var<float>()));
}
