"""Data benchmark: glyph rendering, the Grain streaming path and the in-memory path, in img/s.

Prints one table; medians of repeated timings. Run: `python bench/data_pipeline.py [--samples 10000]`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax

from jaxdiv.data import draw_subset, get_source, materialise, pipeline, streaming_dataset


def timed(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--samples", type=int, default=10000)
  parser.add_argument("--batch", type=int, default=256)
  args = parser.parse_args()
  pool = get_source("glyphs")
  per_class = 50
  subset = draw_subset(pool, args.samples // per_class, per_class, seed=0)
  rows = []

  start = time.perf_counter()
  cold = pool.read_batch(subset.indices)[0]  # first renders also rasterise each design's master glyph
  rows.append(("glyph render, cold (1 process)", len(cold) / (time.perf_counter() - start)))
  warm = timed(lambda: pool.read_batch(subset.indices[:2000]), 3)
  rows.append(("glyph render, warm (1 process)", 2000 / warm))
  workers = 2
  start = time.perf_counter()
  materialise(pool, subset.indices, cache_dir="", workers=workers)
  rows.append((f"materialise subset, {workers} processes", args.samples / (time.perf_counter() - start)))

  fashion = get_source("jaxdiv_fashion_mnist")
  fashion_subset = draw_subset(fashion, 10, 1000, seed=0)
  steps = len(fashion_subset.indices) // args.batch
  make = lambda: streaming_dataset(fashion, fashion_subset.indices, fashion_subset.labels,
                                   global_batch=args.batch, num_steps=steps, seed=0)
  rows.append(("Grain streaming, TFDS array_record (batched reads)",
               steps * args.batch / timed(lambda: [b for b in make()], 3)))
  per_record = lambda: [fashion[int(i)] for i in fashion_subset.indices[:steps * args.batch]]
  rows.append(("per-record Python reads (reference)", steps * args.batch / timed(per_record, 3)))
  glyph_steps = 2000 // args.batch
  glyph_stream = lambda: [b for b in streaming_dataset(pool, subset.indices, subset.labels,
                                                       global_batch=args.batch, num_steps=glyph_steps, seed=1)]
  rows.append(("Grain streaming, glyph pool (renders)", glyph_steps * args.batch / timed(glyph_stream, 3)))

  images = jax.device_put(cold)
  labels = jax.device_put(subset.labels)
  def in_memory_batch(step):  # what the trainer's memory_step does before the forward pass
    positions = pipeline.batch_positions(jax.random.key(0), images.shape[0], args.batch, step)
    batch = pipeline.augment_batch(jax.random.fold_in(jax.random.key(1), step), images[positions], 2, False)
    return pipeline.normalise(batch), labels[positions]
  step_fn = jax.jit(in_memory_batch)
  jax.block_until_ready(step_fn(0))
  in_memory = lambda: jax.block_until_ready([step_fn(s) for s in range(50)])
  rows.append(("in-memory device batches (+translate, normalise)", 50 * args.batch / timed(in_memory, 5)))

  print(f"# data pipeline, {platform.processor() or platform.machine()}, {jax.devices()[0].platform}, "
        f"{jax.local_device_count()} device(s), batch {args.batch}")
  print(f"| {'path':52s} | {'img/s':>10s} |")
  print(f"|{'-' * 54}|{'-' * 12}|")
  for name, rate in rows:
    print(f"| {name:52s} | {rate:10,.0f} |")


if __name__ == "__main__":
  main()
