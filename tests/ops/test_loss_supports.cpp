/// @file test_loss_supports.cpp
/// @brief What each loss's backends say they can run (cpu::supports, cuda::supports), checked without a GPU: the
/// CUDA answers are host-only inline functions of cuda/<loss>.hpp, so every build (CUDA or not) runs these.
/// Also the message the dispatch throws on a refusal: it names the loss, the dtype, the device and the reason.
#include <catch2/catch.hpp>

#include "ichseg/cuda/bce_with_logits.hpp"
#include "ichseg/cuda/cross_entropy.hpp"
#include "ichseg/cuda/dice.hpp"
#include "ichseg/cuda/local_contrastive.hpp"
#include "ichseg/cuda/mse.hpp"
#include "ichseg/cuda/nt_xent.hpp"
#include "ichseg/loss/bce_with_logits.hpp"
#include "ichseg/loss/cross_entropy.hpp"
#include "ichseg/loss/dice.hpp"
#include "ichseg/loss/local_contrastive.hpp"
#include "ichseg/loss/mse.hpp"
#include "ichseg/loss/nt_xent.hpp"
#include "support/errors.hpp"

using namespace ichseg;
using namespace ichseg::test;

// Everything in a namespace of its own, so that unity builds can combine the test files.
namespace test_loss_supports {

namespace {
constexpr int64_t k2p31 = int64_t(1) << 31;

/// Both backends' answers for one geometry: the CPU runs float and double, CUDA float only.
template <class G>
void check_dtypes(const G& g) {
    CHECK(cpu::supports<float>(g).ok());
    CHECK(cpu::supports<double>(g).ok());
    CHECK(cuda::supports<float>(g).ok());
    const Support d = cuda::supports<double>(g);
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.reason, Catch::Contains("compute in float"));
}
void refused(const Support& s, const std::string& fragment) {
    INFO("reason: " << s.reason);
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.reason, Catch::Contains(fragment));
}
}  // namespace

TEST_CASE("every loss runs float and double on the CPU and only float on CUDA (the paper's sizes)",
          "[loss][supports]") {
    check_dtypes(DiceGeometry{32, 256 * 256});                      // segmentation batch
    check_dtypes(BceWithLogitsGeometry{32, 7});                     // multi-label pretext
    check_dtypes(CrossEntropyGeometry{32, 2});                      // binary pretext
    check_dtypes(MseGeometry{32 * 256 * 256});                      // context restoration
    check_dtypes(NtXentGeometry{120, 128});                         // SimCLR, 2 x 60 views
    check_dtypes(LocalContrastiveGeometry{32, 64, 64, 64, 3, 13});  // local regions
}

TEST_CASE("CUDA supports() states each loss kernel's own limits", "[loss][supports]") {
    // Dice: one block row per sample, a sample's values indexed with int.
    refused(cuda::supports<float>(DiceGeometry{2, k2p31}), "32-bit indexing");
    CHECK(cuda::supports<float>(DiceGeometry{4, k2p31 / 4}).ok());  // 2^31 elements in all, each sample below 2^31
    // BCE: the label index i % C in int; the element index is 64-bit.
    refused(cuda::supports<float>(BceWithLogitsGeometry{1, k2p31}), "32-bit indexing");
    CHECK(cuda::supports<float>(BceWithLogitsGeometry{k2p31, 2}).ok());
    // Cross-entropy: one warp per row, thread numbers in 32 bits.
    refused(cuda::supports<float>(CrossEntropyGeometry{k2p31 / 32, 2}), "32-bit indexing");
    CHECK(cuda::supports<float>(CrossEntropyGeometry{k2p31 / 32 - 1, 2}).ok());
    // MSE: 64-bit element index, no limit of its own.
    CHECK(cuda::supports<float>(MseGeometry{4 * k2p31}).ok());
    // NT-Xent: rows and row length staged in 48 KiB of shared memory (12288 floats).
    CHECK(cuda::supports<float>(NtXentGeometry{12288, 12288}).ok());
    refused(cuda::supports<float>(NtXentGeometry{12290, 16}), "shared-memory staging");
    refused(cuda::supports<float>(NtXentGeometry{4, 12289}), "shared-memory staging");
    // Local contrastive: NT-Xent per image (B grid rows, at most 65535), 2R rows of C K K values.
    refused(cuda::supports<float>(LocalContrastiveGeometry{65536, 4, 12, 12, 3, 4}), "65535");
    CHECK(cuda::supports<float>(LocalContrastiveGeometry{65535, 4, 12, 12, 3, 4}).ok());
    refused(cuda::supports<float>(LocalContrastiveGeometry{2, 2048, 12, 12, 3, 4}), "shared-memory staging");
    refused(cuda::supports<float>(LocalContrastiveGeometry{2, 1, 64, 64, 1, 6145}), "shared-memory staging");
}

TEST_CASE("a refused loss call names the loss, the dtype, the device and the reason", "[loss][supports]") {
    const NtXentGeometry g{8, 4};
    require_error([&] { detail::require_support<double>("nt_xent_loss", Device::cuda(0), cuda::supports<double>(g)); },
                  {"nt_xent_loss: F64 tensors on cuda:0 are not supported by the CUDA backend", "compute in float"});
    require_error(
        [&] {
            detail::require_support<float>("nt_xent_loss", Device::cuda(1),
                                           cuda::supports<float>(NtXentGeometry{20000, 4}));
        },
        {"nt_xent_loss: F32 tensors on cuda:1 are not supported by the CUDA backend", "20000 embeddings"});
    REQUIRE_NOTHROW(detail::require_support<double>("nt_xent_loss", Device::cpu(), cpu::supports<double>(g)));
}

}  // namespace test_loss_supports
