// Must not compile: the differentiable ops are defined for float and double only.
#include "ichseg/ops/conv2d.hpp"

int main() {
    ichseg::Var<int> x(ichseg::Tensor<int>::zeros({1, 1, 3, 3})), w(ichseg::Tensor<int>::zeros({1, 1, 3, 3}));
    (void)ichseg::conv2d(x, w, ichseg::Var<int>());
}
