#!/usr/bin/env python3
"""Golden values for ichseg's op, loss and network tests, generated with PyTorch.

Regenerate (deliberately, and commit the result):

    python3 tests/golden/gen_golden.py            # from the repository root; needs torch (CPU), numpy, safetensors

It rewrites tests/golden/*.safetensors. The C++ tests read these files with ichseg::io::SafetensorsFile
(directory given by the compile definition ICHSEG_TEST_DATA_DIR), so running the tests never needs Python.

Two kinds of file:

* ops_<op>.safetensors, loss_<name>.safetensors: one or more cases per op, keys "<case>.<tensor>". Inputs are
  float32 values (stored as F32). Every expected output and gradient is computed by PyTorch in float64 from
  exactly those float32 inputs and stored as F64, so a test can check ichseg<double> to ~1e-12 and ichseg<float>
  to a float32 tolerance against the same exact reference. Gradients are vector-Jacobian products with a stored
  upstream gradient "gy" (or of the scalar loss). Inputs are drawn away from kinks (ReLU at 0, max-pool ties).

* unet_*.safetensors, encoder_mlp_*, partial_unet_*: end-to-end parity of the small networks in float32, exactly
  as PyTorch computes them. The U-Net: base width 4, depth 4, mid_channels_factor 2, batch 3 of 64x64 (so that
  ichseg's float path uses im2col, Winograd F(2x2) and F(4x4) convolutions). unet_state.safetensors is a PyTorch state_dict (safetensors.torch.save_file, so
  num_batches_tracked is I64) whose BN running statistics are NOT the defaults (three train-mode forwards were
  run on random batches). unet_parity.safetensors holds the fixed batch, the target (one empty mask), and for
  train mode (batch statistics) and eval mode (running statistics): the sigmoid output, the mixed Dice loss
  (alpha 0.2) and every parameter gradient, plus the buffers after the train-mode forward.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'benchmarks', 'reference'))
import ichseg_torch as it  # noqa: E402

torch.set_num_threads(1)
# One metadata entry only: safetensors writes metadata in hash order, so several keys would make the bytes
# differ from run to run.
META = {'generator': 'tests/golden/gen_golden.py, torch ' + torch.__version__}


def f32(t):
    """A float32 input (what the C++ test reads), detached and contiguous."""
    return t.detach().to(torch.float32).contiguous()


def save(name, tensors):
    out = {}
    for k, v in tensors.items():
        v = v.detach().contiguous()
        if v.dtype == torch.float64 or v.dtype == torch.float32 or v.dtype == torch.int64:
            out[k] = v
        else:
            raise TypeError(f'{name}:{k}: unexpected dtype {v.dtype}')
    path = os.path.join(HERE, name + '.safetensors')
    save_file(out, path, metadata=META)
    print(f'{path}: {len(out)} tensors, {os.path.getsize(path)} bytes')


def vjp(fn, inputs, gy=None):
    """fn(*inputs as float64 leaves) -> (output, grads of sum(output * gy)) in float64."""
    xs = [x.detach().double().requires_grad_(True) for x in inputs]
    y = fn(*xs)
    if gy is None:
        y.backward()
    else:
        y.backward(gy.double())
    return y.detach(), [x.grad for x in xs]


def away_from_zero(t, margin=0.1):
    return torch.sign(t) * (t.abs() + margin) + (t == 0).float() * margin


# ---- ops -------------------------------------------------------------------------------------------------------

def gen_conv2d():
    torch.manual_seed(101)
    cases = {
        # name: (x shape, w shape, stride, padding)
        'k3p1': ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (1, 1)),
        'k1': ((2, 5, 4, 4), (3, 5, 1, 1), (1, 1), (0, 0)),
        's2k3p1odd': ((2, 3, 7, 9), (4, 3, 3, 3), (2, 2), (1, 1)),
        'rect': ((1, 2, 7, 6), (3, 2, 3, 2), (2, 1), (1, 0)),
        'wide': ((2, 8, 6, 6), (8, 8, 3, 3), (1, 1), (1, 1)),  # >= 8 channels: float may use Winograd
    }
    d = {}
    for name, (xs, ws, stride, pad) in cases.items():
        x, w, b = f32(torch.randn(xs)), f32(torch.randn(ws) * 0.3), f32(torch.randn(ws[0]))
        y0 = F.conv2d(x, w, b, stride, pad)
        gy = f32(torch.randn(y0.shape))
        y, (dx, dw, db) = vjp(lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride, pad), [x, w, b], gy)
        d.update({f'{name}.x': x, f'{name}.w': w, f'{name}.b': b, f'{name}.gy': gy, f'{name}.y': y,
                  f'{name}.dx': dx, f'{name}.dw': dw, f'{name}.db': db,
                  f'{name}.stride': torch.tensor(stride), f'{name}.padding': torch.tensor(pad)})
    save('ops_conv2d', d)


def gen_conv_transpose2d():
    torch.manual_seed(102)
    cases = {
        # name: (x shape, w shape (Cin, Cout, R, S), stride, padding, output_padding)
        'k2s2': ((2, 4, 3, 5), (4, 3, 2, 2), 2, 0, 0),
        'k3s2p1op1': ((1, 3, 4, 3), (3, 2, 3, 3), 2, 1, 1),
    }
    d = {}
    for name, (xs, ws, s, p, op) in cases.items():
        x, w, b = f32(torch.randn(xs)), f32(torch.randn(ws) * 0.4), f32(torch.randn(ws[1]))
        y0 = F.conv_transpose2d(x, w, b, s, p, op)
        gy = f32(torch.randn(y0.shape))
        y, (dx, dw, db) = vjp(lambda x_, w_, b_: F.conv_transpose2d(x_, w_, b_, s, p, op), [x, w, b], gy)
        d.update({f'{name}.x': x, f'{name}.w': w, f'{name}.b': b, f'{name}.gy': gy, f'{name}.y': y,
                  f'{name}.dx': dx, f'{name}.dw': dw, f'{name}.db': db,
                  f'{name}.params': torch.tensor([s, p, op])})
    save('ops_conv_transpose2d', d)


def gen_batchnorm2d():
    torch.manual_seed(103)
    d = {}
    x = f32(torch.randn(3, 4, 5, 5) * 1.7 + 0.6)
    gamma, beta = f32(torch.rand(4) + 0.5), f32(torch.randn(4))
    rm, rv = f32(torch.randn(4) * 0.2), f32(torch.rand(4) + 0.5)
    gy = f32(torch.randn(x.shape))
    for name, training, relu in [('train', True, False), ('train_relu', True, True), ('eval', False, False),
                                 ('eval_relu', False, True)]:
        rm64, rv64 = rm.double().clone(), rv.double().clone()

        def fn(x_, g_, b_):
            y_ = F.batch_norm(x_, rm64, rv64, g_, b_, training, 0.1, 1e-5)
            return F.relu(y_) if relu else y_
        y, (dx, dg, db) = vjp(fn, [x, gamma, beta], gy)
        d.update({f'{name}.y': y, f'{name}.dx': dx, f'{name}.dgamma': dg, f'{name}.dbeta': db,
                  f'{name}.running_mean': rm64, f'{name}.running_var': rv64})
    d.update({'x': x, 'gamma': gamma, 'beta': beta, 'running_mean0': rm, 'running_var0': rv, 'gy': gy})
    save('ops_batchnorm2d', d)


def gen_pointwise():
    torch.manual_seed(104)
    x = f32(away_from_zero(torch.randn(3, 4, 5)))
    gy = f32(torch.randn(x.shape))
    y, (dx,) = vjp(F.relu, [x], gy)
    save('ops_relu', {'x': x, 'gy': gy, 'y': y, 'dx': dx})

    x = f32(torch.randn(3, 7) * 3)
    gy = f32(torch.randn(x.shape))
    y, (dx,) = vjp(torch.sigmoid, [x], gy)
    save('ops_sigmoid', {'x': x, 'gy': gy, 'y': y, 'dx': dx})

    d = {}
    for name, shape in [('2d', (4, 5)), ('3d', (2, 3, 4))]:
        x = f32(torch.randn(shape) * 2)
        gy = f32(torch.randn(shape))
        y, (dx,) = vjp(lambda v: torch.softmax(v, -1), [x], gy)
        d.update({f'{name}.x': x, f'{name}.gy': gy, f'{name}.y': y, f'{name}.dx': dx})
    save('ops_softmax', d)

    a, b = f32(torch.randn(2, 3, 4)), f32(torch.randn(2, 3, 4))
    gy = f32(torch.randn(2, 3, 4))
    ya, (daa, dab) = vjp(torch.add, [a, b], gy)
    ym, (dma, dmb) = vjp(torch.mul, [a, b], gy)
    save('ops_arithmetic', {'a': a, 'b': b, 'gy': gy, 'add.y': ya, 'add.da': daa, 'add.db': dab, 'mul.y': ym,
                            'mul.da': dma, 'mul.db': dmb})


def gen_max_pool2d():
    torch.manual_seed(105)
    d = {}
    for name, shape in [('even', (2, 3, 6, 8)), ('odd', (1, 2, 7, 5))]:
        n = int(np.prod(shape))
        x = f32((torch.randperm(n).double() / n * 4 - 2).reshape(shape))  # distinct values: no ties
        y0 = F.max_pool2d(x, 2)
        gy = f32(torch.randn(y0.shape))
        y, (dx,) = vjp(lambda v: F.max_pool2d(v, 2), [x], gy)
        d.update({f'{name}.x': x, f'{name}.gy': gy, f'{name}.y': y, f'{name}.dx': dx})
    save('ops_max_pool2d', d)


def gen_concat_pool_linear_reshape():
    torch.manual_seed(106)
    a, b = f32(torch.randn(2, 3, 4, 4)), f32(torch.randn(2, 5, 4, 4))
    gy = f32(torch.randn(2, 8, 4, 4))
    y, (da, db) = vjp(lambda u, v: torch.cat([u, v], 1), [a, b], gy)
    a0, b0 = f32(torch.randn(1, 3, 2)), f32(torch.randn(2, 3, 2))
    gy0 = f32(torch.randn(3, 3, 2))
    y0, (da0, db0) = vjp(lambda u, v: torch.cat([u, v], 0), [a0, b0], gy0)
    save('ops_concat', {'dim1.a': a, 'dim1.b': b, 'dim1.gy': gy, 'dim1.y': y, 'dim1.da': da, 'dim1.db': db,
                        'dim0.a': a0, 'dim0.b': b0, 'dim0.gy': gy0, 'dim0.y': y0, 'dim0.da': da0,
                        'dim0.db': db0})

    x = f32(torch.randn(3, 4, 5, 6))
    gy = f32(torch.randn(3, 4))
    y, (dx,) = vjp(lambda v: v.mean((2, 3)), [x], gy)
    save('ops_global_avg_pool', {'x': x, 'gy': gy, 'y': y, 'dx': dx})

    x, w, bb = f32(torch.randn(4, 6)), f32(torch.randn(5, 6) * 0.4), f32(torch.randn(5))
    gy = f32(torch.randn(4, 5))
    y, (dx, dw, dbb) = vjp(F.linear, [x, w, bb], gy)
    save('ops_linear', {'x': x, 'w': w, 'b': bb, 'gy': gy, 'y': y, 'dx': dx, 'dw': dw, 'db': dbb})

    x = f32(torch.randn(2, 3, 4, 5))
    gy = f32(torch.randn(2, 60))
    y, (dx,) = vjp(lambda v: torch.flatten(v, 1), [x], gy)
    gy2 = f32(torch.randn(6, 20))
    y2, (dx2,) = vjp(lambda v: v.reshape(6, 20), [x], gy2)
    save('ops_reshape', {'x': x, 'flatten.gy': gy, 'flatten.y': y, 'flatten.dx': dx, 'reshape.gy': gy2,
                         'reshape.y': y2, 'reshape.dx': dx2})


# ---- losses ----------------------------------------------------------------------------------------------------

def gen_losses():
    torch.manual_seed(201)
    # Soft and mixed Dice on probabilities; samples 1 and 3 have empty masks.
    p = f32(torch.sigmoid(torch.randn(4, 1, 6, 6) * 2))
    t = (torch.rand(4, 1, 6, 6) < 0.4).float()
    t[1] = 0
    t[3] = 0
    t = f32(t)
    d = {'p': p, 't': t}
    for name, alpha in [('soft', 1.0), ('mixed', 0.2)]:
        loss, (dp,) = vjp(lambda p_: it.soft_dice_loss(p_, t.double(), 1.0, alpha), [p])
        d.update({f'{name}.loss': loss.reshape(1), f'{name}.dp': dp})
    # Dice through the sigmoid (what the U-Net does): gradient with respect to the logits.
    z = f32(torch.randn(4, 1, 6, 6) * 2)
    loss, (dz,) = vjp(lambda z_: it.soft_dice_loss(torch.sigmoid(z_), t.double(), 1.0, 0.2), [z])
    d.update({'logits': z, 'mixed_logits.loss': loss.reshape(1), 'mixed_logits.dz': dz})
    save('loss_dice', d)

    # Multi-label Dice over 7 sigmoid outputs per sample.
    z = f32(torch.randn(5, 7) * 1.5)
    t = f32((torch.rand(5, 7) < 0.3).float())
    loss, (dz,) = vjp(lambda z_: it.soft_dice_loss(torch.sigmoid(z_), t.double(), 1.0, 1.0), [z])
    save('loss_multilabel_dice', {'logits': z, 't': t, 'loss': loss.reshape(1), 'dz': dz})

    y, t = f32(torch.randn(2, 1, 5, 5)), f32(torch.rand(2, 1, 5, 5))
    loss, (dy,) = vjp(lambda y_: F.mse_loss(y_, t.double()), [y])
    save('loss_mse', {'y': y, 't': t, 'loss': loss.reshape(1), 'dy': dy})

    z = f32(torch.randn(8, 16))
    loss, (dz,) = vjp(lambda z_: it.nt_xent_loss(z_, 0.1), [z])
    save('loss_nt_xent', {'z': z, 'loss': loss.reshape(1), 'dz': dz})

    f1, f2 = f32(torch.randn(2, 5, 9, 12)), f32(torch.randn(2, 5, 9, 12))
    cells = torch.stack([torch.randperm(12)[:4] for _ in range(2)]).to(torch.int64)  # 3 x 4 grid of 3x3 cells
    loss, (d1, d2) = vjp(lambda a, b: it.local_contrastive_loss(a, b, cells, 3, 0.1), [f1, f2])
    save('loss_local_contrastive', {'f1': f1, 'f2': f2, 'cells': cells, 'loss': loss.reshape(1), 'df1': d1,
                                    'df2': d2})

    d = {}
    for name, (b, k) in [('binary', (5, 2)), ('k3', (4, 3))]:
        x = f32(torch.randn(b, k) * 2)
        y = torch.randint(0, k, (b,), dtype=torch.int64)
        loss, (dx,) = vjp(lambda x_: F.cross_entropy(x_, y), [x])
        d.update({f'{name}.x': x, f'{name}.labels': y, f'{name}.loss': loss.reshape(1), f'{name}.dx': dx})
    save('loss_cross_entropy', d)

    x = f32(torch.randn(6, 7) * 3)
    t = f32((torch.rand(6, 7) < 0.3).float())
    pw = f32(torch.rand(7) * 5 + 0.5)
    loss, (dx,) = vjp(lambda x_: F.binary_cross_entropy_with_logits(x_, t.double(), pos_weight=pw.double()), [x])
    loss1, (dx1,) = vjp(lambda x_: F.binary_cross_entropy_with_logits(x_, t.double()), [x])
    save('loss_bce_with_logits', {'x': x, 't': t, 'pos_weight': pw, 'loss': loss.reshape(1), 'dx': dx,
                                  'nopw.loss': loss1.reshape(1), 'nopw.dx': dx1})


# ---- networks (float32, as PyTorch computes them) --------------------------------------------------------------

def blob_masks(b, h, w, empty, seed=7):
    """b masks with one filled ellipse each; masks listed in `empty` are all zero."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing='ij')
    t = torch.zeros(b, 1, h, w)
    for i in range(b):
        if i in empty:
            continue
        cy, cx = torch.rand(2, generator=g) * torch.tensor([h * 0.5, w * 0.5]) + torch.tensor([h * 0.25, w * 0.25])
        ry, rx = torch.rand(2, generator=g) * 8 + 5
        t[i, 0] = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1).float()
    return t


# ReLU and max-pool are not differentiable at their kinks (z = 0; two equal maxima). A float32 forward lands
# within ~1e-6 (relative to the channel's RMS) of the float64 one, so an activation that close to a kink may take
# the other branch in float32 and route its gradient differently: a legitimate O(1e-2) change of a gradient, not
# an error. This happened: a GCC -fsanitize build moved one batch-norm output of -7.5e-7 (float64) to +2.7e-7 and
# a bias gradient moved by 3 % of its scale (docs/ops.md section 7). So the parity batch is chosen such that
# flipping every decision within KINK_REL (10x the float32 deviation) of its kink, all at once, moves no parameter
# gradient by more than KINK_MAX_DEVIATION of its scale (a third of the C++ test's 3e-4 tolerance).
KINK_REL = 1e-5
KINK_MAX_DEVIATION = 1e-4


def kink_flip_deviation(net, state, x, t, mode):
    """Largest change of a parameter gradient (relative to the scale the C++ parity test uses) when every ReLU
    and 2x2 max-pool decision within KINK_REL * (channel RMS) of its kink is flipped, in float64."""
    orig_relu, orig_pool = F.relu, F.max_pool2d

    def flipped_relu(z, *args, **kwargs):
        zd = z.detach()
        rms = zd.pow(2).mean(dim=(0, 2, 3), keepdim=True).sqrt()
        return z * ((zd > 0) ^ (zd.abs() < KINK_REL * rms))

    def flipped_pool(p, *args, **kwargs):
        # Raise each near-tied runner-up just above its window's maximum: the gradient goes to it instead.
        B, C, H, W = p.shape
        pd = p.detach()
        win = pd.reshape(B, C, H // 2, 2, W // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(B, C, H // 2, W // 2, 4)
        s, idx = win.sort(dim=-1, descending=True)
        gap = s[..., 0] - s[..., 1]
        rms = pd.pow(2).mean(dim=(0, 2, 3)).sqrt()[None, :, None, None]
        near = (gap > 0) & (gap < KINK_REL * rms) & (s[..., 0] > 0)
        bump = torch.zeros_like(win).scatter_(-1, idx[..., 1:2], (near * 2 * gap).unsqueeze(-1))
        bump = bump.reshape(B, C, H // 2, W // 2, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(B, C, H, W)
        return orig_pool(p + bump, 2)

    def grads(flip):
        n = copy.deepcopy(net).double()
        n.load_state_dict(state)
        n.train(mode == 'train')
        if flip:
            F.relu, F.max_pool2d = flipped_relu, flipped_pool
        try:
            it.soft_dice_loss(n(x.double()), t.double(), 1.0, 0.2).backward()
        finally:
            F.relu, F.max_pool2d = orig_relu, orig_pool
        return {k: p.grad.clone() for k, p in n.named_parameters()}

    g0, g1 = grads(False), grads(True)

    def scale(k):  # as grad_scale in tests/nn/test_unet_parity.cpp
        s = g0[k].abs().max().item()
        if k.endswith('.bias') and k[:-5] + '.weight' in g0:
            s = max(s, g0[k[:-5] + '.weight'].abs().max().item())
        return s

    return max((g1[k] - g0[k]).abs().max().item() / scale(k) for k in g0)


def gen_unet():
    torch.manual_seed(301)
    cfg = dict(in_channels=1, out_channels=1, base_width=4, depth=4, mid_channels_factor=2)
    net = it.UNet(**cfg)
    # Move the running statistics away from their defaults: three train-mode forwards on batches like the test
    # batch (so that eval-mode activations are alive and the eval-mode gradients are not degenerate).
    net.train()
    with torch.no_grad():
        for k in range(3):
            tk = blob_masks(3, 64, 64, empty={k}, seed=100 + k)
            net(tk * 0.6 + 0.2 + 0.15 * torch.randn(3, 1, 64, 64))
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    save_file(state, os.path.join(HERE, 'unet_state.safetensors'), metadata={'format': 'pt'})
    print('unet_state.safetensors:', len(state), 'tensors')

    t = blob_masks(3, 64, 64, empty={1})
    # The test batch: the first noise seed whose batch keeps every ReLU and max-pool decision away from its kink
    # (see kink_flip_deviation).
    for seed in range(100):
        g = torch.Generator().manual_seed(seed)
        x = (t * 0.6 + 0.2 + 0.15 * torch.randn(3, 1, 64, 64, generator=g)).contiguous()
        dev = {mode: kink_flip_deviation(net, state, x, t, mode) for mode in ('train', 'eval')}
        if max(dev.values()) < KINK_MAX_DEVIATION:
            break
    else:
        raise RuntimeError('gen_unet: no batch noise seed in 0..99 keeps the ReLU / max-pool decisions off their kinks')
    print(f'unet_parity: batch noise seed {seed}, kink-flip deviation train {dev["train"]:.2g}, eval {dev["eval"]:.2g}')
    d = {'x': x, 't': t, 'config': torch.tensor([cfg['in_channels'], cfg['out_channels'], cfg['base_width'],
                                                 cfg['depth'], cfg['mid_channels_factor']])}
    for mode in ('train', 'eval'):
        net.load_state_dict(state)
        net.train(mode == 'train')
        net.zero_grad(set_to_none=True)
        y = net(x)
        loss = it.soft_dice_loss(y, t, 1.0, 0.2)
        loss.backward()
        d[f'{mode}.y'] = y.detach()
        d[f'{mode}.loss'] = loss.detach().reshape(1)
        for k, p in net.named_parameters():
            d[f'{mode}.grad.{k}'] = p.grad.detach().clone()
        if mode == 'train':
            for k, v in net.state_dict().items():
                if 'running' in k or 'num_batches' in k:
                    d[f'{mode}.state.{k}'] = v.detach().clone()
    save('unet_parity', d)


def gen_unet_bf16_step():
    """A BF16 mixed-precision training step of the parity U-Net (unet_state.safetensors, the unet_parity batch and
    target), as PyTorch computes it under torch.autocast('cpu', dtype=torch.bfloat16) around the forward pass
    (convolutions in BF16, batch norm and the loss in float32; the loss of the float32 output), train mode: the
    output, the loss, every parameter gradient, the running statistics after the forward, and the parameters
    after one Adam step (lr 1e-3, weight decay 1e-6). The same step in float64 ("ref.*") is the exact reference:
    the C++ test measures ichseg's BF16 step and PyTorch's against it, so its tolerance is PyTorch's own BF16
    error (stored per tensor as bf16dev.*: max |torch_bf16 - float64| over the tensor's scale)."""
    cfg = dict(in_channels=1, out_channels=1, base_width=4, depth=4, mid_channels_factor=2)
    state = load_file(os.path.join(HERE, 'unet_state.safetensors'))
    par = load_file(os.path.join(HERE, 'unet_parity.safetensors'))
    x, t = par['x'], par['t']
    d = {}

    def step(dtype, autocast):
        net = it.UNet(**cfg).to(dtype)
        net.load_state_dict({k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()})
        net.train()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            y = net(x.to(dtype))
        loss = it.soft_dice_loss(y.to(dtype), t.to(dtype), 1.0, 0.2)
        loss.backward()
        grads = {k: p.grad.detach().clone() for k, p in net.named_parameters()}
        stats = {k: v.detach().clone() for k, v in net.state_dict().items() if 'running' in k}
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-6)
        opt.step()
        after = {k: p.detach().clone() for k, p in net.named_parameters()}
        return y.detach().to(dtype), loss.detach().reshape(1), grads, stats, after

    yb, lb, gb, sb, ab = step(torch.float32, True)
    yr, lr_, gr, sr, ar = step(torch.float64, False)

    def scale(g, k):  # as grad_scale in tests/nn/test_unet_parity.cpp
        s = g[k].abs().max().item()
        if k.endswith('.bias') and k[:-5] + '.weight' in g:
            s = max(s, g[k[:-5] + '.weight'].abs().max().item())
        return s

    d['bf16.y'], d['bf16.loss'] = yb.float(), lb.float()
    d['ref.y'], d['ref.loss'] = yr, lr_
    d['bf16dev.y'] = torch.tensor([((yb.double() - yr).abs().max() / yr.abs().max()).item()], dtype=torch.float64)
    worst = 0.0
    for k in gb:
        d[f'bf16.grad.{k}'] = gb[k].float()
        d[f'ref.grad.{k}'] = gr[k]
        dev = (gb[k].double() - gr[k]).abs().max().item() / scale(gr, k)
        d[f'bf16dev.grad.{k}'] = torch.tensor([dev], dtype=torch.float64)
        worst = max(worst, dev)
        d[f'bf16.after.{k}'] = ab[k].float()
    for k in sb:
        d[f'bf16.state.{k}'] = sb[k].float()
        d[f'ref.state.{k}'] = sr[k]
    print(f'unet_bf16_step: PyTorch bf16 autocast vs float64: output {d["bf16dev.y"].item():.2g} of scale, loss '
          f'{abs(lb.item() - lr_.item()) / abs(lr_.item()):.2g} relative, gradients up to {worst:.2g} of scale')
    save('unet_bf16_step', d)


def gen_encoder_mlp_and_partial_unet():
    torch.manual_seed(302)
    enc = it.EncoderMLP([32, 16, 8], in_channels=1, base_width=4, depth=4, mid_channels_factor=2)
    pun = it.PartialUNet((8, 16, 4), in_channels=1, base_width=4, depth=4, mid_channels_factor=2, n_decoder=2)
    x = torch.randn(2, 1, 16, 16)
    d = {'x': x}
    for name, net in [('encoder_mlp', enc), ('partial_unet', pun)]:
        save_file({k: v.detach().clone().contiguous() for k, v in net.state_dict().items()},
                  os.path.join(HERE, f'{name}_state.safetensors'), metadata={'format': 'pt'})
        net.train()
        with torch.no_grad():
            d[f'{name}.train.y'] = net(x).detach().clone()
            net.eval()
            d[f'{name}.eval.y'] = net(x).detach().clone()
    save('encoder_heads_parity', d)


def gen_adam():
    """torch.optim.Adam with coupled L2 weight decay and ExponentialLR: parameters after each of 5 steps with fixed
    gradients (the gradient of step k is grads[k]); lr 1e-2, betas (0.9, 0.999), eps 1e-8, weight decay 0.1
    (large, so a wrong decay shows), lr multiplied by 0.5 after steps 2 and 4 (scheduler.step())."""
    torch.manual_seed(401)
    p0 = f32(torch.randn(3, 4))
    grads = f32(torch.randn(5, 3, 4))
    grads[2, 0, 0] = 0.0  # a zero gradient element
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    after = []
    for k in range(5):
        p.grad = grads[k].clone()
        opt.step()
        after.append(p.detach().clone())
        if k in (1, 3):
            sched.step()
    st = opt.state[p]
    save('optim_adam', {'p0': p0, 'grads': grads, 'after': torch.stack(after), 'exp_avg': st['exp_avg'],
                        'exp_avg_sq': st['exp_avg_sq']})


if __name__ == '__main__':
    gen_conv2d()
    gen_conv_transpose2d()
    gen_batchnorm2d()
    gen_pointwise()
    gen_max_pool2d()
    gen_concat_pool_linear_reshape()
    gen_losses()
    gen_unet()
    gen_unet_bf16_step()
    gen_encoder_mlp_and_partial_unet()
    gen_adam()
