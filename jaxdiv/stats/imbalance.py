"""Statistics of the imbalance study and of the pre-training/downstream link.

- `cell_table`: mean error per (imbalance s, K) at one N over paired seeds, with K_eff and the pre-training
  held-out error.
- `imbalance_effects`: err(K, s) − err(K, 0) per K, paired over seeds (a seed shares its class order,
  initialisation and data order at every s), with Student-t 95% intervals.
- `best_k_by_imbalance`: the best K at each s and whether it moved: the regret, at s, of the K that is best
  at s = 0, with its paired interval.
- `keff_fits`: does error follow ln K_eff the way balanced runs follow ln K? A quadratic in each, fitted to
  every cell, and the balanced curve's prediction of the imbalanced cells from K or from K_eff.
- `spearman_by_budget`: Spearman(pre-training held-out error, downstream error) across K at each N, within
  each seed and averaged, with a t interval over seeds.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy import stats

from jaxdiv.results import field
from jaxdiv.stats.measured import t_interval


def _grid_rows(rows, total: int | None = None, stage: str = "sweep"):
  return [r for r in rows if field(r, "stage") == stage and field(r, "mode", "class") == "class"
          and (total is None or field(r, "N") == total)]


def per_seed(rows, value: str = "error") -> dict[tuple[float, int], dict[int, float]]:
  """{(s, K): {seed: value}} for one task's rows (None values left out)."""
  out: dict = defaultdict(dict)
  for r in rows:
    v = field(r, value)
    if v is not None:
      out[(float(field(r, "imbalance", 0.0) or 0.0), int(field(r, "K")))][int(field(r, "seed"))] = float(v)
  return dict(out)


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
  """Mean of a − b over the seeds both have, with its Student-t 95% interval (None with < 2 seeds)."""
  seeds = sorted(set(a) & set(b))
  diffs = np.array([a[s] - b[s] for s in seeds])
  return {"difference": float(diffs.mean()) if len(diffs) else None, "ci95": t_interval(diffs),
          "seeds": len(seeds)}


def within_verdict(ci, what: str = "effect") -> str:
  """An interval's plain reading: a sign when it excludes 0, else how large an effect it still allows."""
  if ci is None:
    return "no interval (one seed)"
  low, high = ci
  if low > 0:
    return f"{what} > 0 (at least +{100 * low:.1f} points)"
  if high < 0:
    return f"{what} < 0 (at least {100 * high:.1f} points)"
  return f"no {what} detected: within ±{100 * max(abs(low), abs(high)):.1f} points"


def cell_table(rows, total: int) -> list[dict]:
  """Per (s, K) at N = `total`: mean error and its t interval over seeds, K_eff, and the mean pre-training
  held-out error, sorted by s then K."""
  grid = _grid_rows(rows, total)
  errors, keff, held = per_seed(grid), per_seed(grid, "K_eff"), per_seed(grid, "pretrain_heldout_error")
  table = []
  for (s, k), by_seed in sorted(errors.items()):
    values = np.array(list(by_seed.values()))
    table.append({"N": total, "imbalance": s, "K": k, "n": total // k, "seeds": len(values),
                  "error": float(values.mean()), "ci95": t_interval(values),
                  "K_eff": float(np.mean(list(keff[(s, k)].values()))) if (s, k) in keff else None,
                  "pretrain_heldout_error": float(np.mean(list(held[(s, k)].values()))) if (s, k) in held else None})
  return table


def imbalance_effects(rows, total: int) -> list[dict]:
  """err(K, s) − err(K, 0) per K and s > 0, paired over seeds."""
  errors = per_seed(_grid_rows(rows, total))
  out = []
  for (s, k), by_seed in sorted(errors.items()):
    if s and (0.0, k) in errors:
      diff = paired_difference(by_seed, errors[(0.0, k)])
      out.append({"imbalance": s, "K": k, **diff, "verdict": within_verdict(diff["ci95"], "change")})
  return out


def best_k_by_imbalance(rows, total: int) -> list[dict]:
  """At each s: the best K (lowest seed-mean error), the regret of the balanced-best K there, err(K0, s) −
  err(K_s, s), and the margin of the best K over the runner-up, err(K_2, s) − err(K_s, s), each paired over
  seeds: whether the choice made on balanced data still holds, and how sure the best K is."""
  errors = per_seed(_grid_rows(rows, total))
  means = {key: np.mean(list(v.values())) for key, v in errors.items()}
  levels = sorted({s for s, _ in errors})
  if 0.0 not in levels:
    return []
  ks0 = [k for s, k in errors if s == 0.0]
  balanced_best = min(ks0, key=lambda k: means[(0.0, k)])
  out = []
  for s in levels:
    ks = [k for level, k in errors if level == s]
    ranked = sorted(ks, key=lambda k: means[(s, k)])
    best = ranked[0]
    margin = (paired_difference(errors[(s, ranked[1])], errors[(s, best)]) if len(ranked) > 1
              else {"difference": None, "ci95": None})
    regret = (paired_difference(errors[(s, balanced_best)], errors[(s, best)])
              if (s, balanced_best) in errors else {"difference": None, "ci95": None, "seeds": 0})
    if best == balanced_best:
      verdict = "same K"
    else:
      verdict = "moved: " + within_verdict(regret["ci95"], "regret of the balanced-best K")
    out.append({"imbalance": s, "best_K": best, "balanced_best_K": balanced_best,
                "regret": regret["difference"], "regret_ci95": regret["ci95"], "verdict": verdict,
                "runner_up_K": ranked[1] if len(ranked) > 1 else None, "margin": margin["difference"],
                "margin_ci95": margin["ci95"]})
  return out


def _quadratic(x, y) -> tuple[np.ndarray, float, float]:
  """Least-squares y = a + b·x + c·x²: (coefficients, RMSE, AICc)."""
  x, y = np.asarray(x, float), np.asarray(y, float)
  coef = np.polyfit(x, y, 2)
  residual = y - np.polyval(coef, x)
  m, p = len(y), 4  # three coefficients and the noise variance
  rss = max(float(residual @ residual), 1e-300)
  aicc = m * np.log(rss / m) + 2 * p + (2 * p * (p + 1) / (m - p - 1) if m - p - 1 > 0 else np.inf)
  return coef, float(np.sqrt(rss / m)), float(aicc)


def keff_fits(table: list[dict]) -> dict:
  """Does error follow K_eff at imbalance the way it follows K when balanced? Over the cells of `cell_table`:
  (1) one quadratic in ln K and one in ln K_eff fitted to every cell (RMSE, AICc: lower is better); (2) the
  balanced cells' curve (s = 0) predicting every imbalanced cell from its K or from its K_eff (RMSE in error
  units; a prediction outside the balanced K range is an extrapolation and is flagged)."""
  cells = [c for c in table if c["K_eff"] is not None]
  if len(cells) < 5:
    return {"status": "too few cells"}
  y = np.array([c["error"] for c in cells])
  out = {"cells": len(cells)}
  for name in ("K", "K_eff"):
    coef, rmse, aicc = _quadratic(np.log([c[name] for c in cells]), y)
    out[f"pooled_{name}"] = {"coefficients": coef.tolist(), "rmse": rmse, "aicc": aicc}
  out["delta_aicc"] = out["pooled_K_eff"]["aicc"] - out["pooled_K"]["aicc"]
  balanced = [c for c in cells if c["imbalance"] == 0.0]
  skewed = [c for c in cells if c["imbalance"] != 0.0]
  if len(balanced) >= 3 and skewed:
    coef = np.polyfit(np.log([c["K"] for c in balanced]), [c["error"] for c in balanced], 2)
    k_range = (min(c["K"] for c in balanced), max(c["K"] for c in balanced))
    target = np.array([c["error"] for c in skewed])
    predictions = {}
    for name in ("K", "K_eff"):
      guess = np.polyval(coef, np.log([c[name] for c in skewed]))
      predictions[name] = {"rmse": float(np.sqrt(np.mean((guess - target) ** 2))),
                           "extrapolated": int(sum(not k_range[0] <= c[name] <= k_range[1] for c in skewed)),
                           "predicted": guess.tolist()}
    out["balanced_curve"] = {"coefficients": coef.tolist(), "K_range": list(k_range), **predictions}
  return out


def _rowwise_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Spearman's rho of each row of a with the same row of b (average ranks for ties; nan for a constant row)."""
  ra, rb = (stats.rankdata(m, axis=1) for m in (a, b))
  ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
  with np.errstate(invalid="ignore", divide="ignore"):
    return (ra * rb).sum(1) / np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))


def spearman_ci(x: dict, y: dict) -> dict:
  """Spearman's rho across the keys (K) of two {K: {seed: value}} tables, computed within each seed (that
  seed's networks ranked against each other) and averaged over seeds, with a Student-t 95% interval over the
  per-seed values: the estimand is the expected within-seed rank correlation across K. (A percentile
  bootstrap over three seeds covered 3% of the time in simulation, tests/test_imbalance.py: three seeds give
  ten distinct resamples, and the rho of noisy seed means is biased toward 0.)"""
  keys = sorted(set(x) & set(y))
  seeds = sorted(set.intersection(*(set(x[k]) & set(y[k]) for k in keys))) if keys else []
  if len(keys) < 3 or not seeds:
    return {"rho": None, "ci95": None, "per_seed": [], "points": len(keys), "seeds": len(seeds)}
  a = np.array([[x[k][s] for k in keys] for s in seeds])
  b = np.array([[y[k][s] for k in keys] for s in seeds])
  per_seed = _rowwise_spearman(a, b)
  per_seed = per_seed[np.isfinite(per_seed)]
  ci = t_interval(per_seed)  # clipped to rho's range, which holds the truth, so coverage is unchanged
  return {"rho": float(per_seed.mean()) if len(per_seed) else None,
          "ci95": None if ci is None else [max(ci[0], -1.0), min(ci[1], 1.0)],
          "per_seed": per_seed.tolist(), "points": len(keys), "seeds": len(per_seed)}


def spearman_by_budget(rows_by_task: dict[str, list], imbalanced: bool = False) -> list[dict]:
  """Per task (the average included) and N: Spearman(pre-training held-out error, downstream error) across
  the grid's K (stage sweep/refine, balanced runs), or with `imbalanced` across every (s, K) cell, from
  rows that carry the held-out error."""
  out = []
  for task, rows in rows_by_task.items():
    grid = [r for r in rows if field(r, "stage") in ("sweep", "refine") and field(r, "mode", "class") == "class"
            and (imbalanced or not field(r, "imbalance", 0.0)) and field(r, "pretrain_heldout_error") is not None]
    for total in sorted({field(r, "N") for r in grid}):
      at = [r for r in grid if field(r, "N") == total]
      out.append({"task": task, "N": total, **spearman_ci(per_seed(at, "pretrain_heldout_error"), per_seed(at))})
  return out
