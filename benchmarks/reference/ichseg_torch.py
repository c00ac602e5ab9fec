"""PyTorch twins of ichseg's networks and losses (SPEC sections 3 and 4).

The module trees here give exactly the state_dict keys that ichseg's C++ modules use, so a checkpoint moves
between the two with safetensors in one call each way. Used by the golden-value generator, the PyTorch
reference benchmarks and the interop scripts; never needed to build, test or run ichseg.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DownBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU; conv1 outputs `mid` channels."""

    def __init__(self, cin, mid, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


class UpBlock(nn.Module):
    """2x2 stride-2 transposed conv (cin -> cin/2), cat([skip, up]), then conv 2c -> c, conv c -> c."""

    def __init__(self, cin):
        super().__init__()
        c = cin // 2
        self.up = nn.ConvTranspose2d(cin, c, 2, stride=2)
        self.conv1 = nn.Conv2d(2 * c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x, skip):
        x = torch.cat([skip, self.up(x)], 1)
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


def block_widths(in_channels, base_width, depth, mid_channels_factor):
    """(cin, mid, cout) of each encoder block: outputs base*2^i; conv1 gives cout/factor channels."""
    out = []
    cin = in_channels
    for i in range(depth):
        cout = base_width * 2 ** i
        out.append((cin, cout // mid_channels_factor, cout))
        cin = cout
    return out


class UNetEncoder(nn.Module):
    def __init__(self, in_channels=1, base_width=32, depth=5, mid_channels_factor=2, dropout=0.0):
        super().__init__()
        self.blocks = nn.ModuleList(
            [DownBlock(*w) for w in block_widths(in_channels, base_width, depth, mid_channels_factor)])
        self.dropout = dropout

    def forward_features(self, x):
        skips = []
        for i, b in enumerate(self.blocks):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = b(x)
            if self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
            skips.append(x)
        return skips

    def forward(self, x):
        return self.forward_features(x)[-1]


class UNetDecoder(nn.Module):
    def __init__(self, base_width=32, depth=5, n_blocks=None):
        super().__init__()
        n_blocks = depth - 1 if n_blocks is None else n_blocks
        self.blocks = nn.ModuleList([UpBlock(base_width * 2 ** (depth - 1 - i)) for i in range(n_blocks)])

    def forward(self, feats):
        x = feats[-1]
        for i, b in enumerate(self.blocks):
            x = b(x, feats[-2 - i])
        return x


class UNet(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, base_width=32, depth=5, mid_channels_factor=2, dropout=0.0,
                 sigmoid=True):
        super().__init__()
        self.encoder = UNetEncoder(in_channels, base_width, depth, mid_channels_factor, dropout)
        self.decoder = UNetDecoder(base_width, depth)
        self.head = nn.Conv2d(base_width, out_channels, 1)
        self.sigmoid = sigmoid

    def forward(self, x):
        y = self.head(self.decoder(self.encoder.forward_features(x)))
        return torch.sigmoid(y) if self.sigmoid else y


def mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        if i > 0:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(widths[i], widths[i + 1]))
    return nn.Sequential(*layers)


class EncoderMLP(nn.Module):
    """U-Net encoder, global average pool, MLP head (e.g. 512-512-128 contrastive, 512-1024-256-7 multi-label)."""

    def __init__(self, head_widths, in_channels=1, base_width=32, depth=5, mid_channels_factor=2):
        super().__init__()
        self.encoder = UNetEncoder(in_channels, base_width, depth, mid_channels_factor)
        self.mlp_head = mlp(head_widths)  # not "head": the U-Net's head must never receive it in a transfer

    def forward(self, x):
        return self.mlp_head(self.encoder(x).mean((2, 3)))


class PartialUNet(nn.Module):
    """Encoder + first `n_decoder` decoder blocks + 1x1-conv projection head (local contrastive)."""

    def __init__(self, head_widths=(64, 128, 32), in_channels=1, base_width=32, depth=5, mid_channels_factor=2,
                 n_decoder=3):
        super().__init__()
        self.encoder = UNetEncoder(in_channels, base_width, depth, mid_channels_factor)
        self.decoder = UNetDecoder(base_width, depth, n_decoder)
        layers = []
        for i in range(len(head_widths) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Conv2d(head_widths[i], head_widths[i + 1], 1))
        self.projection_head = nn.Sequential(*layers)  # distinct from the U-Net's "head" and EncoderMLP's "mlp_head"

    def forward(self, x):
        return self.projection_head(self.decoder(self.encoder.forward_features(x)))


# ---- losses (SPEC section 4) ---------------------------------------------------------------------------------

def soft_dice_loss(p, t, eps=1.0, alpha=1.0):
    """Per-sample 1 - (2 sum p t + eps) / (sum p^2 + sum t^2 + eps); empty-mask samples weighted by alpha;
    divided by the batch size B."""
    p = p.reshape(p.shape[0], -1)
    t = t.reshape(t.shape[0], -1)
    inter = (p * t).sum(1)
    den = (p * p).sum(1) + (t * t).sum(1)
    d = 1 - (2 * inter + eps) / (den + eps)
    w = torch.where(t.sum(1) == 0, torch.full_like(d, alpha), torch.ones_like(d))
    return (w * d).sum() / p.shape[0]


def nt_xent_loss(z, tau=0.1):
    """z: (2N, D), rows i and i+N are the two views of one image."""
    n2 = z.shape[0]
    n = n2 // 2
    u = F.normalize(z, dim=1)
    sim = u @ u.t() / tau
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), float('-inf'))
    pos = torch.cat([torch.arange(n, n2), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, pos)


def local_contrastive_loss(f1, f2, cells, k=3, tau=0.1):
    """f1, f2: (B, C, H, W); cells: (B, R) flat indices into the (H//k, W//k) grid of k x k cells."""
    b, c, h, w = f1.shape
    gw = w // k
    losses = []
    for i in range(b):
        vecs = []
        for f in (f1, f2):
            for r in cells[i].tolist():
                y, x = divmod(r, gw)
                vecs.append(f[i, :, y * k:(y + 1) * k, x * k:(x + 1) * k].reshape(-1))
        losses.append(nt_xent_loss(torch.stack(vecs), tau))
    return torch.stack(losses).mean()
