// libFuzzer target: model files are untrusted input (users download them). The safetensors reader (header
// length, JSON, names, dtypes, shapes, data_offsets, metadata, every tensor converted to float) and the model
// description (the ichseg.* metadata keys, range-checked) and the comparison of the tensors with the configured
// U-Net (check_model_tensors), on arbitrary bytes written to a temporary file: all that nn::load_model does before
// it builds the network. Any ichseg::Error is an accepted outcome; a crash, sanitizer report, hang
// or runaway allocation is a bug. (The network itself is not built here: ichseg's operators use GCC extensions
// that clang, the fuzzing compiler, does not have; nn/model_file.hpp's load_model builds it only after these
// checks passed.)
#include <cstdint>
#include <cstdio>
#include <string>

#include "ichseg/nn/model_info.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::TempDir tmp("/tmp/ichseg-fuzz-model-XXXXXX");
    const std::string path = tmp.path + "/model.safetensors";
    if (!fuzz::write_input(path, data, size)) return 0;
    try {
        const ichseg::io::SafetensorsFile s = ichseg::io::SafetensorsFile::read(path);
        for (const auto& k : s.keys()) {  // every tensor converts (dtype, shape and offsets were validated)
            const auto t = s.get<float>(k);
            if (t.numel() != ichseg::numel(s.entry(k).shape)) __builtin_trap();
        }
        const ichseg::nn::ModelInfo info = ichseg::nn::read_model_info(s);
        if (info.input_size <= 0) __builtin_trap();
        ichseg::nn::check_model_tensors(s, info);  // what load_model checks before it builds the network
    } catch (const ichseg::Error&) {
    }
    return 0;
}
