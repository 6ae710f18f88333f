"""From a results table to fitted families, an invariance verdict, bootstrap intervals and K* predictions."""

from __future__ import annotations

import numpy as np

from jaxdiv.bound.model import FAMILIES, NUM_PARAMS, feasible_split, fit_error_model, fit_many, optimal_k


def error_matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(K, n, err[point, seed]) from rows with keys K, n, seed, error; missing seeds are filled by the mean."""
  points = sorted({(int(r["K"]), int(r["n"])) for r in rows})
  seeds = sorted({int(r["seed"]) for r in rows})
  table = np.full((len(points), len(seeds)), np.nan)
  where = {p: i for i, p in enumerate(points)}
  for r in rows:
    table[where[(int(r["K"]), int(r["n"]))], seeds.index(int(r["seed"]))] = float(r["error"])
  means = np.nanmean(table, axis=1, keepdims=True)
  table = np.where(np.isnan(table), means, table)
  K, n = (np.array(v, np.float64) for v in zip(*points))
  return K, n, np.clip(table, 1e-4, None)


def point_budgets(rows: list[dict], K: np.ndarray, n: np.ndarray) -> np.ndarray:
  """The budget N of each (K, n) point: the row's N where the sweep wrote one (K·n can fall short of N
  when N/K is not whole), else K·n."""
  budget_of = {(int(r["K"]), int(r["n"])): int(r.get("N", round(float(r["K"]) * float(r["n"])))) for r in rows}
  return np.array([budget_of[(int(k), int(m))] for k, m in zip(K, n)])


def aicc(fit, K, n, err) -> float:
  """Small-sample AIC (Burnham & Anderson): a study has tens of points, so plain AIC over-rewards the
  5-parameter family; infinite when there are too few points for the correction (m <= p + 1)."""
  residual = np.log(fit.predict(K, n)) - np.log(err)
  m, p = len(err), NUM_PARAMS[fit.family]
  if m <= p + 1:
    return float("inf")
  return float(m * np.log(np.mean(residual ** 2) + 1e-300) + 2 * p + 2 * p * (p + 1) / (m - p - 1))


def bootstrap_errors(err_by_seed: np.ndarray, fitted: np.ndarray, replicates: int, seed: int) -> np.ndarray:
  """Bootstrap replicates of the per-point mean error: resample seeds, or residuals when only one seed."""
  rng = np.random.default_rng(seed)
  points, seeds = err_by_seed.shape
  if seeds > 1:
    picks = rng.integers(0, seeds, (replicates, seeds))
    return err_by_seed[:, picks].mean(axis=2).T
  log_residual = np.log(err_by_seed[:, 0]) - np.log(fitted)
  return fitted * np.exp(rng.choice(log_residual, (replicates, points)))


def analyse(rows: list[dict], *, max_classes: int | None = None, replicates: int = 200, seed: int = 0,
            families=FAMILIES) -> dict:
  """Fit every family, pick one by AICc, bootstrap it, and judge the N-invariance of the ratio.

  With a single budget N the families differ only in the U-curve's asymmetry, and a "separate" fit's
  drift of K* with N would be extrapolated from shape alone; such a sweep is fitted with the
  N-invariant families (shared, sqrt) and its verdict reads "untested (one N)"."""
  K, n, err_by_seed = error_matrix(rows)
  budget = point_budgets(rows, K, n)
  budgets = sorted(set(budget.tolist()))
  if len(budgets) < 2:
    families = [f for f in families if f != "separate"]
  err = err_by_seed.mean(axis=1)
  weights = None
  if err_by_seed.shape[1] > 1:
    spread = np.log(err_by_seed).std(axis=1)
    weights = 1.0 / np.maximum(spread, np.median(spread) + 1e-3)
    weights = weights / weights.mean()
  fits = {f: fit_error_model(K, n, err, family=f, weights=weights) for f in families
          if len(K) >= NUM_PARAMS[f]}
  if not fits:
    raise ValueError(f"{len(K)} (K, n) points are fewer than any family's parameters: measure more points")
  scores = {f: aicc(fit, K, n, err) for f, fit in fits.items()}
  best = min(scores, key=lambda f: (scores[f], NUM_PARAMS[f]))
  fit = fits[best]
  boot = _bootstrap(fit, K, n, err_by_seed, weights, replicates, seed)
  out = {"family": best, "aicc": scores, "params": fit.params, "objective": fit.objective,
         "grad_norm": fit.grad_norm, "points": len(K), "seeds": int(err_by_seed.shape[1]),
         "params_ci": _intervals([b.params for b in boot])}
  if len(budgets) < 2:
    out["invariance"] = {"verdict": "untested (one N)",
                         "message": "every point has the same N = K·n; sweep a second budget to test whether "
                                    "the optimal K/n is N-invariant"}
  elif "separate" in fits and np.isfinite(scores["separate"]):
    sep = fits["separate"].params
    drift = [b.params["beta"] - b.params["alpha"]
             for b in _bootstrap(fits["separate"], K, n, err_by_seed, weights, replicates, seed)]
    lo, hi = np.percentile(drift, [2.5, 97.5])
    delta = scores.get("shared", np.inf) - scores["separate"]
    out["invariance"] = {
        "verdict": "invariant" if (delta < 2.0 or lo <= 0.0 <= hi) else "drifts with N",
        "delta_aicc_shared_minus_separate": float(delta),
        "beta_minus_alpha": float(sep["beta"] - sep["alpha"]), "beta_minus_alpha_ci95": [float(lo), float(hi)],
    }
  # Interior optimum check at each measured budget.
  out["measured"] = []
  for total in budgets:
    on_diagonal = budget == total
    if on_diagonal.sum() < 2:
      continue
    k_star = optimal_k(fit.params, total)
    k_lo, k_hi = K[on_diagonal].min(), K[on_diagonal].max()
    interior = k_lo <= k_star <= k_hi
    out["measured"].append({"N": total, "K_star": k_star, "K_range": [float(k_lo), float(k_hi)],
                            "interior": bool(interior),
                            "grid_best_K": float(K[on_diagonal][np.argmin(err[on_diagonal])])})
  out["boundary"] = any(not m["interior"] for m in out["measured"])
  out["_boot"] = [b.params for b in boot]
  out["max_classes"] = max_classes
  return out


def _bootstrap(fit, K, n, err_by_seed, weights, replicates: int, seed: int):
  """Refit `fit`'s family to bootstrap replicates, each warm-started from the full-data fit."""
  return fit_many(K, n, bootstrap_errors(err_by_seed, fit.predict(K, n), replicates, seed), fit.family, weights,
                  starts=fit.theta)


def _intervals(samples: list[dict]) -> dict:
  return {k: [float(np.percentile([s[k] for s in samples], 2.5)), float(np.percentile([s[k] for s in samples], 97.5))]
          for k in samples[0]}


def predict_split(analysis: dict, total: int, max_classes: int | None = None) -> dict:
  """K*, n* for budget `total`, with a bootstrap interval; a boundary optimum is reported as such."""
  max_classes = max_classes or analysis.get("max_classes")
  if analysis["boundary"]:
    edge = next(m for m in analysis["measured"] if not m["interior"])
    side = edge["K_range"][1] if edge["K_star"] > edge["K_range"][1] else edge["K_range"][0]
    return {"N": total, "status": "boundary",
            "message": f"optimum at the boundary K = {side:g} of the measured grid at N = {edge['N']}; extend the "
                       "grid beyond it before predicting"}
  k_star = optimal_k(analysis["params"], total)
  boot = [optimal_k(p, total) for p in analysis["_boot"]]
  k, n = feasible_split(k_star, total, max_classes)
  lo, hi = np.percentile(boot, [2.5, 97.5])
  return {"N": total, "status": "ok", "K_star": k_star, "K": k, "n": n, "K_ci95": [float(lo), float(hi)],
          "ratio": k_star * k_star / total, "capped": bool(max_classes and k_star > max_classes)}
