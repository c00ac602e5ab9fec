// Must not compile: relu of an integer tensor.
#include "ichseg/ops/relu.hpp"

int main() {
    ichseg::Var<int64_t> x(ichseg::Tensor<int64_t>::zeros({4}));
    (void)ichseg::relu(x);
}
