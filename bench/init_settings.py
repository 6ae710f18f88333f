"""Which default slows learning: the zero-initialised last BN scale per block, or the ±2 px shifts?

  python bench/init_settings.py [--steps 400] [--budget 2000] [--classes 8 250] [--width 8] [--resolution 20]

Trains the same glyph-pool runs (one small K, one large K, at one N) under four settings, one change
at a time, and prints the final train loss and accuracy (mean of the last logged window) per run.
The head stays zero-initialised in every setting: the padded-head equivalence of stacked runs needs it.
"""

import argparse
import json
import os
import sys
import tempfile

SETTINGS = {
    "zero last BN scale, shift 2 (the old defaults)": {"model.zero_init_last_scale": True},
    "last BN scale 1 (the new default)": {"model.zero_init_last_scale": False},
    "zero last BN scale, no shift": {"model.zero_init_last_scale": True, "data.max_shift": 0},
    "last BN scale 1, no shift": {"data.max_shift": 0},
}


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--steps", type=int, default=400)
  parser.add_argument("--budget", type=int, default=2000)
  parser.add_argument("--classes", type=int, nargs="+", default=[8, 250])
  parser.add_argument("--width", type=int, default=8)
  parser.add_argument("--resolution", type=int, default=20)
  parser.add_argument("--batch", type=int, default=64)
  args = parser.parse_args(argv)

  from jaxdiv.train import apply_overrides, pretrain
  from jaxdiv.train.config import base_config

  rows = []
  for name, changes in SETTINGS.items():
    config = base_config()
    config.data.resolution, config.model.width = args.resolution, args.width
    config.train.batch_size, config.train.learning_rate, config.train.steps = args.batch, 0.1, args.steps
    config.runs = [{"num_classes": k, "per_class": args.budget // k, "seed": 0} for k in args.classes]
    config.progress, config.log_every, config.checkpoint_every = False, 25, 10 ** 9
    apply_overrides(config, [f"{k}={v}" for k, v in changes.items()])
    with tempfile.TemporaryDirectory() as workdir:
      summary = pretrain(config, workdir)
      losses = _last_window(workdir, summary)
    for run, (loss, accuracy) in zip(summary["runs"], losses):
      rows.append({"setting": name, "K": run["num_classes"], "n": run["per_class"], "steps": args.steps,
                   "train_loss": round(loss, 3), "train_accuracy": round(accuracy, 3)})
      print(json.dumps(rows[-1]), flush=True)
  print(f"\nglyph pool, {args.resolution} px, width {args.width}, batch {args.batch}, lr 0.1, {args.steps} steps, "
        f"N = {args.budget}, {os.cpu_count()} cores ({sys.platform})")
  print("| setting | K | n | train loss (last 100 steps) | train accuracy |\n|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['setting']} | {r['K']} | {r['n']} | {r['train_loss']:.3f} | {r['train_accuracy']:.3f} |")


def _last_window(workdir: str, summary: dict, window: int = 100) -> list[tuple[float, float]]:
  """Mean train loss and accuracy per run over the logged steps of the last `window` steps."""
  import numpy as np
  path = os.path.join(summary["chunks"][0], "metrics.jsonl")
  rows = [json.loads(line) for line in open(path) if line.strip()]
  last = max(r["step"] for r in rows)
  tail = [r for r in rows if r["step"] > last - window]
  return [(float(np.mean([r["loss_runs"][i] for r in tail])), float(np.mean([r["accuracy_runs"][i] for r in tail])))
          for i in range(len(summary["runs"]))]


if __name__ == "__main__":
  main()
