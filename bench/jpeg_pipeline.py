"""JPEG input benchmark: decoded 224 px training images per second per host, against what an accelerator eats.

An ImageNet-shaped dataset (JPEGs of 250-500 px, quality 90, ~ImageNet's file sizes) is packaged once with
TFDS's own builder (no TensorFlow) in the cache. Each path delivers batches of random-resized 224 px crops
(flipped) of a K x n subset:
  - the single-thread path before this change: TFDS decodes every record (PIL), then resize + centre crop;
  - jaxdiv's reader in the calling thread (PIL, crop box applied in the resize);
  - the same reader in 1, 2 and all-core Grain worker processes (`data.decode_workers`).
The accelerator's appetite is an estimate: the committed H200 train step of this ResNet-18 at 32 px
(bench/results/h200_train_resnet.txt) scaled by the XLA cost-analysis FLOPs of one image at 32 px (small
stem) and at 224 px (ImageNet stem). Run: `python -m bench.jpeg_pipeline [--images 768 --batch 64]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from jaxdiv import io
from jaxdiv.data import draw_subset, encoded, get_source, streaming_dataset
from jaxdiv.data.sources import fit_image

H200_IMAGES_PER_SECOND_32PX = {"float32": 35_785, "bfloat16": 57_670}  # bench/results/h200_train_resnet.txt


def natural_ish_jpeg(rng: np.random.Generator) -> bytes:
  """A 250-500 px photo-like JPEG: smooth colour fields plus texture, so its size and decode cost are
  ImageNet's (about 110 KB at 400 x 350), not those of flat noise or flat colour."""
  height, width = rng.integers(250, 501, 2)
  coarse = rng.integers(0, 255, (height // 32 + 2, width // 32 + 2, 3)).astype(np.float32)
  from PIL import Image
  smooth = np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BICUBIC), np.float32)
  image = np.clip(smooth + rng.normal(0, 18, smooth.shape), 0, 255).astype(np.uint8)
  return encoded.encode(image, "jpeg", quality=90)


def build(images: int, classes: int) -> str:
  data_dir = os.path.join(io.default_cache_dir(), "bench_jpeg")

  def examples():
    rng = np.random.default_rng(0)
    for i in range(images):
      yield natural_ish_jpeg(rng), i % classes
  encoded.build_encoded_dataset(f"bench_jpeg{images}", data_dir, {"train": examples}, classes)
  return data_dir


def cpu_name() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return platform.processor() or platform.machine()


def rate(fn, batches: int, batch: int, repeats: int = 3) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn(batches)
    times.append(time.perf_counter() - start)
  return batches * batch / statistics.median(times)


def flops_per_image(stem: str, resolution: int, width: int = 64) -> float:
  """Forward + backward FLOPs of one image in one train step (XLA cost analysis, batch 8)."""
  import functools

  import jax
  import jax.numpy as jnp

  from jaxdiv.models import ResNet18
  from jaxdiv.train.config import base_config
  from jaxdiv.train.state import create_state, make_optimizer
  from jaxdiv.train.step import train_step
  model = ResNet18(1000, stem=stem, width=width)
  optimizer = make_optimizer(base_config().train, 1000)
  state = create_state(model, optimizer, jax.random.key(0), (resolution, resolution, 3))
  images = jnp.zeros((8, resolution, resolution, 3), jnp.uint8)
  step = jax.jit(functools.partial(train_step, model=model, optimizer=optimizer))
  cost = step.lower(state, images, jnp.zeros((8,), jnp.int32), 1000).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  return cost["flops"] / 8


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--images", type=int, default=768)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--batches", type=int, default=48)
  args = parser.parse_args()
  classes = 8
  data_dir = build(args.images, classes)
  source = get_source(f"bench_jpeg{args.images}@{data_dir}", "train", resolution=224)
  subset = draw_subset(source, classes, args.images // classes, seed=0)
  sizes = [len(r["image"]) for r in source.raw.__getitems__(list(range(64)))]
  rows = []

  def old_path(batches):  # what TfdsSource.read_batch did: TFDS decodes the record, then resize + centre crop
    for b in range(batches):
      chunk = np.take(subset.indices, np.arange(b * args.batch, (b + 1) * args.batch), mode="wrap")
      records = source.__getitems__(chunk.tolist())
      np.stack([fit_image(np.asarray(r["image"]), 224, 3) for r in records])
  rows.append(("TFDS decode + resize, calling thread (before)", rate(old_path, args.batches, args.batch)))

  def stream(workers):
    def run(batches):
      dataset = streaming_dataset(source, subset.indices, subset.labels, global_batch=args.batch,
                                  num_steps=batches + 3 * max(1, workers), seed=0, workers=workers,
                                  random_crop=True, flip=True)
      iterator = iter(dataset)
      for _ in range(3 * max(1, workers)):  # worker start-up and the first fill of the buffers (2 batches
        next(iterator)                      # per worker) are not throughput; they inflate it <= 2W/batches
      start = time.perf_counter()
      for _ in range(batches):
        next(iterator)
      run.seconds = time.perf_counter() - start
    return run

  def steady(workers):
    run = stream(workers)
    times = []
    for _ in range(3):
      run(args.batches)
      times.append(run.seconds)
    return args.batches * args.batch / statistics.median(times)

  rows.append(("jaxdiv reader, random-resized crop, calling thread", steady(0)))
  cores = os.cpu_count() or 1
  for workers in sorted({1, 2, cores}):
    rows.append((f"jaxdiv reader in {workers} Grain worker process{'es' if workers > 1 else ''}", steady(workers)))

  small, large = flops_per_image("small", 32), flops_per_image("imagenet", 224)
  print(f"# {cpu_name()}, {cores} cores | {args.images} JPEGs of 250-500 px, "
        f"median {np.median(sizes) / 1024:.0f} KB | batch {args.batch} of 224 px random-resized crops | medians of 3")
  print("| path | img/s | vs before |\n|---|---|---|")
  for name, value in rows:
    print(f"| {name} | {value:,.0f} | {value / rows[0][1]:.2f}x |")
  print(f"\nTrain FLOPs per image (XLA cost analysis): {small / 1e9:.2f} G at 32 px (small stem), "
        f"{large / 1e9:.2f} G at 224 px (ImageNet stem), ratio {large / small:.1f}.")
  for dtype, measured in H200_IMAGES_PER_SECOND_32PX.items():
    need = measured * small / large
    print(f"H200 {dtype}: {measured:,} img/s measured at 32 px -> about {need:,.0f} img/s at 224 px at the same "
          f"FLOP rate: {need / rows[-1][1]:.1f}x this host's best path, or {need / rows[2][1]:.0f} worker processes "
          "at the 1-worker rate")


if __name__ == "__main__":
  main()
