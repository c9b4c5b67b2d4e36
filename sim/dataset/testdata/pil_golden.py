#!/usr/bin/env python3
"""Writes the Pillow reference images that the Go tests compare against.

Run from this folder with Pillow (Debian: python3-pil) and libjpeg-turbo's cjpeg (Debian:
libjpeg-turbo-progs) installed; the committed files were made with Pillow 9.4 and
libjpeg-turbo 2.1.5. Each resampling case builds a synthetic source image from the same
integer formula as resample_test.go, resizes it with Pillow's bicubic Image.resize (or
applies torchvision's Resize(size, BICUBIC) + CenterCrop(crop) logic, reproduced below
without torchvision), and saves the result as pil/NAME.png. Each JPEG case encodes a
synthetic picture with one chroma subsampling as pil/jpeg_NAME.jpg and saves Pillow's
decode of it, convert("RGB"), as pil/jpeg_NAME.png.
"""
import math
import os
import subprocess
from PIL import Image


def source(w, h, mode):
    """noise(x, y, c) = ((x*1103 + y*7919 + c*104729 + x*y*31) % 65521 * 131) % 256."""
    nc = 1 if mode == "L" else 3
    data = bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(nc):
                data.append(((x * 1103 + y * 7919 + c * 104729 + x * y * 31) % 65521 * 131) % 256)
    return Image.frombytes(mode, (w, h), bytes(data))


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
    """torchvision.transforms.functional.center_crop(img, crop) for an int crop, on PIL."""
    w, h = img.size
    if crop > w or crop > h:
        pad_l = (crop - w) // 2 if crop > w else 0
        pad_t = (crop - h) // 2 if crop > h else 0
        padded = Image.new(img.mode, (w + pad_l + ((crop - w + 1) // 2 if crop > w else 0),
                                      h + pad_t + ((crop - h + 1) // 2 if crop > h else 0)))
        padded.paste(img, (pad_l, pad_t))
        img = padded
        w, h = img.size
        if crop == w and crop == h:
            return img
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


# name: (width, height, mode, ("resize", new_w, new_h) or ("eval", resize, crop))
CASES = {
    "down": (97, 61, "RGB", ("resize", 40, 25)),
    "down_big_factor": (500, 37, "RGB", ("resize", 23, 11)),
    "up": (13, 9, "RGB", ("resize", 50, 37)),
    "mixed": (50, 20, "RGB", ("resize", 23, 45)),
    "horizontal_only": (64, 30, "RGB", ("resize", 17, 30)),
    "vertical_only": (30, 64, "RGB", ("resize", 30, 17)),
    "grey": (45, 33, "L", ("resize", 20, 15)),
    "eval_300x400": (300, 400, "RGB", ("eval", 256, 224)),
    "eval_217x189": (217, 189, "RGB", ("eval", 80, 64)),
    "eval_identity_tie": (149, 100, "RGB", ("eval", 100, 64)),
    "eval_upscale": (30, 21, "RGB", ("eval", 80, 64)),
    "eval_grey": (133, 100, "L", ("eval", 80, 64)),
    "eval_padded": (50, 40, "RGB", ("eval", 32, 40)),
}


def picture(w, h):
    """A smooth picture with sharp colour edges, where chroma upsampling matters."""
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            r = int(127 + 100 * math.sin(x / 7.0) * math.cos(y / 9.0))
            g = int(127 + 90 * math.sin((x + y) / 5.0))
            b = (x * y) // 10 % 256
            if (x // 8 + y // 8) % 2 == 0:
                r, b = min(255, r + 80), max(0, b - 80)
            px[x, y] = (r, g, b)
    return img


# name: (width, height, how): Pillow's subsampling option, or cjpeg's -sample argument.
JPEG_CASES = {
    "444": (61, 47, ("pil", 0)),
    "422": (61, 47, ("pil", 1)),
    "420": (61, 47, ("pil", 2)),
    "420_progressive": (64, 40, ("pil_progressive", 2)),
    "420_narrow": (3, 9, ("pil", 2)),
    "440": (61, 47, ("cjpeg", "1x2")),
    "411": (61, 47, ("cjpeg", "4x1")),
}


def write_jpegs():
    for name, (w, h, (how, arg)) in JPEG_CASES.items():
        path = os.path.join("pil", "jpeg_" + name + ".jpg")
        img = picture(w, h)
        if how == "pil":
            img.save(path, quality=90, subsampling=arg)
        elif how == "pil_progressive":
            img.save(path, quality=90, subsampling=arg, progressive=True)
        else:
            img.save("tmp.ppm")
            subprocess.run(["cjpeg", "-quality", "90", "-sample", arg, "-outfile", path, "tmp.ppm"], check=True)
            os.remove("tmp.ppm")
        Image.open(path).convert("RGB").save(os.path.join("pil", "jpeg_" + name + ".png"))


def main():
    os.makedirs("pil", exist_ok=True)
    for name, (w, h, mode, op) in CASES.items():
        img = source(w, h, mode)
        if op[0] == "resize":
            out = img.resize((op[1], op[2]), Image.BICUBIC)
        else:
            out = tv_center_crop(tv_resize(img, op[1]), op[2])
        out.save(os.path.join("pil", name + ".png"))
    # Pillow's CMYK to RGB conversion over every (channel, black) pair: x is the channel
    # value, y the black value; all three colour channels get x.
    cmyk = bytearray()
    for k in range(256):
        for c in range(256):
            cmyk += bytes((c, c, c, k))
    Image.frombytes("CMYK", (256, 256), bytes(cmyk)).convert("RGB").save(os.path.join("pil", "cmyk.png"))
    write_jpegs()


if __name__ == "__main__":
    main()
