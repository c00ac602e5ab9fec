"""The paper U-Net's convolutions at batch 32, 256 x 256 input, as the GPU layer benchmarks name them, and the
compact subset that tools/gpu_verify.sh runs. No PyTorch import: tools/gpu_summary.py reads these lists to know
which benchmarks a verification run must report. The C++ twin is benchmarks/bench_cuda_layers.cpp;
`tools/gpu_verify.sh dry-run` checks that the two give the same names.

A layer is (name, N, C, H, K, R, stride, pad): x (N, C, H, H), w (K, C, R, R). The up-convolution dec<i>.up(T)
(conv_transpose2d cin -> c, 2x2, stride 2) is written as the conv2d whose dgrad role is its forward.
"""

ROLES = ('fprop', 'dgrad', 'wgrad')

# compact: the single-channel input layer, the C -> 2C conv of each encoder level, and the up-convolution and
# the 2c -> c conv (the decoder's largest) of each decoder level, and the head: one layer of each kind per
# resolution.
COMPACT = ('enc0.conv1', 'enc0.conv2', 'enc1.conv2', 'enc2.conv2', 'enc3.conv2', 'enc4.conv2',
           'dec0.up(T)', 'dec0.conv1', 'dec1.up(T)', 'dec1.conv1', 'dec2.up(T)', 'dec2.conv1',
           'dec3.up(T)', 'dec3.conv1', 'head')

# ichseg precisions and cuDNN (ichseg's cuDNN backend) precisions per set. The cuDNN backend has no BF16; the
# BF16 baseline is PyTorch (gpu_layers.py), whose compact modes are tf32 and bf16.
ICHSEG_PRECISIONS = {'compact': ('tf32', 'bf16'), 'full': ('fp32', 'tf32', 'bf16')}
CUDNN_PRECISIONS = {'compact': ('tf32',), 'full': ('fp32', 'tf32')}
TORCH_MODES = {'compact': ('tf32', 'bf16'), 'full': ('fp32', 'tf32', 'bf16')}


def layers(batch=32):
    out, cin, base, size = [], 1, 32, 256
    for lvl in range(5):
        w, hw = base << lvl, size >> lvl
        out += [(f'enc{lvl}.conv1', batch, cin, hw, w // 2, 3, 1, 1), (f'enc{lvl}.conv2', batch, w // 2, hw, w, 3, 1, 1)]
        cin = w
    for i in range(4):
        cin, hw = base << (4 - i), size >> (3 - i)
        c = cin // 2
        out += [(f'dec{i}.up(T)', batch, c, hw, cin, 2, 2, 0), (f'dec{i}.conv1', batch, 2 * c, hw, c, 3, 1, 1),
                (f'dec{i}.conv2', batch, c, hw, c, 3, 1, 1)]
    out.append(('head', batch, base, size, 1, 1, 1, 0))
    return out


def selected(which='compact', batch=32):
    """The layers of a set, in benchmark order."""
    return [l for l in layers(batch) if which == 'full' or l[0] in COMPACT]


def flops(layer):
    _, n, c, h, k, r, stride, pad = layer
    p = (h + 2 * pad - r) // stride + 1
    return 2.0 * n * k * c * r * r * p * p


def cpp_names(which='compact', have_cudnn=True):
    """The base names (without Google Benchmark's suffixes) that bench_cuda_layers registers, in its order."""
    names = []
    for layer in selected(which):
        for role in ROLES:
            stem = f'conv/{layer[0]}/{role}/'
            names += [stem + 'ichseg/' + p for p in ICHSEG_PRECISIONS[which]]
            if have_cudnn:
                names += [stem + 'cudnn/' + p for p in CUDNN_PRECISIONS[which]]
    return names


if __name__ == '__main__':
    import sys
    print('\n'.join(cpp_names(sys.argv[1] if len(sys.argv) > 1 else 'compact')))
