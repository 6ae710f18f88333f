"""`jaxdiv data show | info | prepare`: look at a source, and build the embedded data ahead of time."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from jaxdiv.data import downstream, glyphs, sampler
from jaxdiv.data.sources import get_source


def image_grid(images: np.ndarray, rows: int, invert: bool):
  """(B, H, W, C) uint8 -> one PIL image of `rows` rows with a 2 px gutter."""
  from PIL import Image
  count, height, width, channels = images.shape
  cols = int(np.ceil(count / rows))
  canvas = np.full((rows * (height + 2), cols * (width + 2), channels), 255 if invert else 0, np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, cols)
    canvas[r * (height + 2):r * (height + 2) + height, c * (width + 2):c * (width + 2) + width] = \
        255 - image if invert else image
  return Image.fromarray(canvas[..., 0] if channels == 1 else canvas)


def show(name: str, out: str, classes: int = 8, per_class: int = 12, seed: int = 0, split: str = "train",
         resolution: int = 32, scale: int = 3, **dials) -> str:
  """Write a PNG grid to `out`: one row per drawn class, `per_class` samples each. `dials` (the pools'
  designs_per_class and spread) show what a factor study's levels train on."""
  from PIL import Image
  source = get_source(name, split=split, resolution=resolution, **_pool_dials(name, dials))
  classes = min(classes, source.num_classes)
  images, _ = source.read_batch(sampler.subset_indices(source.labels, classes, per_class, seed))
  grid = image_grid(images, rows=classes, invert=name.startswith(("glyphs", "strokes")))
  grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  grid.save(out)
  return out


def _pool_dials(name: str, dials: dict) -> dict:
  """The dials that differ from their defaults; an error for a source that lacks one."""
  set_dials = {k: v for k, v in dials.items() if v is not None and v != {"designs_per_class": 0, "spread": 1.0}[k]}
  if name.startswith(("fractals", "strokes")) and "designs_per_class" in set_dials:
    raise ValueError("--designs-per-class is a dial of the glyph pool; the fractal and stroke pools have --spread only")
  if set_dials and not name.startswith(("glyphs", "fractals", "strokes")):
    raise ValueError(f"--designs-per-class and --spread are dials of the rendered pools; {name!r} has neither")
  return set_dials


def describe(name: str, split: str = "train", resolution: int = 32, **dials) -> dict:
  """Classes, samples (per class), image shape; a source with a `describe()` adds its own details."""
  source = get_source(name, split=split, resolution=resolution, **_pool_dials(name, dials))
  counts = np.bincount(source.labels, minlength=source.num_classes)
  info = {"name": name, "split": split, "classes": int(source.num_classes), "samples": len(source),
          "samples_per_class": {"min": int(counts.min()), "median": float(np.median(counts)),
                                "max": int(counts.max())},
          "image_shape": list(source.image_shape)}
  return {**info, **(source.describe() if hasattr(source, "describe") else {})}


def variety(name: str, resolution: int = 20, classes: int = 32, **dials) -> dict:
  """The pool's coverage curve (`variety.coverage_curve`) at its dials, named with them."""
  from jaxdiv.data.variety import coverage_curve
  set_dials = _pool_dials(name, dials)
  source = get_source(name, resolution=resolution, **set_dials)
  return {"name": name, "resolution": resolution, **set_dials, **coverage_curve(source, classes)}


def prepare(tasks=downstream.DEFAULT_TASKS, resolution: int = 32, report=print) -> list[dict]:
  """Build the glyph design index and every embedded task now (each is otherwise built on first use)."""
  rows = []
  start = time.perf_counter()
  pool = glyphs.GlyphPool(glyphs.GlyphPoolConfig(resolution=resolution))
  rows.append({"task": "glyphs (design index)", "classes": pool.num_classes,
               "seconds": round(time.perf_counter() - start, 1)})
  report(json.dumps(rows[-1]))
  for task in tasks:
    start = time.perf_counter()
    builder = downstream.prepare(task, resolution)
    splits = builder.info.splits
    rows.append({"task": task, "classes": builder.info.features["label"].num_classes,
                 "train": splits["train"].num_examples, "test": splits["test"].num_examples,
                 "seconds": round(time.perf_counter() - start, 1)})
    report(json.dumps(rows[-1]))
  return rows
