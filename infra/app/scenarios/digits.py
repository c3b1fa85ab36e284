"""The ``digits`` scenario's data: scikit-learn's bundled 8x8 digits, some of them blurred.

Each row is one image: 64 pixel intensities ``p00``..``p63`` (0-16, row-major) that the
model reads, and ``blur``, the image-quality score the service computes and reports next
to them (the model does not read it; the profiler can slice on it). ``blur`` is also the
generator's control property for this route: it conditions on the score, so it can be
asked for blurred digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
from scipy.ndimage import gaussian_filter, laplace

SIDE = 8
PIXELS = tuple(f"p{i:02d}" for i in range(SIDE * SIDE))
LABELS = tuple(str(d) for d in range(10))
BLURRED_SHARE = 0.3
SIGMA = (0.8, 1.4)

Row = tuple[dict[str, float], dict[str, str]]


@cache
def _images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.float64), digits.target.astype(np.int64)


def blur_score(image: np.ndarray) -> float:
    """1 minus the image's edge energy (mean absolute Laplacian) relative to its ink: higher is blurrier.

    Sharp digits score about 0.3-0.65, digits blurred with a Gaussian of sigma >= 0.8 above 0.75.
    """
    ink = float(image.mean())
    if ink <= 0:
        return 0.0
    edges = float(np.abs(laplace(image, mode="constant")).mean())
    return 1.0 - edges / (4.0 * ink)


def blur(features: Mapping[str, float], attributes: Mapping[str, str]) -> float:
    """The route's ``blur`` control: the blur score of the image a row's pixels make.

    >>> sharp = {p: 16.0 if i % 9 == 0 else 0.0 for i, p in enumerate(PIXELS)}
    >>> round(blur(sharp, {}), 2)
    0.0
    """
    image = np.array([features[p] for p in PIXELS], dtype=np.float64).reshape(SIDE, SIDE)
    return max(0.0, blur_score(np.clip(image, 0.0, 16.0)))


def rows(count: int, seed: int) -> list[tuple[Row, str]]:
    """``count`` labelled rows: random digits shifted by up to a pixel, ``BLURRED_SHARE`` of them blurred."""
    images, targets = _images()
    rng = np.random.default_rng(seed)
    out: list[tuple[Row, str]] = []
    for index in rng.integers(0, len(images), count):
        image = np.roll(images[index], int(rng.integers(-1, 2)), axis=1)
        if rng.random() < BLURRED_SHARE:
            image = gaussian_filter(image, sigma=rng.uniform(*SIGMA))
            image *= 16.0 * rng.uniform(0.7, 1.0) / max(float(image.max()), 1e-9)
        features = {p: round(float(v), 3) for p, v in zip(PIXELS, image.ravel(), strict=True)}
        features["blur"] = round(blur_score(image), 4)
        out.append(((features, {}), LABELS[int(targets[index])]))
    return out
