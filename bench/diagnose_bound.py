"""Where does the bound model A·K^-α + B·n^-β + C fail to follow a study's measured U-curves?

Fits each family on the study's fit budgets (as the study did) and draws, per budget, the measured seed means
(±1 SE) against each family's curve, with the residuals (measured − fitted, points) underneath; the budgets
beyond the fit are extrapolations. Prints the residual table and the vertex of each curve. Run
`python -m bench.diagnose_bound --workdir docs/studies/study_cpu_v3 \
--out docs/studies/study_cpu_v3/report/bound_diagnosis.png`.
"""

from __future__ import annotations

import argparse

import numpy as np

from jaxdiv import io
from jaxdiv.bound.analysis import error_matrix
from jaxdiv.bound.model import FAMILIES, error_at, fit_error_model, optimal_k
from jaxdiv.results import AVERAGE
from jaxdiv.stats import measured
from jaxdiv.study.files import read_results, sweep_rows


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--fit-budgets", type=int, nargs="*", default=None)
  args = parser.parse_args()
  rows = sweep_rows(read_results(args.workdir)[AVERAGE])
  study = io.read_json_if_exists(f"{args.workdir}/study.json") or {}
  fitted_n = args.fit_budgets or study.get("fit_N") or sorted({r.N for r in rows})
  K, n, err_by_seed = error_matrix([r for r in rows if r.N in fitted_n])
  fits = {f: fit_error_model(K, n, err_by_seed.mean(axis=1), family=f) for f in FAMILIES}
  curves = measured.curves(rows)
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  budgets = sorted(curves)
  fig, axes = plt.subplots(2, len(budgets), figsize=(4.2 * len(budgets), 6.2), sharex="col",
                           gridspec_kw={"height_ratios": [3, 1.4]})
  colours = {"shared": "tab:blue", "separate": "tab:red", "sqrt": "tab:green"}
  print(f"fitted on N = {fitted_n}; params: " + "; ".join(
      f"{f}: " + ", ".join(f"{k}={v:.3g}" for k, v in fit.params.items()) for f, fit in fits.items()))
  print("| N | K | n | measured | " + " | ".join(f"{f} fit | residual (pt)" for f in FAMILIES) + " |")
  print("|---" * (4 + 2 * len(FAMILIES)) + "|")
  for col, total in enumerate(budgets):
    curve = curves[total]
    se = np.nanstd(curve.errors, axis=1, ddof=1) / np.sqrt(curve.seed_counts)
    top, bottom = axes[0, col], axes[1, col]
    top.errorbar(curve.K, curve.mean, yerr=se, fmt="ko", capsize=2, label="measured (seed mean ± SE)")
    ks = np.geomspace(curve.K.min() / 1.5, curve.K.max() * 1.5, 100)
    for f, fit in fits.items():
      top.plot(ks, error_at(fit.params, ks, total / ks), color=colours[f], ls="-" if total in fitted_n else "--",
               label=f"{f} (K* {optimal_k(fit.params, total):.0f})")
      residual = 100 * (curve.mean - error_at(fit.params, curve.K, total / curve.K))
      bottom.plot(curve.K, residual, "o-", color=colours[f], ms=3)
    best = measured.best_k(curve)
    top.axvline(best["K_star"], color="k", lw=0.8, ls=":")
    top.set_title(f"N = {total} ({'fitted' if total in fitted_n else 'extrapolated'}); measured K* "
                  f"{best['K_star']:.0f}", fontsize=9)
    top.set_xscale("log")
    bottom.axhline(0, color="grey", lw=0.8)
    bottom.set_xlabel("K (classes)")
    top.legend(fontsize=6)
    for i, k in enumerate(curve.K):
      print(f"| {total} | {int(k)} | {int(total // k)} | {curve.mean[i]:.3f} | " + " | ".join(
          f"{float(error_at(fit.params, k, total / k)):.3f} | "
          f"{100 * (curve.mean[i] - float(error_at(fit.params, k, total / k))):+.1f}" for fit in fits.values()) + " |")
  axes[0, 0].set_ylabel("average test error")
  axes[1, 0].set_ylabel("measured − fit (pt)")
  fig.tight_layout()
  io.save_figure(fig, args.out)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
