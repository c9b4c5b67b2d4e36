#!/usr/bin/python3
"""PyTorch CPU reference timings for clipformer's performance comparison.

Loads a ViT/DeiT checkpoint with timm's tensor names from a safetensors file (F32, F16 or
BF16; parsed by hand, head count from the "num_heads" metadata, else dim/64), builds a
plain-PyTorch VisionTransformer with timm's semantics (conv patch embedding, class token
and optional distillation token, learned position embedding, pre-norm blocks with
LayerNorm eps 1e-6, exact erf GELU, timm's qkv layout; a distilled model averages head
and head_dist as DeiT does at inference) and prints one JSON line.

Modes:
  --model FILE            eval-mode forward throughput under torch.inference_mode() on
                          random inputs: images_per_second, seconds_per_image, ...
  --model FILE --check    logits of the first image of a fixed input (below), for a
                          comparison with another implementation of the same model
  --sgemm N               float32 N x N x N matrix product rate (the BLAS peak reference)

The --check input needs no random generator, so any language can rebuild it: a batch of
--batch images, already normalised, flattened in (image, channel, y, x) order; element i
(counting from 0 over the whole batch) is

  u = ((i + 1 + 1000003 * seed) * 2654435761) mod 2^32,   x = float32(u / 2^32 * 4 - 2)

with the arithmetic done in exact integers and float64. Only the first image's logits
are printed.

Run it with the Python that has PyTorch (Debian's python3-torch: /usr/bin/python3).
Threads: --threads sets torch's intra-op threads and, before PyTorch loads, OpenBLAS's and
OpenMP's (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS), since Debian's PyTorch calls the
system BLAS, which keeps its own thread pool.

OpenBLAS kernels: OpenBLAS 0.3.21 (Debian 12) does not recognise some newer CPUs and then
falls back to its slow "Prescott" (SSE3) kernels; the "blas" field of the output names the
kernel set in use. --openblas-core auto forces SkylakeX (AVX-512) or Haswell (AVX2) kernels
from the CPU flags, which is what a matching OpenBLAS would have picked.

Examples:
  /usr/bin/python3 scripts/bench_torch.py --model deit-s.safetensors --threads 2 --batch 8
  /usr/bin/python3 scripts/bench_torch.py --model deit-s.safetensors --check
  /usr/bin/python3 scripts/bench_torch.py --sgemm 2048 --threads 2 --openblas-core auto
"""

import argparse
import json
import math
import os
import struct
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="checkpoint (.safetensors with timm names)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--batch", type=int, default=8, help="images per forward pass (default 8)")
    p.add_argument("--iters", type=int, default=10, help="timed forward passes (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed forward passes first (default 2)")
    p.add_argument("--check", action="store_true",
                   help="print the first image's logits for the fixed input instead of timing")
    p.add_argument("--seed", type=int, default=0, help="seed of the --check input (default 0)")
    p.add_argument("--sgemm", type=int, default=0, metavar="N",
                   help="time an N x N x N float32 matrix product instead (e.g. 2048)")
    p.add_argument("--openblas-core", default="", metavar="CORE",
                   help="set OPENBLAS_CORETYPE (e.g. SkylakeX, Haswell) before the BLAS loads; "
                        "'auto' picks it from the CPU flags; default: OpenBLAS's own detection")
    args = p.parse_args(argv)
    if args.threads < 1 or args.batch < 1 or args.iters < 1 or args.warmup < 0:
        p.error("--threads, --batch and --iters must be at least 1, --warmup at least 0")
    if args.sgemm < 0:
        p.error("--sgemm must not be negative")
    if not args.sgemm and not args.model:
        p.error("--model is required (or --sgemm N)")
    return args


# The thread counts must be in the environment before PyTorch (and with it the BLAS and
# OpenMP runtimes) loads, so torch is imported inside main().
torch = None
nn = None


# ---------------------------------------------------------------------------
# safetensors, by hand
# ---------------------------------------------------------------------------


def read_safetensors(path):
    """Return (dict name -> float32 tensor, metadata dict) from a safetensors file."""
    dtypes = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    if sys.byteorder != "little":
        raise RuntimeError("this reader assumes a little-endian machine")
    out = {}
    for name, h in header.items():
        if h["dtype"] not in dtypes:
            raise ValueError(f"{path}: tensor {name}: dtype {h['dtype']} (want F32, F16 or BF16)")
        dt, size = dtypes[h["dtype"]]
        begin, end = h["data_offsets"]
        count = math.prod(h["shape"])
        if end - begin != count * size or base + end > len(data) or begin < 0:
            raise ValueError(f"{path}: tensor {name}: offsets {begin},{end} do not fit shape "
                             f"{h['shape']} of {h['dtype']}")
        if count == 0:
            t = torch.zeros(h["shape"], dtype=torch.float32)
        else:
            t = torch.frombuffer(data, dtype=dt, count=count, offset=base + begin)
            t = t.reshape(h["shape"]).to(torch.float32).clone()
        out[name] = t
    return out, meta


# ---------------------------------------------------------------------------
# The model: timm VisionTransformer / DeiT semantics
# ---------------------------------------------------------------------------


def build_classes():
    """Define the modules once torch is imported."""
    global PatchEmbed, Attention, Mlp, Block, VisionTransformer

    class PatchEmbed(nn.Module):
        def __init__(self, patch, in_chans, dim):
            super().__init__()
            self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

        def forward(self, x):
            return self.proj(x).flatten(2).transpose(1, 2)  # [B, N, D]

    class Attention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads = heads
            self.head_dim = dim // heads
            self.scale = self.head_dim ** -0.5
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, N, hd]
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))

    class Mlp(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.fc1 = nn.Linear(dim, hidden)
            self.act = nn.GELU()  # exact erf GELU
            self.fc2 = nn.Linear(hidden, dim)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self, dim, heads, hidden):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.attn = Attention(dim, heads)
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = Mlp(dim, hidden)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class VisionTransformer(nn.Module):
        """timm's VisionTransformer; with distilled=True, DeiT's distilled variant."""

        def __init__(self, cfg):
            super().__init__()
            d = cfg["dim"]
            self.cfg = cfg
            self.patch_embed = PatchEmbed(cfg["patch"], cfg["in_chans"], d)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
            self.dist_token = nn.Parameter(torch.zeros(1, 1, d)) if cfg["distilled"] else None
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg["tokens"], d))
            self.blocks = nn.ModuleList(
                [Block(d, cfg["heads"], cfg["mlp_hidden"]) for _ in range(cfg["depth"])])
            self.norm = nn.LayerNorm(d, eps=1e-6)
            self.head = nn.Linear(d, cfg["classes"])
            self.head_dist = nn.Linear(d, cfg["classes"]) if cfg["distilled"] else None

        def forward(self, x):
            x = self.patch_embed(x)
            prefix = [self.cls_token.expand(x.shape[0], -1, -1)]
            if self.dist_token is not None:
                prefix.append(self.dist_token.expand(x.shape[0], -1, -1))
            x = torch.cat(prefix + [x], dim=1) + self.pos_embed
            for blk in self.blocks:
                x = blk(x)
            x = self.norm(x)
            if self.head_dist is None:
                return self.head(x[:, 0])
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2


def config_from(tensors, meta, path):
    """Derive the architecture from the tensor shapes, as clipformer's loader does."""
    def need(name):
        if name not in tensors:
            raise ValueError(f"{path}: tensor {name} is missing")
        return tensors[name]

    pw = need("patch_embed.proj.weight")
    if pw.ndim != 4 or pw.shape[2] != pw.shape[3]:
        raise ValueError(f"{path}: patch_embed.proj.weight has shape {list(pw.shape)}")
    dim, in_chans, patch = pw.shape[0], pw.shape[1], pw.shape[2]
    distilled = "dist_token" in tensors
    tokens = need("pos_embed").shape[1]
    patches = tokens - (2 if distilled else 1)
    side = int(round(math.sqrt(patches)))
    if patches <= 0 or side * side != patches:
        raise ValueError(f"{path}: pos_embed has {tokens} tokens: not a square grid of patches")
    depth = 0
    while f"blocks.{depth}.attn.qkv.weight" in tensors:
        depth += 1
    if depth == 0:
        raise ValueError(f"{path}: no encoder blocks")
    heads = 0
    for key in ("num_heads", "heads"):
        if key in meta:
            heads = int(str(meta[key]).strip())
            break
    if heads == 0:
        if dim % 64:
            raise ValueError(f"{path}: no num_heads in the metadata and dim {dim} is not a multiple of 64")
        heads = dim // 64
    if heads <= 0 or dim % heads:
        raise ValueError(f"{path}: {heads} heads do not divide dim {dim}")
    return {"dim": dim, "in_chans": in_chans, "patch": patch, "img_size": side * patch,
            "tokens": tokens, "distilled": distilled, "depth": depth, "heads": heads,
            "mlp_hidden": need("blocks.0.mlp.fc1.weight").shape[0],
            "classes": need("head.weight").shape[0], "arch": meta.get("arch", "")}


def flops_per_image(cfg):
    """Matrix-product FLOPs per image (a multiply-add counts two), as clipformer counts them."""
    n, d, h = cfg["tokens"], cfg["dim"], cfg["mlp_hidden"]
    patches = (cfg["img_size"] // cfg["patch"]) ** 2
    pre = 2 if cfg["distilled"] else 1
    patch = patches * cfg["in_chans"] * cfg["patch"] ** 2 * d
    block = n * d * 3 * d + n * d * d + 2 * n * d * h + 2 * n * n * d
    return 2.0 * (patch + cfg["depth"] * block + pre * d * cfg["classes"])


def load_model(path):
    tensors, meta = read_safetensors(path)
    cfg = config_from(tensors, meta, path)
    model = VisionTransformer(cfg)
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model, cfg


# ---------------------------------------------------------------------------
# BLAS and threads
# ---------------------------------------------------------------------------


def loaded_libraries(word):
    try:
        with open("/proc/self/maps") as f:
            return sorted({l.split()[-1] for l in f if word in l.split()[-1]})
    except OSError:
        return []


def blas_info(threads):
    """What PyTorch's build says about BLAS, plus the OpenBLAS actually loaded, if any."""
    a = torch.ones(64, 64)
    _ = a @ a  # make sure the BLAS library is loaded
    build = ""
    for part in torch.__config__.show().replace("\n", ",").split(","):
        if "BLAS_INFO=" in part and "LAPACK" not in part:
            build = part[part.index("BLAS_INFO="):].strip()
    info = {"build": build or "BLAS_INFO unknown", "library": "", "config": "", "threads": None}
    libs = loaded_libraries("openblas")
    so = [p for p in libs if "libopenblas" in os.path.basename(p)]
    if so:
        import ctypes
        info["library"] = so[0]
        try:
            lib = ctypes.CDLL(so[0])
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_set_num_threads(ctypes.c_int(threads))
            info["config"] = lib.openblas_get_config().decode()
            info["threads"] = int(lib.openblas_get_num_threads())
        except (OSError, AttributeError):
            pass
    else:
        libs = loaded_libraries("blas") + loaded_libraries("mkl")
        info["library"] = ", ".join(libs)
    return info


def auto_core():
    """The OpenBLAS core type for this CPU's flags: SkylakeX (AVX-512), Haswell (AVX2+FMA)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(l.split(":", 1)[1].split()) for l in f if l.startswith("flags")), set())
    except OSError:
        return ""
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return ""


def blas_string(info):
    s = info["build"]
    if info["config"]:
        s += f"; {info['config']}"
    if info["library"]:
        s += f" ({os.path.basename(info['library'])})"
    return s


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------


def check_input(batch, cfg, seed):
    n = batch * cfg["in_chans"] * cfg["img_size"] ** 2
    i = torch.arange(1, n + 1, dtype=torch.int64) + 1000003 * seed
    u = (i * 2654435761) % (2 ** 32)
    x = (u.to(torch.float64) / 2 ** 32 * 4 - 2).to(torch.float32)
    return x.reshape(batch, cfg["in_chans"], cfg["img_size"], cfg["img_size"])


def run_check(args, common):
    model, cfg = load_model(args.model)
    x = check_input(args.batch, cfg, args.seed)
    with torch.inference_mode():
        logits = model(x)[0].to(torch.float64)
    return dict(**common, mode="check", model=args.model, arch=cfg["arch"], seed=args.seed,
                classes=cfg["classes"], argmax=int(logits.argmax()),
                logits=[float(v) for v in logits.tolist()])


def run_forward(args, common):
    model, cfg = load_model(args.model)
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.rand(args.batch, cfg["in_chans"], cfg["img_size"], cfg["img_size"], generator=gen)
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(x)
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    total = sum(times)
    ips = args.batch * args.iters / total
    flops = flops_per_image(cfg)
    return dict(images_per_second=ips, seconds_per_image=1 / ips, **common, mode="forward",
                model=args.model, arch=cfg["arch"],
                gflop_per_image=flops / 1e9, gflop_per_second=flops * ips / 1e9,
                best_seconds_per_image=min(times) / args.batch,
                iters=args.iters, warmup=args.warmup, elapsed_seconds=total)


def run_sgemm(args, common):
    n = args.sgemm
    gen = torch.Generator().manual_seed(args.seed)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    c = torch.empty(n, n)
    for _ in range(max(args.warmup, 1)):
        torch.mm(a, b, out=c)
    times = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - t0)
    flop = 2.0 * n ** 3
    return dict(gflop_per_second=flop * args.iters / sum(times) / 1e9,
                best_gflop_per_second=flop / min(times) / 1e9, **common, mode="sgemm", n=n,
                iters=args.iters)


def main(argv=None):
    args = parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    core = auto_core() if args.openblas_core == "auto" else args.openblas_core
    if core:
        os.environ["OPENBLAS_CORETYPE"] = core
    global torch, nn
    import torch as _torch
    import torch.nn as _nn
    torch, nn = _torch, _nn
    torch.set_num_threads(args.threads)
    build_classes()
    info = blas_info(args.threads)
    common = {"threads": torch.get_num_threads(), "batch": args.batch, "torch": torch.__version__,
              "blas": blas_string(info), "blas_threads": info["threads"],
              "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}
    if args.sgemm:
        out = run_sgemm(args, common)
    elif args.check:
        out = run_check(args, common)
    else:
        out = run_forward(args, common)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
