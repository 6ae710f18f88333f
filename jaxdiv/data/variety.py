"""How much a class's next sample adds: the coverage curve of a pool, the same measure for any source.

For a class, draw n_max samples to "train" on and `probes` more to test with. d(n) is the mean distance
(RMS pixel difference, images in [0, 1]) from each probe to its nearest neighbour among the first n
training samples. While new samples keep landing where earlier ones did not, d(n) keeps falling; once the
class's variety is covered at this resolution it flattens. So d(64) / d(32) < 1 says the 33rd-64th images
still add variety a 32-image class lacks. Pixel space needs no network, so it compares pools before any
training; it does not say which variety a network can use.
"""

from __future__ import annotations

import numpy as np

N_VALUES = (1, 2, 4, 8, 16, 32, 64)


def nearest_distances(train: np.ndarray, probes: np.ndarray, n_values=N_VALUES) -> np.ndarray:
  """(len(n_values),) mean over probes of the distance to the nearest of the first n rows of `train`."""
  train, probes = train.reshape(len(train), -1), probes.reshape(len(probes), -1)
  squared = (np.sum(probes ** 2, 1)[:, None] + np.sum(train ** 2, 1)[None, :] - 2 * probes @ train.T)
  distance = np.sqrt(np.maximum(squared, 0.0) / train.shape[1])
  return np.array([distance[:, :n].min(1).mean() for n in n_values])


def class_samples(source, class_index: int, count: int) -> np.ndarray:
  """The class's first `count` samples as float images in [0, 1] (the pools index samples within a class)."""
  start = class_index * source.samples_per_class
  images, _ = source.read_batch(np.arange(start, start + count))
  return images.astype(np.float64) / 255.0


def coverage_curve(source, classes: int = 32, probes: int = 32, n_values=N_VALUES, seed: int = 0) -> dict:
  """d(n) averaged over `classes` random classes, with its spread over classes, and d(n) / d(1)."""
  if not hasattr(source, "samples_per_class"):
    raise ValueError("the coverage curve needs a pool that renders samples per class (glyphs or fractals)")
  n_max = max(n_values)
  if n_max + probes > source.samples_per_class:
    raise ValueError(f"n = {n_max} plus {probes} probes exceeds the {source.samples_per_class} samples per class")
  chosen = np.random.default_rng(seed).choice(source.num_classes, min(classes, source.num_classes), replace=False)
  curves = []
  for c in chosen:
    images = class_samples(source, int(c), n_max + probes)
    curves.append(nearest_distances(images[:n_max], images[n_max:], n_values))
  curves = np.array(curves)
  mean = curves.mean(0)
  # Per class ratios, so a class's own scale cancels (a class already covered, 0 / 0, adds nothing: 1).
  last, before = curves[:, -1], curves[:, -2] if len(n_values) > 1 else curves[:, -1]
  ratio_64_32 = np.divide(last, before, out=np.ones_like(last), where=before > 0)
  return {"n": [int(n) for n in n_values], "distance": [round(float(d), 4) for d in mean],
          "relative": [round(float(d / mean[0]), 3) for d in mean], "classes": len(chosen), "probes": probes,
          "last_ratio": round(float(ratio_64_32.mean()), 3),
          "last_ratio_se": round(float(ratio_64_32.std(ddof=1) / np.sqrt(len(curves))), 3) if len(curves) > 1 else None}
