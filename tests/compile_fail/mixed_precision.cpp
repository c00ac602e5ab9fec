// Must not compile: a float input with a double weight (no implicit conversion between element types).
#include "ichseg/ops/conv2d.hpp"

int main() {
    ichseg::Var<float> x(ichseg::Tensor<float>::zeros({1, 1, 3, 3}));
    ichseg::Var<double> w(ichseg::Tensor<double>::zeros({1, 1, 3, 3}));
    (void)ichseg::conv2d(x, w, ichseg::Var<float>());
}
