"""Writes pil_reference.json and the JPEG files next to it: what PIL computes for
resizing (BICUBIC), convert("L") and JPEG decoding, for DataTests.swift to match.

    python3 -m venv venv && venv/bin/pip install pillow numpy
    venv/bin/python Tests/Fixtures/data/make_pil_reference.py
"""
import base64, json, os
import numpy as np
import PIL
from PIL import Image, features

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()


def entry(img):
    a = np.asarray(img)
    return {"width": img.width, "height": img.height,
            "channels": 1 if a.ndim == 2 else a.shape[2], "pixels": b64(a)}


src = Image.fromarray(rng.integers(0, 256, (17, 23, 3), dtype=np.uint8), "RGB")
# A smooth image too: random bytes clip a lot, gradients exercise the rounding.
yy, xx = np.mgrid[0:17, 0:23]
smooth = np.stack([xx * 11, yy * 15, (xx + yy) * 6], axis=2).astype(np.uint8)
smooth_img = Image.fromarray(smooth, "RGB")
sizes = [(31, 40), (9, 7), (50, 5), (5, 4), (23, 30), (12, 17), (20, 3), (40, 10), (10, 40), (3, 16), (1, 1), (46, 34)]
gray = src.convert("L")
ref = {
    "pillow": PIL.__version__,
    "libjpeg_turbo": features.version("libjpeg_turbo"),
    "source": entry(src),
    "smooth": entry(smooth_img),
    "resize": [entry(src.resize(s, Image.BICUBIC)) for s in sizes],
    "resize_smooth": [entry(smooth_img.resize(s, Image.BICUBIC)) for s in sizes],
    "gray": entry(gray),
    "gray_resize": [entry(gray.resize(s, Image.BICUBIC)) for s in sizes],
    "jpeg": [],
}

# JPEGs written by PIL, decoded by PIL (convert("RGB")).
photo = np.clip(np.stack([xx * 9 + 20, 200 - yy * 8, (xx * yy) % 256], axis=2)
                + rng.integers(-20, 20, (17, 23, 3)), 0, 255).astype(np.uint8)
photo_img = Image.fromarray(photo, "RGB")
cmyk = Image.fromarray(rng.integers(0, 256, (17, 23, 4), dtype=np.uint8), "CMYK")
cases = [
    ("rgb420.jpg", photo_img, dict(quality=90, subsampling=2)),
    ("rgb444.jpg", photo_img, dict(quality=95, subsampling=0)),
    ("progressive.jpg", photo_img, dict(quality=85, progressive=True)),
    ("gray.jpg", photo_img.convert("L"), dict(quality=90)),
    ("cmyk.jpg", cmyk, dict(quality=90)),
]
for name, img, kw in cases:
    path = os.path.join(here, name)
    img.save(path, "JPEG", **kw)
    decoded = Image.open(path).convert("RGB")
    e = entry(decoded)
    e["file"] = name
    ref["jpeg"].append(e)

with open(os.path.join(here, "pil_reference.json"), "w") as f:
    json.dump(ref, f, indent=1)
    f.write("\n")
