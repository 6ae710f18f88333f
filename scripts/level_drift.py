"""Does n* at one factor level stay put as N grows? The slope of ln K* on ln N at that level, across studies.

A factor study fixes N; its follow-up runs one level at a larger N. This reads the average task's grid rows
of that level from each workdir (rows whose `--field` equals `--level`), finds K* per budget with its
bootstrap (`measured.best_k`), and prints the slope of ln K* on ln N with its 95% interval and the verdict
the CPU studies use (0.5: K/n N-invariant; 1: n* fixed, K* in proportion to N).

  python scripts/level_drift.py --field spread --level 2 \
      docs/studies/what_sets_n_spread docs/studies/what_sets_n_spread_4096
  python scripts/level_drift.py --field spread --level 2 --n-min 8 ...   # without the n = 4 points
"""

from __future__ import annotations

import argparse
import json

from jaxdiv.results import read_rows, with_average
from jaxdiv.stats import measured


def level_rows(workdirs: list[str], name: str, level: float, n_min: int = 0) -> list:
  """The average task's sweep rows at `name` = `level` from every workdir, n >= `n_min` (to leave out the
  points a failed gate marks as under-trained)."""
  rows = []
  for workdir in workdirs:
    rows += [r for r in with_average(read_rows(workdir)) if r.task == "average" and r.stage == "sweep"
             and float(getattr(r, name)) == float(level) and r.n >= n_min]
  return rows


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workdirs", nargs="+")
  parser.add_argument("--field", required=True, help="the row field the factor sets (spread, width, designs_per_class)")
  parser.add_argument("--level", type=float, required=True)
  parser.add_argument("--replicates", type=int, default=1000)
  parser.add_argument("--n-min", type=int, default=0, help="leave out grid points with fewer images per class")
  args = parser.parse_args()
  best = [measured.best_k(curve, replicates=args.replicates)
          for curve in measured.curves(level_rows(args.workdirs, args.field, args.level, args.n_min)).values()]
  for b in best:
    ci = b["K_ci95"] or [float("nan")] * 2
    print(f"N = {b['N']}: K* = {b['K_star']:.0f} [{ci[0]:.0f}, {ci[1]:.0f}], n* = {b['n_star']:.1f} "
          f"[{b['N'] / ci[1]:.1f}, {b['N'] / ci[0]:.1f}]{' (at the edge)' if b['at_edge'] else ''}, "
          f"{b['seeds']} seeds")
  slope = measured.invariance_slope(best)
  print(json.dumps({k: slope.get(k) for k in ("slope", "slope_ci95", "verdict", "message")}))


if __name__ == "__main__":
  main()
