"""How often each verdict comes out under each known truth, through the library's own `analyse`.

Tables are drawn from the bound model's surface err = A·K^-α + B·n^-β + C with multiplicative seed noise
(`power.bound_surface_rows`), so K* ∝ N^s with s = β/(α+β) known exactly, and both verdicts are judged
against it: the measured slope of ln K* on ln N (`slope`) and the bound model's exponent (`bound`). Each
row prints the share of studies per verdict and each interval's coverage of s. Every truth passes through
v3's measured K* = 18 at N = 256; at larger N it leaves a grid placed in n when n* grows (the invariant
truth's n* is 57 at N = 4096, beyond n = 32), which the slope calls inconclusive (edge), so its coverage is
counted over the studies whose optima are all inside the grid.

Designs: the v3 CPU study's (N = 256 / 1024 / 4096, n in {4, 8, 16, 32}, 3 seeds, its measured noise) and
a weak drifting table (N = 1024 and 2048, 7 K, 2 seeds, 8% noise). Run:
`python -m bench.verdicts [--studies 40] [--workers 2]`; it prints the table and the hardware.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import platform
import time

import numpy as np

ANCHOR_N, ANCHOR_K = 256, 18  # v3's measured best K at its smallest budget (average task, n* = 14)


def anchored_truth(exponent: float, alpha: float, b: float = 0.8, c: float = 0.2) -> dict:
  """The surface whose K* ∝ N^exponent passes through K* = ANCHOR_K at N = ANCHOR_N: β = α·s/(1 − s) sets
  the exponent, A the height. From α·A·K^-α = β·B·n^-β at the optimum, K*^(α+β) = (α·A / β·B)·N^β."""
  beta = alpha * exponent / (1 - exponent)
  a = beta * b / alpha * (ANCHOR_K / ANCHOR_N ** exponent) ** (alpha + beta)
  return dict(A=a, alpha=alpha, B=b, beta=beta, C=c)


# Errors 0.3-0.6 over these grids, like the glyph studies' average task.
TRUTHS = {"invariant, s = 0.5": anchored_truth(0.5, 0.5), "drifts, s = 0.71": anchored_truth(0.71, 0.25),
          "proportional, s = 0.95": anchored_truth(0.95, 0.05),
          # a weak drifting table: the tests' invariant surface (A 2, B 1, C 0.05) with α 0.25, β 0.6
          "weak drift, s = 0.71": dict(A=2.0, alpha=0.25, B=1.0, beta=0.6, C=0.05)}
DESIGNS = {
    "v3 (256/1024/4096, n 4-32, 3 seeds)": dict(budgets=(256, 1024, 4096), seeds=3, n_values=(4, 8, 16, 32)),
    "weak table (1024/2048, 7 K, 2 seeds, 8%)": dict(budgets=(1024, 2048), seeds=2, points=7, noise=0.08),
}
# The weak table under its own truth; the v3 design under the three anchored ones.
RUNS = [(d, t) for d in DESIGNS for t in TRUTHS if d.startswith("weak") == t.startswith("weak")]


def one_study(design: str, truth: str, index: int, noise: float, replicates: int) -> dict:
  """One simulated study's two verdicts and whether each interval covers the true exponent."""
  from jaxdiv.bound.analysis import analyse
  from jaxdiv.bound.power import bound_surface_rows
  params = TRUTHS[truth]
  spec = dict(DESIGNS[design])
  spec.setdefault("noise", noise)
  rows = bound_surface_rows(params, seed=10_000 + index, **spec)
  result = analyse(rows, replicates=replicates, seed=index)
  edge = any(b["at_edge"] for b in result.best_k)
  exponent = params["beta"] / (params["alpha"] + params["beta"])
  slope_ci = result.slope.get("slope_ci95") or [np.nan, np.nan]
  bound_ci = result.invariance.get("exponent_ci95") or [np.nan, np.nan]
  return {"design": design, "truth": truth, "edge": edge,
          "slope": result.slope["verdict"], "bound": result.invariance["verdict"],
          "slope_covers": bool(slope_ci[0] <= exponent <= slope_ci[1]),
          "bound_covers": bool(bound_ci[0] <= exponent <= bound_ci[1]),
          "slope_half": (slope_ci[1] - slope_ci[0]) / 2, "bound_half": (bound_ci[1] - bound_ci[0]) / 2}


def table(results: list[dict], studies: int) -> list[str]:
  from jaxdiv.bound.power import VERDICTS
  short = {v: v.split(" (")[0] for v in VERDICTS}
  header = " / ".join(short[v] for v in VERDICTS)
  lines = [f"| design | truth | an optimum at the edge | slope: {header} | slope CI covers, no edge (median "
           f"half-width) | bound: {header} | bound CI covers (median half-width) |", "|---|---|---|---|---|---|---|"]
  for design, truth in RUNS:
    got = [r for r in results if r["design"] == design and r["truth"] == truth]
    def shares(kind):
      return " / ".join(f"{sum(r[kind] == v for r in got) / len(got):.2f}" for v in VERDICTS)
    def cover(kind):  # the slope's interval only where no budget's optimum is at the grid's edge
      fair = [r for r in got if kind == "bound" or not r["edge"]]
      fair = fair or [{f"{kind}_covers": np.nan, f"{kind}_half": np.nan}]
      return f"{np.mean([r[kind + '_covers'] for r in fair]):.2f} ({np.median([r[kind + '_half'] for r in fair]):.2f})"
    edge = f"{np.mean([r['edge'] for r in got]):.2f}"
    cells = [design, truth, edge, shares("slope"), cover("slope"), shares("bound"), cover("bound")]
    lines.append("| " + " | ".join(cells) + " |")
  lines.append(f"{studies} studies per row; any verdict outside the four columns is counted in none of them.")
  return lines


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--studies", type=int, default=40, help="simulated studies per (design, truth)")
  parser.add_argument("--replicates", type=int, default=100, help="bootstrap replicates per study")
  parser.add_argument("--noise", type=float, default=0.045,
                      help="seed SD of ln error in the v3 design (v3's average task, pooled: 0.044)")
  parser.add_argument("--workers", type=int, default=2)
  args = parser.parse_args()
  start = time.perf_counter()
  jobs = [(d, t, i, args.noise, args.replicates) for d, t in RUNS for i in range(args.studies)]
  context = multiprocessing.get_context("spawn")
  with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
    results = list(pool.map(one_study, *zip(*jobs)))
  print(f"# bench/verdicts.py on {platform.processor() or platform.machine()}, {args.workers} workers, "
        f"{args.replicates} bootstrap replicates, v3 noise {args.noise}: {time.perf_counter() - start:.0f} s")
  print("\n".join(table(results, args.studies)))


if __name__ == "__main__":
  main()
