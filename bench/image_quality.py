#!/usr/bin/env python3
"""Quality check for bench/images.sh: ishop's image outputs against cwebp (WebP) and
`vips thumbnail` (JPEG fallback) at the same width, height and quality.

    python3 bench/image_quality.py --cache SITE/.ishop/images --work DIR [--quality 80] [--method 4]
                                   [--jobs 2] --out DIR/quality.csv --summary DIR/summary.json

For every set in the ishop image cache (sets/*.json, one per source) and every output in it:
  - the peer's file at the same size: `cwebp -q Q -m M -resize W H` for each WebP, and
    `vips thumbnail SRC OUT.jpg[Q=Q,strip] W --height H` for a JPEG fallback (a PNG fallback,
    for a source with transparency, has no peer and is skipped). cwebp does not apply the EXIF
    orientation, so a source whose orientation is not 1 is handed to cwebp as an upright PNG
    (Pillow's lossless decode, turned), the same pixels cwebp would decode itself;
  - a reference: Pillow's LANCZOS resize, in one step from the full-size original turned by
    its EXIF orientation and converted from its ICC profile (if any) to sRGB, to the output's
    own width and height;
  - file sizes, and PSNR (RGB) and SSIM (luma, Gaussian 11x11, sigma 1.5) of each output
    against the reference. Transparent outputs are compared composited over mid grey.
Per-output rows go to --out, medians and extremes to --summary (and stdout).
Needs numpy and Pillow (Debian: python3-numpy python3-pil), cwebp and vips.
"""
import argparse
import csv
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys

import numpy as np
from PIL import Image, ImageCms, ImageOps

Image.MAX_IMAGE_PIXELS = None


def upright_srgb(path):
    """The original as a shopper should see it: EXIF-turned, sRGB, RGB or RGBA; plus its orientation."""
    im = Image.open(path)
    im.load()
    orientation = im.getexif().get(0x0112, 1)
    icc = im.info.get("icc_profile")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    im = ImageOps.exif_transpose(im)
    im = im.convert("RGBA" if has_alpha else "RGB")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode=im.mode)
        except Exception as error:  # a profile lcms cannot use: keep the pixels as they are
            print(f"warning: {path}: ICC profile not applied: {error}", file=sys.stderr)
    return im, orientation, has_alpha


def as_float_rgb(im):
    """RGB float32; transparent images composited over mid grey."""
    a = np.asarray(im.convert("RGBA") if im.mode in ("RGBA", "LA", "PA", "P") else im.convert("RGB"),
                   dtype=np.float32)
    if a.shape[2] == 4:
        alpha = a[:, :, 3:4] / 255.0
        a = a[:, :, :3] * alpha + 128.0 * (1.0 - alpha)
    return a


def psnr(x, y):
    mse = float(np.mean((x - y) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


GAUSS = np.exp(-0.5 * (np.arange(11, dtype=np.float32) - 5) ** 2 / 1.5 ** 2)
GAUSS /= GAUSS.sum()


def blur(a):
    """Separable 11-tap Gaussian, 'valid' region only."""
    h, w = a.shape
    rows = sum(GAUSS[k] * a[k:h - 10 + k, :] for k in range(11))
    return sum(GAUSS[k] * rows[:, k:w - 10 + k] for k in range(11))


def luma(rgb):
    return rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114


def ssim(x, y):
    x, y = luma(x), luma(y)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(m.mean())


def one_set(job):
    set_path, cache, work, quality, method = job
    with open(set_path) as fh:
        s = json.load(fh)
    source = s["source"]
    name = os.path.splitext(os.path.basename(source))[0]
    ref_full, orientation, has_alpha = upright_srgb(source)
    cwebp_input = source
    if orientation != 1:
        cwebp_input = os.path.join(work, "upright", name + ".png")
        os.makedirs(os.path.dirname(cwebp_input), exist_ok=True)
        ImageOps.exif_transpose(Image.open(source)).save(cwebp_input, compress_level=1)
    rows = []
    refs = {}

    def reference(w, h):
        if (w, h) not in refs:
            refs[(w, h)] = as_float_rgb(ref_full.resize((w, h), Image.LANCZOS))
        return refs[(w, h)]

    outputs = [("webp", v) for v in s["webp"]]
    if s.get("fallback"):
        outputs.append(("fallback", s["fallback"]))
    for kind, v in outputs:
        ours_path = os.path.join(cache, "files", os.path.basename(v["file"]))
        w, h = v["width"], v["height"]
        ext = os.path.splitext(ours_path)[1].lstrip(".")
        if kind == "webp":
            peer, peer_name = os.path.join(work, "cwebp", f"{name}-{w}.webp"), "cwebp"
            os.makedirs(os.path.dirname(peer), exist_ok=True)
            subprocess.run(["cwebp", "-quiet", "-q", str(quality), "-m", str(method), "-resize", str(w), str(h),
                            cwebp_input, "-o", peer], check=True)
        elif ext == "jpg":
            peer, peer_name = os.path.join(work, "vips", f"{name}-{w}.jpg"), "vips"
            os.makedirs(os.path.dirname(peer), exist_ok=True)
            subprocess.run(["vips", "thumbnail", source, f"{peer}[Q={quality},strip]", str(w), "--height", str(h),
                            "--size", "down"], check=True, env=dict(os.environ, VIPS_CONCURRENCY="1"))
        else:
            peer, peer_name = None, ""
        ours_im = Image.open(ours_path)
        ours = as_float_rgb(ours_im)
        ref = reference(w, h)
        row = {"photo": os.path.basename(source), "format": ext, "width": w, "height": h,
               "ours_w": ours_im.width, "ours_h": ours_im.height, "ours_bytes": os.path.getsize(ours_path),
               "ours_psnr": round(psnr(ours, ref), 3), "ours_ssim": round(ssim(ours, ref), 5), "peer": peer_name}
        if peer:
            peer_im = Image.open(peer)
            peer_px = as_float_rgb(peer_im)
            peer_ref = ref if peer_im.size == (w, h) else reference(*peer_im.size)
            row.update({"peer_w": peer_im.width, "peer_h": peer_im.height, "peer_bytes": os.path.getsize(peer),
                        "peer_psnr": round(psnr(peer_px, peer_ref), 3), "peer_ssim": round(ssim(peer_px, peer_ref), 5)})
            row["size_ratio"] = round(row["ours_bytes"] / row["peer_bytes"], 4)
            row["ssim_diff"] = round(row["ours_ssim"] - row["peer_ssim"], 5)
            row["psnr_diff"] = round(row["ours_psnr"] - row["peer_psnr"], 3)
        rows.append(row)
    return rows


def summarise(rows):
    def stats(values, digits):
        return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
                "max": round(max(values), digits)} if values else None

    groups = {}
    for r in rows:
        if "size_ratio" not in r:
            continue
        key = "webp" if r["format"] == "webp" else "jpg"
        for k in (key, f"{key}-{r['width']}" if key == "webp" else None):
            if k:
                groups.setdefault(k, []).append(r)
    out = {}
    for k, rs in sorted(groups.items()):
        out[k] = {"pairs": len(rs),
                  "ours_bytes": sum(r["ours_bytes"] for r in rs), "peer_bytes": sum(r["peer_bytes"] for r in rs),
                  "size_ratio": stats([r["size_ratio"] for r in rs], 3),
                  "ours_ssim": stats([r["ours_ssim"] for r in rs], 4), "peer_ssim": stats([r["peer_ssim"] for r in rs], 4),
                  "ssim_diff": stats([r["ssim_diff"] for r in rs], 4),
                  "ours_psnr": stats([r["ours_psnr"] for r in rs], 2), "peer_psnr": stats([r["peer_psnr"] for r in rs], 2),
                  "psnr_diff": stats([r["psnr_diff"] for r in rs], 2),
                  "worst_ssim_diff": min(rs, key=lambda r: r["ssim_diff"])["photo"],
                  "largest_size_ratio": max(rs, key=lambda r: r["size_ratio"])["photo"]}
    out["skipped"] = [f"{r['photo']} {r['format']} {r['width']}" for r in rows if "size_ratio" not in r]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", required=True, help="the site's images.cacheDir (holds sets/ and files/)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--method", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--summary", required=True)
    a = ap.parse_args()
    sets_dir = os.path.join(a.cache, "sets")
    jobs = [(os.path.join(sets_dir, f), a.cache, a.work, a.quality, a.method)
            for f in sorted(os.listdir(sets_dir)) if f.endswith(".json")]
    if not jobs:
        raise SystemExit(f"no image sets in {sets_dir}")
    with multiprocessing.Pool(a.jobs) as pool:
        rows = [r for rs in pool.map(one_set, jobs) for r in rs]
    rows.sort(key=lambda r: (r["photo"], r["format"], r["width"]))
    fields = ["photo", "format", "width", "height", "ours_w", "ours_h", "ours_bytes", "peer", "peer_w", "peer_h",
              "peer_bytes", "size_ratio", "ours_psnr", "peer_psnr", "psnr_diff", "ours_ssim", "peer_ssim", "ssim_diff"]
    with open(a.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    summary = summarise(rows)
    summary["sources"] = len(jobs)
    with open(a.summary, "w") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
