/// @file unet_config.hpp (nn)
/// @brief `UNetConfig`: the sizes of the study's U-Net (nn/unet.hpp) without the network itself, so that code that
/// only reads or checks a configuration (the model-file checks of nn/model_info.hpp) does not need the operators.
#pragma once

#include <cstdint>

#include "ichseg/core/error.hpp"
#include "ichseg/core/shape.hpp"

namespace ichseg::nn {

struct UNetConfig {
    int64_t in_channels = 1;
    int64_t out_channels = 1;
    int64_t base_width = 32;           ///< channels of the first encoder block; doubles per level
    int64_t depth = 5;                 ///< encoder blocks (the last is the bottleneck)
    int64_t mid_channels_factor = 2;   ///< conv1 of an encoder block outputs out / factor channels (paper: 2)
    double dropout = 0.0;              ///< element-wise dropout after each encoder block (authors' configs: 0.5)
    bool output_sigmoid = true;        ///< sigmoid on the U-Net output (false for context restoration)

    int64_t width(int64_t level) const { return base_width << level; }
    void validate() const {
        ICHSEG_CHECK(in_channels > 0 && out_channels > 0 && base_width > 0 && depth >= 2 && depth <= 8,
                     "UNetConfig: invalid sizes (in ", in_channels, ", out ", out_channels, ", base width ",
                     base_width, ", depth ", depth, ")");
        ICHSEG_CHECK(mid_channels_factor == 1 || mid_channels_factor == 2,
                     "UNetConfig: mid_channels_factor must be 1 or 2, got ", mid_channels_factor);
        ICHSEG_CHECK(dropout >= 0 && dropout < 1, "UNetConfig: dropout must be in [0, 1), got ", dropout);
    }
    /// Input sides must be divisible by 2^(depth-1) so that the decoder meets the skips exactly.
    void check_input(const Shape& s) const {
        const int64_t m = int64_t(1) << (depth - 1);
        ICHSEG_CHECK(s.size() == 4 && s[1] == in_channels && s[2] % m == 0 && s[3] % m == 0 && s[2] > 0 && s[3] > 0,
                     "UNet: input must be (N, ", in_channels, ", H, W) with H and W multiples of ", m, ", got ",
                     to_string(s));
    }
};

}  // namespace ichseg::nn
