"""Does the model-free prediction's 95% interval cover the true K* at a larger N?

Tables are simulated with a known K* ∝ N^s (`power.simulate_rows`: a U in ln K at each fitted budget, v3's
curvature 0.05 and paired noise 1.7 points at N = 1024, three seeds, anchored at v3's K* = 18 at N = 256), the
grid at each fitted budget spanning K*/8 ... 8·K* in factors of 2, and analysed as the library does it
(`measured.curves` -> `best_k` per budget, each its own stream -> `extrapolate_k_star`). Each row prints, per
truth and extrapolation (4x or 16x beyond the largest fitted budget), the share of studies whose interval
covers the true K*, the median interval width (as a ratio high/low) and the median ratio predicted/true.
Run `python -m bench.extrapolation_coverage [--studies 300]`.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from jaxdiv.bound import power
from jaxdiv.runtime import cpu_model
from jaxdiv.stats import measured

PRIOR = {"seed_sd": 0.017, "curvature": 0.05, "floor": 0.3, "best_K": {256: 18.0}}
SLOPES = {"invariant, s = 0.5": 0.5, "drift, s = 0.7": 0.7, "K* ∝ N, s = 1": 1.0}
FITTED = (256, 1024)


def true_k(slope: float, total: int) -> float:
  return PRIOR["best_K"][256] * (total / 256) ** slope


def one_study(slope: float, target: int, rng: np.random.Generator, replicates: int = 1000) -> dict:
  design = {"K": {total: [true_k(slope, total) * 2.0 ** i for i in range(-3, 4)] for total in FITTED},
            "seeds": [0, 1, 2]}
  curves = measured.curves(power.simulate_rows(design, PRIOR, slope, rng))
  best = [measured.best_k(curve, replicates) for curve in curves.values()]
  return measured.extrapolate_k_star(best, target)


def coverage(slope: float, target: int, studies: int, seed: int = 0) -> dict:
  rng = np.random.default_rng([seed, int(100 * slope), target])
  truth = true_k(slope, target)
  results = [one_study(slope, target, rng) for _ in range(studies)]
  ok = [r for r in results if r["status"] == "ok" and r["K_ci95"]]
  return {"coverage": float(np.mean([r["K_ci95"][0] <= truth <= r["K_ci95"][1] for r in ok])), "studies": len(ok),
          "width": float(np.median([r["K_ci95"][1] / r["K_ci95"][0] for r in ok])),
          "ratio": float(np.median([r["K_star"] / truth for r in ok]))}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--studies", type=int, default=300)
  args = parser.parse_args()
  start = time.perf_counter()
  print(f"model-free extrapolation of K*, fitted on N = {FITTED}, {args.studies} simulated studies per row; "
        f"{cpu_model()}, {platform.machine()}")
  print("| truth | predict at | coverage of the true K* | median width (high/low) | median predicted/true |")
  print("|---|---|---|---|---|")
  for name, slope in SLOPES.items():
    for factor in (4, 16):
      target = FITTED[-1] * factor
      c = coverage(slope, target, args.studies)
      print(f"| {name} | N = {target} ({factor}x) | {c['coverage']:.1%} ({c['studies']}) | {c['width']:.1f} | "
            f"{c['ratio']:.2f} |")
  print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
