// A user's program: build a small U-Net from the installed headers, run one training step, save and reload it;
// and read the study's built-in profiles, which the installed package carries (embedded from examples/configs/).
#include <ichseg/ichseg.hpp>
#include <ichseg/study/config.hpp>

#include <cstdio>

int main() {
    using namespace ichseg;
    std::printf("%s\n", build_info().c_str());
    nn::UNetConfig cfg;
    cfg.base_width = 4;
    cfg.depth = 3;
    nn::UNet<float> net(cfg);
    optim::Adam<float> opt(net.parameters());
    Tensor<float> x = Tensor<float>::full({2, 1, 16, 16}, 0.5f), t = Tensor<float>::zeros({2, 1, 16, 16});
    Var<float> loss = dice_loss(net(Var<float>(x)), t);
    loss.backward();
    opt.step();
    nn::save_state_dict(net, "consumer_unet.safetensors");
    nn::UNet<float> again(cfg);
    nn::load_state_dict(again, "consumer_unet.safetensors");
    const study::StudyConfig quick = study::profile_config("quick");
    std::printf("built-in study profiles: %s (quick: %lld px, U-Net base width %lld)\n", study::profile_list().c_str(),
                static_cast<long long>(quick.input_size), static_cast<long long>(quick.unet.base_width));
    std::printf("consumer OK: %lld parameters, loss %.4f\n", static_cast<long long>(net.num_parameters()),
                loss.value().to_vector()[0]);
    return 0;
}
