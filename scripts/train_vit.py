#!/usr/bin/env python3
"""Train a small Vision Transformer on an IDX dataset (MNIST, Fashion-MNIST) and export it.

The model follows timm's VisionTransformer exactly (pre-norm blocks, cls token, learned
position embedding, LayerNorm eps 1e-6, exact erf GELU, timm's qkv layout), so the exported
checkpoint uses timm's tensor names and can be read by clipformer's safetensors loader.

Outputs, for --name NAME in --out-dir:
  NAME.safetensors          float32 weights with timm names and string metadata
  NAME.golden.safetensors   the first --golden test images, their normalised inputs,
                            labels and float32 eval-mode logits

Only plain PyTorch and NumPy are used; the safetensors format is written by hand.

Example:
  python3 scripts/train_vit.py --data-dir DIR --dataset mnist --name vit-mnist \
      --dim 128 --heads 2 --depth 6 --patch 7 --epochs 6 --out-dir models
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------
# Data: IDX files
# ---------------------------------------------------------------------------

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read one IDX file (gzipped or not) into a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{code:02x}")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    dtype = np.dtype(IDX_DTYPES[code])
    count = int(np.prod(dims)) if dims else 0
    body = data[4 + 4 * ndim :]
    if len(body) < count * dtype.itemsize:
        raise ValueError(f"{path}: truncated: {len(body)} bytes, want {count * dtype.itemsize}")
    return np.frombuffer(body, dtype=dtype, count=count).reshape(dims)


def find_idx(data_dir, stem):
    """Return the path of STEM or STEM.gz in data_dir."""
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{data_dir}: no {stem} or {stem}.gz")


def load_idx_dataset(data_dir):
    """Load the standard four IDX files. Images come back as uint8 [N, C, H, W]."""
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(find_idx(data_dir, f"{prefix}-images-idx3-ubyte"))
        y = read_idx(find_idx(data_dir, f"{prefix}-labels-idx1-ubyte"))
        if x.ndim == 3:
            x = x[:, None, :, :]
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{data_dir}: {split}: {x.shape[0]} images but {y.shape[0]} labels")
        out[split] = (np.ascontiguousarray(x), y.astype(np.int64))
    return out


def channel_stats(images_u8, decimals=4):
    """Per-channel mean and std of pixel/255 over a uint8 [N, C, H, W] array, rounded."""
    x = images_u8.astype(np.float64) / 255.0
    mean = x.mean(axis=(0, 2, 3))
    std = x.std(axis=(0, 2, 3))
    return [round(float(m), decimals) for m in mean], [round(float(s), decimals) for s in std]


def normalize(images_u8, mean, std):
    """float32 (pixel/255 - mean) / std, per channel, as fed to the model."""
    x = torch.from_numpy(images_u8.astype(np.float32)) / 255.0
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - m) / s


def random_translate(x, max_shift, gen, fill):
    """Shift each image of x [B, C, H, W] by an integer offset in [-max_shift, max_shift]^2.

    Uncovered pixels get `fill` (the normalised value of a black pixel, per channel).
    """
    if max_shift <= 0:
        return x
    b, c, h, w = x.shape
    padded = fill.view(1, c, 1, 1).expand(b, c, h + 2 * max_shift, w + 2 * max_shift).clone()
    padded[:, :, max_shift : max_shift + h, max_shift : max_shift + w] = x
    offs = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=gen)
    out = torch.empty_like(x)
    for i in range(b):
        dy, dx = int(offs[i, 0]), int(offs[i, 1])
        out[i] = padded[i, :, dy : dy + h, dx : dx + w]
    return out


# ---------------------------------------------------------------------------
# Model: timm VisionTransformer semantics
# ---------------------------------------------------------------------------


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"image size {img_size} not divisible by patch {patch_size}")
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)  # [B, D, H/p, W/p]
        return x.flatten(2).transpose(1, 2)  # [B, N, D]


# Variation-aware training: the write noise of the crossbar simulator on K and
# V. VAT["gs"] is gamma * sigma_w (0: off); VAT["granularity"] is "slice" or
# "value". Set from the command line.
VAT = {"gs": 0.0, "granularity": "slice"}


def write_noise(x):
    """x plus the simulator's write noise (crossbar-model.md section 4), drawn
    per value: each written head matrix (one image, one head) is scaled by its
    own max |x| (the dynamic scale), quantised to 8-bit codes, and the noise of
    its cells summed. Per slice, cell s (weight 4^s) holding digit d has
    conductance deviation std gamma*sigma_w*Delta*sqrt(3 d), so the value's
    std in code units is gamma*sigma_w*sqrt(3 * sum_s 16^s d_s) (digit-0 cells
    are noise-free); per value, one analog cell gives gamma*sigma_w*sqrt(255 c).
    The noise is a constant for the gradient (straight-through)."""
    with torch.no_grad():
        scale = x.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
        code = torch.round(torch.clamp(x.abs() / scale, max=1.0) * 255.0)
        if VAT["granularity"] == "value":
            var = 255.0 * code
        else:
            var = torch.zeros_like(code)
            rest = code.clone()
            for s in range(4):
                digit = torch.remainder(rest, 4.0)
                var += (16.0 ** s) * 3.0 * digit
                rest = torch.div(rest - digit, 4.0)
        noise = VAT["gs"] * torch.sqrt(var) * torch.randn_like(x) * (scale / 255.0)
    return x + noise


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, N, hd]
        if self.training and VAT["gs"] > 0:
            k, v = write_noise(k), write_noise(v)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact erf GELU
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class VisionTransformer(nn.Module):
    """timm-compatible ViT (class token, no distillation token, no pre-logits)."""

    def __init__(self, img_size=28, patch_size=7, in_chans=1, num_classes=10, embed_dim=128,
                 depth=6, num_heads=2, mlp_ratio=4.0, qkv_bias=True):
        super().__init__()
        self.img_size, self.patch_size, self.in_chans = img_size, patch_size, in_chans
        self.num_classes, self.embed_dim, self.depth = num_classes, embed_dim, depth
        self.num_heads, self.mlp_ratio = num_heads, mlp_ratio
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        self.blocks = nn.ModuleList(
            [Block(embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def num_tokens(self):
        return self.patch_embed.num_patches + 1

    def forward_features(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward(self, x):
        return self.head(self.forward_features(x)[:, 0])


class LVStem(nn.Module):
    """LV-ViT's PatchEmbed4_2 (official layout): conv 7x7 stride 2, two 3x3 convs, each with
    BatchNorm and ReLU, then a patch projection of kernel and stride patch/2."""

    def __init__(self, img_size, patch_size, in_chans, embed_dim, stem):
        super().__init__()
        if patch_size % 2 or img_size % patch_size:
            raise ValueError(f"LV-ViT needs an even patch dividing the image, not {patch_size} for {img_size}")
        self.num_patches = (img_size // patch_size) ** 2
        self.conv1 = nn.Conv2d(in_chans, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.conv2 = nn.Conv2d(stem, stem, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(stem)
        self.conv3 = nn.Conv2d(stem, stem, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(stem)
        self.proj = nn.Conv2d(stem, embed_dim, kernel_size=patch_size // 2, stride=patch_size // 2)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        return self.proj(x).flatten(2).transpose(1, 2)


class LVBlock(Block):
    """LV-ViT block: each residual branch divided by skip_lam."""

    def __init__(self, dim, num_heads, mlp_ratio, skip_lam):
        super().__init__(dim, num_heads, mlp_ratio, qkv_bias=False)
        self.skip_lam = skip_lam

    def forward(self, x):
        x = x + self.attn(self.norm1(x)) / self.skip_lam
        x = x + self.mlp(self.norm2(x)) / self.skip_lam
        return x


class LVViT(VisionTransformer):
    """LV-ViT in the official layout (convolutional stem, qkv without bias, skip_lam, head plus
    aux_head). Output, in training and evaluation alike: head(cls) + 0.5 max over patch tokens
    of aux_head, the official inference rule. Trained on image labels only (no token labelling:
    there is no teacher here)."""

    def __init__(self, img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads,
                 mlp_ratio, stem, skip_lam):
        super().__init__(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads,
                         mlp_ratio, qkv_bias=False)
        self.stem, self.skip_lam = stem, skip_lam
        self.patch_embed = LVStem(img_size, patch_size, in_chans, embed_dim, stem)
        self.blocks = nn.ModuleList([LVBlock(embed_dim, num_heads, mlp_ratio, skip_lam) for _ in range(depth)])
        self.aux_head = nn.Linear(embed_dim, num_classes)
        self._init_weights()

    def forward(self, x):
        x = self.forward_features(x)
        return self.head(x[:, 0]) + 0.5 * self.aux_head(x[:, 1:]).max(1)[0]


def build_model(args, img_size, in_chans, num_classes):
    if args.arch == "lvvit":
        return LVViT(img_size, args.patch, in_chans, num_classes, args.dim, args.depth, args.heads,
                     args.mlp_ratio, args.stem, args.skip_lam)
    return build_vit(img_size, in_chans, num_classes, args.dim, args.heads, args.depth, args.patch, args.mlp_ratio)


def build_vit(img_size, in_chans, num_classes, dim, heads, depth, patch, mlp_ratio=4.0):
    return VisionTransformer(img_size=img_size, patch_size=patch, in_chans=in_chans,
                             num_classes=num_classes, embed_dim=dim, depth=depth,
                             num_heads=heads, mlp_ratio=mlp_ratio)


def arch_name(model):
    if isinstance(model, LVViT):
        return (f"lvvit-d{model.embed_dim}-h{model.num_heads}-l{model.depth}-p{model.patch_size}"
                f"-m{model.mlp_ratio:g}-stem{model.stem}-lam{model.skip_lam:g}")
    name = f"vit-d{model.embed_dim}-h{model.num_heads}-l{model.depth}-p{model.patch_size}"
    if model.mlp_ratio != 4.0:
        name += f"-m{model.mlp_ratio:g}"
    return name


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------
# Export: hand-written safetensors
# ---------------------------------------------------------------------------

SAFETENSORS_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32", np.dtype("<i8"): "I64",
                      np.dtype("<f2"): "F16", np.dtype("<f8"): "F64"}


def write_safetensors(path, tensors, metadata=None):
    """Write an ordered dict name -> NumPy array as safetensors, in the order given.

    The header is padded with spaces to a multiple of 8 bytes; metadata values must be
    strings. The file is written to PATH.tmp and renamed into place.
    """
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        arr = arr.astype(dt, copy=False)
        if np.dtype(dt) not in SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {arr.dtype}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: tensor {name}: NaN or Inf")
        raw = arr.tobytes(order="C")
        header[name] = {"dtype": SAFETENSORS_DTYPES[np.dtype(dt)], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"{path}: metadata {k!r}: keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    hjson = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    """Read a safetensors file into (dict name -> NumPy array, metadata)."""
    rev = {v: k for k, v in SAFETENSORS_DTYPES.items()}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(data[base + b : base + e], dtype=rev[h["dtype"]]).reshape(h["shape"])
    return out, meta


def model_tensors(model):
    """float32 NumPy copies of the state dict with timm names, in timm's order."""
    return {k: v.detach().to(torch.float32).cpu().numpy().copy()
            for k, v in model.state_dict().items()}


def export_model(model, path, metadata):
    write_safetensors(path, model_tensors(model), metadata)


def export_golden(path, indices, inputs, labels, logits, metadata=None):
    tensors = {
        "indices": np.asarray(indices, dtype=np.int32),
        "inputs": inputs.detach().to(torch.float32).cpu().numpy(),
        "labels": np.asarray(labels, dtype=np.int32),
        "logits": logits.detach().to(torch.float32).cpu().numpy(),
    }
    write_safetensors(path, tensors, metadata)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def lr_at(step, total, warmup, peak, floor):
    """Linear warmup to peak, then cosine decay to floor, per optimiser step."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * t))


@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        logits = model(x[i : i + batch])
        correct += int((logits.argmax(dim=1) == y[i : i + batch]).sum())
    return 100.0 * correct / x.shape[0]


def no_decay(name, p):
    return p.ndim <= 1 or name in ("cls_token", "pos_embed")


def train(model, data, args, log=print):
    """Train in place; returns a list of (epoch, train_loss, test_acc, seconds)."""
    xtr, ytr = data["train_x"], data["train_y"]
    xte, yte = data["test_x"], data["test_y"]
    decay = [p for n, p in model.named_parameters() if not no_decay(n, p)]
    other = [p for n, p in model.named_parameters() if no_decay(n, p)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.999))
    n = xtr.shape[0]
    if args.limit_train:
        n = min(n, args.limit_train)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = int(round(args.warmup_epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(args.seed)
    fill = data["fill"]
    history = []
    step = 0
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(xtr.shape[0], generator=gen)[:n]
        loss_sum, seen = 0.0, 0
        for i in range(0, n, args.batch_size):
            idx = perm[i : i + args.batch_size]
            xb = random_translate(xtr[idx], args.translate, gen, fill)
            yb = ytr[idx]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, warmup, args.lr, args.min_lr)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip_grad > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            opt.step()
            step += 1
            loss_sum += float(loss) * xb.shape[0]
            seen += xb.shape[0]
        train_s = time.time() - t0
        acc = evaluate(model, xte, yte)
        secs = time.time() - t0
        history.append((epoch + 1, loss_sum / seen, acc, secs))
        log(f"epoch {epoch + 1}/{args.epochs} loss {loss_sum / seen:.4f} "
            f"test_acc {acc:.2f}% train {train_s:.1f}s total {secs:.1f}s "
            f"lr_end {opt.param_groups[0]['lr']:.2e}")
    return history


# The simulator's calibrated sigma_w per granularity (sim/crossbar).
CALIBRATED_SIGMA_W = {"slice": 0.483, "value": 0.311}


def recipe_string(args):
    vat = ""
    if args.vat_gamma > 0:
        vat = (f"; VAT: write noise on K and V, gamma {args.vat_gamma:g}, sigma_w {vat_sigma_w(args):g}, "
               f"{args.vat_granularity} granularity, dynamic per-head scale"
               + (f", fine-tuned from {os.path.basename(args.init)}" if args.init else ""))
    return recipe_string_base(args) + vat


def vat_sigma_w(args):
    return args.vat_sigma_w or CALIBRATED_SIGMA_W[args.vat_granularity]


def recipe_string_base(args):
    return (f"AdamW lr {args.lr:g} betas 0.9,0.999 wd {args.weight_decay:g} "
            f"(not on norms/biases/cls/pos), batch {args.batch_size}, {args.epochs} epochs, "
            f"cosine to {args.min_lr:g} after {args.warmup_epochs:g} warmup epochs (per step), "
            f"label smoothing {args.label_smoothing:g}, random translation +-{args.translate} px, "
            f"grad clip {args.clip_grad:g}, seed {args.seed}, float32")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", required=True, help="folder with the four IDX files (.gz or not)")
    p.add_argument("--dataset", required=True, help="dataset name recorded in the metadata")
    p.add_argument("--name", required=True, help="output base name, e.g. vit-mnist")
    p.add_argument("--out-dir", default="models")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--patch", type=int, default=7)
    p.add_argument("--mlp-ratio", type=float, default=4.0)
    p.add_argument("--arch", choices=["vit", "lvvit"], default="vit",
                   help="vit: timm's ViT; lvvit: LV-ViT's official layout (use --mlp-ratio 3)")
    p.add_argument("--stem", type=int, default=64, help="LV-ViT stem channels")
    p.add_argument("--skip-lam", type=float, default=2.0, help="LV-ViT residual divisor")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-5)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--translate", type=int, default=2, help="max random shift in pixels (0: off)")
    p.add_argument("--clip-grad", type=float, default=1.0, help="max grad norm (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--golden", type=int, default=16, help="number of test images in the golden file")
    p.add_argument("--limit-train", type=int, default=0,
                   help="use only this many training images per epoch (timing runs)")
    p.add_argument("--no-export", action="store_true", help="train and evaluate only")
    p.add_argument("--init", default="", help="start from this safetensors checkpoint (fine-tuning, e.g. for VAT)")
    p.add_argument("--vat-gamma", type=float, default=0.0,
                   help="variation-aware training: inject the write noise of factor gamma into K and V (0: off)")
    p.add_argument("--vat-sigma-w", type=float, default=0.0,
                   help="sigma_w of the injected noise (0: the simulator's calibrated value for --vat-granularity)")
    p.add_argument("--vat-granularity", choices=["slice", "value"], default="slice")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    log = lambda s: print(s, flush=True)

    raw = load_idx_dataset(args.data_dir)
    xtr_u8, ytr = raw["train"]
    xte_u8, yte = raw["test"]
    _, c, h, w = xtr_u8.shape
    if h != w:
        raise ValueError(f"{args.data_dir}: images are {h}x{w}, want square")
    num_classes = int(max(ytr.max(), yte.max())) + 1
    mean, std = channel_stats(xtr_u8)
    data = {
        "train_x": normalize(xtr_u8, mean, std), "train_y": torch.from_numpy(ytr),
        "test_x": normalize(xte_u8, mean, std), "test_y": torch.from_numpy(yte),
        "fill": (0.0 - torch.tensor(mean, dtype=torch.float32)) / torch.tensor(std, dtype=torch.float32),
    }
    model = build_model(args, h, c, num_classes)
    if args.init:
        tensors, _ = read_safetensors(args.init)
        model.load_state_dict({k2: torch.from_numpy(v.copy()) for k2, v in tensors.items()}, strict=True)
        log(f"initialised from {args.init}")
    if args.vat_gamma > 0:
        VAT["gs"] = args.vat_gamma * vat_sigma_w(args)
        VAT["granularity"] = args.vat_granularity
    log(f"{args.name}: {arch_name(model)} head_dim {args.dim // args.heads} tokens {model.num_tokens} "
        f"params {count_params(model)} classes {num_classes} train {xtr_u8.shape[0]} test {xte_u8.shape[0]} "
        f"mean {mean} std {std} threads {torch.get_num_threads()}")
    log(f"recipe: {recipe_string(args)}")

    t0 = time.time()
    history = train(model, data, args, log)
    wall = time.time() - t0

    model.eval()
    acc = evaluate(model, data["test_x"], data["test_y"])
    log(f"{args.name}: final test accuracy {acc:.2f}% ({xte_u8.shape[0]} images), "
        f"training wall time {wall:.1f}s on {args.threads} thread(s)")
    if args.no_export:
        return

    os.makedirs(args.out_dir, exist_ok=True)
    meta = {
        "arch": arch_name(model),
        "num_heads": str(args.heads),
        "img_size": str(h),
        "in_chans": str(c),
        "num_classes": str(num_classes),
        "mean": ",".join(f"{m:g}" for m in mean),
        "std": ",".join(f"{s:g}" for s in std),
        "dataset": args.dataset,
        "test_accuracy": f"{acc:.2f}",
        "train_recipe": recipe_string(args),
    }
    if args.arch == "lvvit":
        meta["skip_lam"] = f"{args.skip_lam:g}"
    if args.vat_gamma > 0:
        meta["vat"] = f"gamma {args.vat_gamma:g}, sigma_w {vat_sigma_w(args):g}, {args.vat_granularity}"
    path = os.path.join(args.out_dir, args.name + ".safetensors")
    export_model(model, path, meta)
    log(f"wrote {path} ({os.path.getsize(path)} bytes)")

    k = min(args.golden, xte_u8.shape[0])
    idx = np.arange(k)
    inputs = data["test_x"][:k].clone()
    with torch.no_grad():
        logits = model(inputs)
    gpath = os.path.join(args.out_dir, args.name + ".golden.safetensors")
    export_golden(gpath, idx, inputs, yte[:k], logits,
                  {"model": args.name + ".safetensors", "dataset": args.dataset,
                   "split": "test", "mean": meta["mean"], "std": meta["std"]})
    log(f"wrote {gpath} ({os.path.getsize(gpath)} bytes)")

    # Round trip: reload the exported weights into a fresh model and compare logits.
    tensors, _ = read_safetensors(path)
    fresh = build_model(args, h, c, num_classes)
    fresh.load_state_dict({k2: torch.from_numpy(v.copy()) for k2, v in tensors.items()}, strict=True)
    fresh.eval()
    with torch.no_grad():
        diff = float((fresh(inputs) - logits).abs().max())
    log(f"round trip max |logit diff| {diff:g}; golden argmax {logits.argmax(1).tolist()} "
        f"labels {yte[:k].tolist()}")
    log("history: " + json.dumps([{"epoch": e, "loss": round(l, 4), "test_acc": round(a, 2),
                                   "seconds": round(s, 1)} for e, l, a, s in history]))


if __name__ == "__main__":
    sys.exit(main())
