"""How often each factor verdict comes out under known truths, through the report's own path.

A factor study at one N (`configs/what_sets_n.py`: n in {2, ..., 64}, three paired seeds) is simulated with
n* = 15·(level / base)^γ (`power.factor_rows`, v3's curvature and noise at N = 1024), and analysed as the report
does it (`measured.curves` per level -> `best_k`, each level its own stream -> `factor_slope`). Each row prints
the interval's coverage of γ, its median width, and the share of studies per verdict. Run:
`python -m bench.factor_verdicts [--studies 300]`; it prints the table and the hardware.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import Counter

import numpy as np

from jaxdiv.bound import power
from jaxdiv.runtime import cpu_model
from jaxdiv.stats import measured

DESIGNS = {"spread": ("data.spread", [0.5, 1.0, 2.0], 1.0), "designs": ("data.designs_per_class", [1, 4, 19], 19),
           "width": ("model.width", [8, 16], 8), "width3": ("model.width", [4, 8, 16], 8)}
GAMMAS = (0.0, 0.3, 0.6, -0.3)


def one_study(levels: list, base: float, gamma: float, rng: np.random.Generator, replicates: int) -> dict:
  truth = {level: 15.0 * (level / base) ** gamma for level in levels}
  rows = power.factor_rows(truth, rng)
  best = [measured.best_k(measured.curves(rows, where={"spread": level})[1024], replicates, seed=i)
          for i, level in enumerate(levels)]
  return measured.factor_slope(best, levels, "x")


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--studies", type=int, default=300)
  parser.add_argument("--replicates", type=int, default=1000)
  args = parser.parse_args()
  start = time.perf_counter()
  print(f"factor verdicts, {args.studies} simulated studies per row, {args.replicates} bootstrap replicates; "
        f"{cpu_model()}, {platform.machine()}")
  print("| design | levels | true γ | coverage | median CI width | moves | does not depend | inconclusive | "
        "of which at an edge |")
  print("|---" * 9 + "|")
  for name, (field, levels, base) in DESIGNS.items():
    for gamma in GAMMAS:
      rng = np.random.default_rng([len(levels), int(100 * gamma) + 1000])
      results = [one_study(levels, base, gamma, rng, args.replicates) for _ in range(args.studies)]
      with_ci = [r for r in results if r["slope_ci95"]]
      covered = [r["slope_ci95"][0] <= gamma <= r["slope_ci95"][1] for r in with_ci]
      widths = [r["slope_ci95"][1] - r["slope_ci95"][0] for r in with_ci]
      kinds = Counter("moves" if r["verdict"].startswith("n* moves") else
                      "flat" if r["verdict"].startswith("n* does not") else "inconclusive" for r in results)
      edges = sum("edge" in r.get("message", "") for r in results)
      print(f"| {field} | {levels} | {gamma:+.1f} | {np.mean(covered):.1%} ({len(covered)}) | "
            f"{np.median(widths):.2f} | "
            f"{kinds['moves'] / len(results):.0%} | {kinds['flat'] / len(results):.0%} | "
            f"{kinds['inconclusive'] / len(results):.0%} | {edges / len(results):.0%} |")
  print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
