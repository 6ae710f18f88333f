"""Size a study before running it: what a design (budgets, K grid, seeds) can conclude.

`preview` simulates a few hundred results tables of the design under known truths (K/n invariant: K* ∝
N^0.5; drifting: K* ∝ N^0.7; proportional, n* fixed: K* ∝ N, where v1's and v2's estimates lie) and feeds
each through the library's own estimators (`measured.curves` → `best_k` per budget → `invariance_slope`
and its verdict rule), so what it reports is what the study would report. Each truth is a U-curve in ln K
per budget, err = floor + curvature·(ln K − ln K*_N)², plus the seed noise, taken from an earlier study
(`prior_from_results`) or given as numbers.
"""

from __future__ import annotations

import numpy as np

from jaxdiv.results import AVERAGE, ResultRow, read_rows, with_average
from jaxdiv.stats import measured

TRUTHS = {"invariant (slope 0.5)": 0.5, "drifts (slope 0.7)": 0.7, "proportional (slope 1.0)": 1.0}
VERDICTS = (measured.INVARIANT, measured.DRIFTS, measured.DRIFTS_WITHIN, measured.INCONCLUSIVE)
# Used when no prior is given: the one-hour CPU study v1's average task (git show 96f2058:docs/study_cpu): pooled seed
# SD 1.2-2.0 points; curvature 0.018-0.048 error per (ln K)² by `curvature` (the local fit through the noisy
# minimum leans high), while its curves rise only 0.55-1.3 standard errors of a 3-seed mean one grid step
# (ln 2) from the minimum, i.e. 0.01-0.025.
DEFAULT_PRIOR = {"seed_sd": 0.016, "curvature": 0.02, "floor": 0.35}


def _nearest(by_budget: dict, total: int) -> float:
  """The prior's value at the budget nearest `total` in ln N."""
  budgets = sorted(by_budget)
  return float(by_budget[min(budgets, key=lambda b: abs(np.log(b / total)))])


def curvature(curve: measured.Curve) -> float:
  """Error per (ln K)² of the quadratic in ln K through the grid minimum and its neighbours (through the
  whole curve when the minimum is at an edge or the local fit is not convex)."""
  log_k, mean = np.log(curve.K), curve.mean
  i = int(np.argmin(mean))
  if 0 < i < len(mean) - 1:
    a = np.polyfit(log_k[i - 1:i + 2] - log_k[i], mean[i - 1:i + 2], 2)[0]
    if a > 0:
      return float(a)
  return float(max(np.polyfit(log_k, mean, 2)[0], 1e-4)) if len(mean) >= 3 else DEFAULT_PRIOR["curvature"]


def prior_from_results(workdir: str, probe: str = "ridge", task: str = AVERAGE) -> dict:
  """Seed SD, curvature, floor and best K per budget of an earlier study's sweep rows (one task, the average
  by default): the noise and shape a new design of the same kind will meet."""
  from jaxdiv import io
  from jaxdiv.results import results_path
  if not io.exists(results_path(workdir)):
    where = "does not exist" if not io.exists(workdir) else "has no results.jsonl"
    raise FileNotFoundError(f"--prior {workdir} {where}: name a finished study's workdir (e.g. "
                            "docs/studies/study_cpu_v3), or give the prior as numbers (--noise, --curvature)")
  rows = [r for r in with_average([r for r in read_rows(workdir) if r.probe == probe]) if r.task == task]
  by_budget = {total: c for total, c in measured.curves(rows).items() if len(c.K) >= 3}
  if not by_budget:
    raise ValueError(f"{workdir} has no budget with three or more K of task {task!r}: sweep one first, or give "
                     "the prior as numbers (--noise, --curvature)")
  # The noise K-to-K comparisons meet (paired seeds' residual SD where the seeds allow): a seed effect shared
  # by every K cannot move K*, and the simulated tables draw independent noise per (K, seed).
  spreads = {total: (measured.difference_noise(c) or {}).get("sd") for total, c in by_budget.items()}
  if any(v is None for v in spreads.values()):
    raise ValueError(f"{workdir} has one seed per K: its seed SD is unknown; give --noise")
  return {"source": workdir, "seed_sd": spreads,
          "curvature": {total: curvature(c) for total, c in by_budget.items()},
          "floor": {total: float(c.mean.min()) for total, c in by_budget.items()},
          "best_K": {total: float(np.exp(measured.vertex_log_k(np.log(c.K), c.mean)[0]))
                     for total, c in by_budget.items()}}


def design_from_plan(plan: list[dict]) -> dict:
  """{"K": {N: [K, ...]}, "seeds": [...]} of a study plan's class-labelled sweep runs."""
  sweep = [p for p in plan if p["stage"] == "sweep" and p["mode"] == "class"]
  budgets = sorted({p["N"] for p in sweep})
  return {"K": {total: sorted({p["K"] for p in sweep if p["N"] == total}) for total in budgets},
          "seeds": sorted({p["seed"] for p in sweep})}


def _as_budget_map(value, budgets) -> dict:
  return value if isinstance(value, dict) else {total: value for total in budgets}


def simulate_rows(design: dict, prior: dict, slope: float, rng: np.random.Generator) -> list[ResultRow]:
  """One results table of `design` under the truth K* ∝ N^slope, anchored where the prior measured its best K
  (at its budget nearest the design's smallest, so a pilot at N = 1024 anchors K*(1024)), else at the
  geometric middle of the smallest budget's grid."""
  budgets = sorted(design["K"])
  reference = budgets[0]
  best = prior.get("best_K") or {}
  if best:
    anchor = min(best, key=lambda b: abs(np.log(b / reference)))
    k_ref = float(best[anchor]) * (reference / anchor) ** slope
  else:
    k_ref = float(np.exp(np.mean(np.log(design["K"][reference]))))
  rows = []
  for total in budgets:
    k_star = k_ref * (total / reference) ** slope
    ks = np.asarray(design["K"][total], float)
    truth = (_nearest(_as_budget_map(prior["floor"], budgets), total)
             + _nearest(_as_budget_map(prior["curvature"], budgets), total) * (np.log(ks) - np.log(k_star)) ** 2)
    spread = _nearest(_as_budget_map(prior["seed_sd"], budgets), total)
    for seed in design["seeds"]:
      noisy = truth + spread * rng.standard_normal(len(ks))
      rows += [ResultRow(task="simulated", N=total, K=int(k), n=total // int(k), seed=seed, error=float(e))
               for k, e in zip(ks, noisy)]
  return rows


def bound_surface_rows(params: dict, budgets, seeds: int = 4, noise: float = 0.01, points: int = 9, seed: int = 0,
                       n_values=None) -> list[dict]:
  """Rows of the bound model's own surface, err = A·K^-α + B·n^-β + C, with multiplicative noise, so the
  exponent of K* in N is known exactly: β/(α+β). K log-spaced over [2, N/2], or K = N/n for each of
  `n_values` (a grid placed in n, like the v3 study's). Both the measured slope and the bound model's
  exponent are checked against it (tests, `bench/verdicts.py`)."""
  rng = np.random.default_rng(seed)
  rows = []
  for total in budgets:
    ks = [total // n for n in n_values] if n_values else np.unique(np.round(np.geomspace(2, total / 2, points)))
    for k in np.asarray(ks).astype(int):
      n = total // int(k)
      for s in range(seeds):
        err = params["A"] * k ** -params["alpha"] + params["B"] * n ** -params["beta"] + params["C"]
        rows.append({"K": int(k), "n": n, "N": total, "seed": s, "error": err * np.exp(noise * rng.normal())})
  return rows


def simulate_study(design: dict, prior: dict, slope: float, rng: np.random.Generator, replicates: int,
                   stream: int) -> dict:
  """One simulated study through the library's estimators: its slope, slope CI, verdict and K* intervals."""
  curves = measured.curves(simulate_rows(design, prior, slope, rng))
  best = [measured.best_k(c, replicates=replicates, seed=stream) for c in curves.values()]
  result = measured.invariance_slope(best)
  return {"slope": result["slope"], "interval": result["slope_ci95"], "verdict": result["verdict"],
          "edge": any(b["at_edge"] for b in best),
          "k_ci_ratio": {b["N"]: (b["K_ci95"][1] / b["K_ci95"][0]) if b["K_ci95"] else None for b in best}}


def preview(design: dict, prior: dict | None = None, tables: int = 300, replicates: int = 400,
            seed: int = 0) -> dict:
  """What `design` ({"K": {N: [K...]}, "seeds": [...]}) can conclude under each truth of `TRUTHS`: the
  verdicts' probabilities, the slope CI's expected half-width (median over tables) beside the spread of the
  slope estimates themselves (1.96 × their SD: what a calibrated half-width should be), its coverage, the
  chance of an edge optimum, and the median K* CI (high / low) per budget."""
  prior = dict(DEFAULT_PRIOR, **(prior or {}))
  rng = np.random.default_rng(seed)
  out = {"design": {"budgets": sorted(design["K"]), "K": {str(k): v for k, v in design["K"].items()},
                    "seeds": len(design["seeds"])},
         "prior": {k: v for k, v in prior.items() if k != "source"}, "prior_source": prior.get("source", "default"),
         "tables": tables, "truths": {}}
  for name, truth in TRUTHS.items():
    studies = [simulate_study(design, prior, truth, rng, replicates, stream) for stream in range(tables)]
    slopes = np.array([s["slope"] for s in studies])
    intervals = np.array([s["interval"] for s in studies if s["interval"]])
    half = (intervals[:, 1] - intervals[:, 0]) / 2 if len(intervals) else np.array([np.nan])
    verdicts = [s["verdict"] for s in studies]
    out["truths"][name] = {
        "slope": truth,
        "verdicts": {v: verdicts.count(v) / tables for v in VERDICTS},
        "slope_ci_half_width": float(np.median(half)),
        "slope_spread_1.96sd": float(1.96 * np.std(slopes, ddof=1)),
        "slope_ci_coverage": float(np.mean((intervals[:, 0] <= truth) & (truth <= intervals[:, 1])))
        if len(intervals) else None,
        "edge_optimum": float(np.mean([s["edge"] for s in studies])),
        "K_ci_ratio": {str(total): float(np.nanmedian([s["k_ci_ratio"][total] or np.nan for s in studies]))
                       for total in sorted(design["K"])}}
  return out


def preview_lines(result: dict) -> list[str]:
  """The preview as a Markdown table, one row per truth."""
  design = result["design"]
  def show(value) -> str:
    values = list(value.values()) if isinstance(value, dict) else [value]
    return "–".join(f"{v:.3f}" for v in sorted({min(values), max(values)}))
  lines = [f"power preview: budgets {design['budgets']}, {design['seeds']} seeds, {result['tables']} simulated "
           f"tables per truth, prior {result['prior_source']} (seed SD {show(result['prior']['seed_sd'])}, "
           f"curvature {show(result['prior']['curvature'])} per (ln K)²)",
           "| truth | slope CI half-width (expected) | 1.96·SD of the slope | coverage | "
           + " | ".join(f"P({v})" for v in VERDICTS) + " | P(edge optimum) | K* CI high/low per N |",
           "|---" * (6 + len(VERDICTS)) + "|"]
  for name, t in result["truths"].items():
    ratios = ", ".join(f"{n}: {r:.1f}" for n, r in t["K_ci_ratio"].items())
    coverage = f"{t['slope_ci_coverage']:.0%}" if t["slope_ci_coverage"] is not None else "n/a"
    lines.append(f"| {name} | {t['slope_ci_half_width']:.2f} | {t['slope_spread_1.96sd']:.2f} | {coverage} | "
                 + " | ".join(f"{t['verdicts'][v]:.0%}" for v in VERDICTS)
                 + f" | {t['edge_optimum']:.0%} | {ratios} |")
  return lines


def factor_rows(n_star: dict, rng: np.random.Generator, field: str = "spread", seeds: int = 3, total: int = 1024,
                n_grid=(2, 4, 8, 16, 32, 64), curvature: float = 0.05, seed_sd: float = 0.015,
                noise: float = 0.017) -> list[ResultRow]:
  """Average-task rows of a simulated factor study with a known n* per level (`n_star[level]`, recorded in the
  row field `field`): at each level a U, quadratic in ln n with its vertex at n*, plus a seed effect shared by
  every K of one seed (paired seeds) and independent noise per cell. The defaults are v3's measured shape at
  N = 1024: curvature 0.05 per (ln K)², a paired residual SD of 1.7 points."""
  rows = []
  for level, star in n_star.items():
    for seed in range(seeds):
      shift = rng.normal(0, seed_sd)
      for n in n_grid:
        error = 0.3 + curvature * np.log(n / star) ** 2 + shift + rng.normal(0, noise)
        rows.append(ResultRow(task=AVERAGE, N=total, K=total // n, n=n, seed=seed, error=float(error),
                              **{field: level}))
  return rows
