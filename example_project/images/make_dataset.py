"""Make images/dataset/: 39 small real photos for equivalence over many inputs (issue 21).

Sources: 13 public-domain / CC0 images of scikit-image 0.26.0's `skimage/data` (see
dataset/SOURCE.md), read out of the wheel unpacked at SKIMAGE_DATA. Each gives 3 images at
96x96: the central square, a seeded random crop (40-70% of the short side), and a mirrored
crop with a colour / brightness shift. JPEG quality 85. Deterministic (seed 21).

Run: python images/make_dataset.py /path/to/skimage/data
"""
from __future__ import annotations

import os
import sys

import numpy as np

SOURCES = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
           "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg", "retina.jpg",
           "rocket.jpg", "text.png")
SIZE = 96


def main(data_dir: str) -> None:
    import tensorflow as tf

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataset")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(21)
    for name in SOURCES:
        with open(os.path.join(data_dir, name), "rb") as f:
            img = tf.io.decode_image(f.read(), channels=3, expand_animations=False).numpy()
        h, w = img.shape[:2]
        side = min(h, w)
        crops = [img[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]]
        for _ in range(2):
            s = int(side * rng.uniform(0.4, 0.7))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            crops.append(img[y:y + s, x:x + s])
        crops[2] = crops[2][:, ::-1]
        stem = os.path.splitext(name)[0]
        for i, crop in enumerate(crops):
            small = tf.image.resize(crop.astype(np.float32), [SIZE, SIZE], method="area",
                                    antialias=True).numpy()
            if i == 2:  # colour / brightness shift
                small = small * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20)
            pixels = np.clip(np.rint(small), 0, 255).astype(np.uint8)
            data = tf.io.encode_jpeg(pixels, quality=85, optimize_size=True).numpy()
            with open(os.path.join(out, f"{stem}_{i}.jpg"), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
