#!/usr/bin/python3
"""Write the end-to-end test data of the DeiT path: a tiny 3-channel, 224-input ViT, an
image folder of PNG and JPEG files, and PyTorch's logits for every image.

sim/vit/folder_e2e_test.go reads them and runs the whole Go path (decode, resize, centre
crop, normalise, forward) against the logits written here. Outputs, in --out (default
sim/vit/testdata/folder-e2e):

  model.safetensors   a timm-named ViT (patch 16, 224 x 224 x 3, dim 32, 2 heads, depth 2,
                      mlp 64, 4 classes, ImageNet mean and std) with seeded random weights
                      of unit-scale activations, so the logits are of order one
  images/cK/*.png     4 class folders, each with one PNG and one JPEG of another size:
  images/cK/*.jpg     downscaled, upscaled, already 256, grey, 4:2:0 and 4:4:4 JPEG
  golden.json         per image, in ImageFolder order: its path, label, the sha256 of
                      the 224 x 224 RGB crop PIL produced, and the float64 logits

The reference pipeline is DeiT's evaluation transform written without torchvision:
PIL decode, convert("RGB"), Resize(256, bicubic) on the shorter side, CenterCrop(224),
ToTensor, Normalize(ImageNet mean, std), then the forward of scripts/train_vit.py's
VisionTransformer (timm semantics) in float64, so the committed logits carry no float32
rounding of their own. The same flags always write the same files (Pillow 9.4, libjpeg-
turbo 2.1.5 and PyTorch 1.13 of Debian 12 made the committed ones).

Run it with Debian's python3-torch, python3-numpy and python3-pil:
  /usr/bin/python3 scripts/make_folder_golden.py
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_vit  # noqa: E402  (the timm-semantics model and the safetensors writer)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CLASSES = 4


def picture(w, h, seed, mode="RGB"):
    """A smooth picture with sharp edges: gradients, rectangles and a ring; compresses well
    as PNG yet exercises the resampling and JPEG's chroma."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.3)
        img[..., c] = 128 + 90 * np.sin(fx * x + ph) * np.cos(fy * y)
    for _ in range(4):
        x0, y0 = rng.randint(0, w - 10), rng.randint(0, h - 10)
        img[y0:y0 + rng.randint(8, h // 2), x0:x0 + rng.randint(8, w // 2)] = rng.randint(0, 256, 3)
    r = np.hypot(x - w / 2, y - h / 2)
    img[(r > h / 5) & (r < h / 5 + 6)] = rng.randint(0, 256, 3)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    return out.convert(mode) if mode != "RGB" else out


# (class, file name, width, height, mode, save options)
IMAGES = [
    (0, "down.png", 300, 260, "RGB", {}),
    (0, "down.jpg", 300, 260, "RGB", {"quality": 90}),
    (1, "up.png", 150, 200, "RGB", {}),
    (1, "odd.jpg", 257, 240, "RGB", {"quality": 85, "subsampling": 2}),
    (2, "square256.png", 256, 256, "RGB", {}),
    (2, "wide.jpg", 400, 300, "RGB", {"quality": 75}),
    (3, "grey.png", 230, 260, "L", {}),
    (3, "full444.jpg", 230, 200, "RGB", {"quality": 95, "subsampling": 0}),
]


def tv_resize(img, size):
    """torchvision.transforms.functional.resize(img, size) for an int size, on PIL."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short == size:
        return img
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), Image.BICUBIC)


def tv_center_crop(img, crop):
    """torchvision.transforms.functional.center_crop(img, crop) for an int crop no larger
    than the image."""
    w, h = img.size
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def build_model(seed):
    torch.manual_seed(seed)
    m = train_vit.VisionTransformer(img_size=224, patch_size=16, in_chans=3, num_classes=CLASSES,
                                    embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("weight") and p.dim() > 1:  # linear and conv: unit-gain fan-in init
                p.normal_(0.0, 1.0 / np.sqrt(p[0].numel()))
            elif "norm" in name and name.endswith("weight"):
                p.normal_(1.0, 0.1)
            else:  # biases, LayerNorm shifts, cls_token, pos_embed
                p.normal_(0.0, 0.1 if "bias" in name else 0.5)
    return m.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join("sim", "vit", "testdata", "folder-e2e"))
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    root = os.path.join(args.out, "images")
    for c in range(CLASSES):
        os.makedirs(os.path.join(root, f"c{c}"), exist_ok=True)
    for k, (c, name, w, h, mode, opts) in enumerate(IMAGES):
        picture(w, h, args.seed * 100 + k, mode).save(os.path.join(root, f"c{c}", name), **opts)

    model = build_model(args.seed)
    meta = {"arch": "vit-d32-h2-l2-p16-rgb224-test", "num_heads": "2", "img_size": "224", "in_chans": "3",
            "num_classes": str(CLASSES), "mean": ",".join(map(str, MEAN)), "std": ",".join(map(str, STD)),
            "purpose": "end-to-end test of the image-folder path; random weights, seed %d" % args.seed}
    train_vit.export_model(model, os.path.join(args.out, "model.safetensors"), meta)

    # ImageFolder order: classes sorted, files sorted by name within each.
    files = []
    for c in sorted(os.listdir(root)):
        for f in sorted(os.listdir(os.path.join(root, c))):
            files.append((c, f))
    model64 = model.double()
    mean = torch.tensor(MEAN, dtype=torch.float64).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(3, 1, 1)
    out = []
    for c, f in files:
        img = tv_center_crop(tv_resize(Image.open(os.path.join(root, c, f)).convert("RGB"), 256), 224)
        crop = np.asarray(img, dtype=np.uint8)  # 224 x 224 x 3
        x = torch.from_numpy(crop.astype(np.float32) / np.float32(255)).permute(2, 0, 1).double()
        with torch.no_grad():
            logits = model64(((x - mean) / std).unsqueeze(0))[0]
        out.append({"path": f"{c}/{f}", "label": int(c[1:]),
                    "crop_sha256": hashlib.sha256(crop.transpose(2, 0, 1).tobytes()).hexdigest(),
                    "logits": [float(v) for v in logits]})
    with open(os.path.join(args.out, "golden.json"), "w") as fh:
        json.dump({"images": out}, fh, indent=1)
        fh.write("\n")
    for o in out:
        print(o["path"], " ".join("%.4f" % v for v in o["logits"]))


if __name__ == "__main__":
    main()
