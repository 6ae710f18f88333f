"""Both prediction methods on the same simulated tables: does each 95% interval cover the true K*?

Tables as in `bench/extrapolation_coverage.py` (a U in ln K at N = 256 and 1024, K* ∝ N^s through v3's
K* = 18 at N = 256, v3's curvature and paired noise, three seeds, grids K*/8 ... 8·K*). Each table is
analysed twice, as the library does it: the model-free extrapolation (`measured.extrapolate_k_star`) and the
bound model (`analyse`, its family rule, parametric bootstrap, `predict_split`), both predicting K* at 4x and
16x beyond N = 1024. The bound model is fitted to U-curves it does not generate (quadratic in ln K, as the
measured curves look), which is the case a user meets. Run `python -m bench.prediction_coverage [--studies
30] [--replicates 100]`; each bound fit takes seconds, so the default is small and its coverage is ±8 points.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from bench.extrapolation_coverage import FITTED, PRIOR, SLOPES, true_k
from jaxdiv.bound import power
from jaxdiv.bound.analysis import analyse, predict_split
from jaxdiv.runtime import cpu_model
from jaxdiv.stats import measured


def one_table(slope: float, rng: np.random.Generator):
  design = {"K": {total: [true_k(slope, total) * 2.0 ** i for i in range(-3, 4)] for total in FITTED},
            "seeds": [0, 1, 2]}
  return power.simulate_rows(design, PRIOR, slope, rng)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--studies", type=int, default=30)
  parser.add_argument("--replicates", type=int, default=100)
  args = parser.parse_args()
  start = time.perf_counter()
  print(f"prediction intervals on the same tables, fitted on N = {FITTED}, {args.studies} studies per truth, "
        f"{args.replicates} bound-model bootstrap replicates; {cpu_model()}, {platform.machine()}")
  print("| truth | predict at | method | coverage of the true K* | median width (high/low) | median predicted/true "
        "| bound family chosen |")
  print("|---|---|---|---|---|---|---|")
  for name, slope in SLOPES.items():
    rng = np.random.default_rng([7, int(100 * slope)])
    found = {(m, f): [] for m in ("model-free", "bound model") for f in (4, 16)}
    families = []
    for _ in range(args.studies):
      rows = one_table(slope, rng)
      best = [measured.best_k(c) for c in measured.curves(rows).values()]
      analysis = analyse(rows, replicates=args.replicates)
      families.append(analysis.family)
      for factor in (4, 16):
        target = FITTED[-1] * factor
        free = measured.extrapolate_k_star(best, target)
        bound = predict_split(analysis, target)
        for method, p in (("model-free", free), ("bound model", bound)):
          if p.get("status") == "ok" and p.get("K_ci95"):
            found[(method, factor)].append((p["K_ci95"], p["K_star"], true_k(slope, target)))
    chosen = ", ".join(f"{f} {families.count(f)}" for f in sorted(set(families)))
    for (method, factor), got in found.items():
      if not got:
        continue
      cover = np.mean([lo <= truth <= hi for (lo, hi), _, truth in got])
      width = np.median([hi / lo for (lo, hi), _, _ in got])
      ratio = np.median([k / truth for _, k, truth in got])
      print(f"| {name} | N = {FITTED[-1] * factor} ({factor}x) | {method} | {cover:.0%} ({len(got)}) | {width:.1f} | "
            f"{ratio:.2f} | {chosen if method == 'bound model' else '–'} |", flush=True)
  print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
