// ichseg::float: the float instantiations of the library's templates, compiled once. Every header with float
// templates that a program compiles ends with an `#if ICHSEG_EXTERN_TEMPLATES` block of explicit instantiations
// (config.hpp explains the scheme). A program that links ichseg::float sees them with ICHSEG_EXTERN_TEMPLATE =
// `extern`, as declarations; here ICHSEG_EXTERN_TEMPLATE is empty, so the same blocks are the definitions. The
// umbrella reaches every header that has a block (core/tensor, the CPU kernels, autograd, ops, losses, nn, optim),
// so each is defined exactly once, here, and a block added to any of them is compiled without a change to this file.
#undef ICHSEG_EXTERN_TEMPLATE
#define ICHSEG_EXTERN_TEMPLATE

#include "ichseg/ichseg.hpp"

#if !ICHSEG_EXTERN_TEMPLATES
#error "src/ichseg_float.cpp is compiled with ICHSEG_EXTERN_TEMPLATES=1 (the CMake target ichseg_float sets it)"
#endif
