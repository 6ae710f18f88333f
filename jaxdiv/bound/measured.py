"""Statistics of the measured errors that need no bound model, each able to say no.

- `interior_optimum`: is the best K strictly inside the grid? Paired per-seed differences between the
  best interior K and each end, with Student-t intervals; "yes" only where both exclude 0.
- `best_k`: K* at one N as the vertex of a quadratic in ln K through the grid minimum and its two
  neighbours, bootstrapped over seeds.
- `invariance_slope`: the slope of ln K* on ln N across budgets, with an interval. An N-invariant
  ratio K/n means K* ∝ N^(1/2): "invariant" when the interval lies inside 0.5 ± 0.15, "drifts" when it
  lies outside, "inconclusive" otherwise (failing to reject is not evidence).
- `monotone_in_k`: the contrast case's claim (error falls with K when labels come from clustering a
  fixed sample), by Spearman(ln K, error) per seed.
- `gate`: the convergence gate: do 2x steps move the probe error by more than max(seed SD, 1 point)?
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from jaxdiv.results import field

INVARIANT_SLOPE, INVARIANT_BAND = 0.5, 0.15
GATE_POINTS = 0.01
MONOTONE_RHO = -0.8


@dataclasses.dataclass(frozen=True)
class Curve:
  """Errors of one task along one budget's grid: `errors[i, s]` at K[i] and seed s (nan where missing)."""
  N: int
  K: np.ndarray
  n: np.ndarray
  seeds: tuple
  errors: np.ndarray

  @property
  def mean(self) -> np.ndarray:
    return np.nanmean(self.errors, axis=1)

  @property
  def complete(self) -> np.ndarray:
    """Seed columns measured at every K (paired statistics use only these)."""
    return self.errors[:, ~np.isnan(self.errors).any(axis=0)]


def curves(rows, mode: str = "class", stage: str = "sweep") -> dict[int, Curve]:
  """{N: Curve} for one task's rows (ResultRows, or dicts with K, n, seed, error and optionally N, mode, stage)."""
  out = {}
  table = [(int(field(r, "N") or round(field(r, "K") * field(r, "n"))), int(field(r, "K")), int(field(r, "n")),
            int(field(r, "seed", 0)), float(field(r, "error")))
           for r in rows if field(r, "mode", "class") == mode and field(r, "stage", "sweep") == stage]
  for total in sorted({t[0] for t in table}):
    at = [t for t in table if t[0] == total]
    points = sorted({(k, m) for _, k, m, _, _ in at})
    seeds = tuple(sorted({s for _, _, _, s, _ in at}))
    errors = np.full((len(points), len(seeds)), np.nan)
    for _, k, m, s, e in at:
      errors[points.index((k, m)), seeds.index(s)] = e
    out[total] = Curve(total, np.array([p[0] for p in points], float), np.array([p[1] for p in points], float),
                       seeds, errors)
  return out


def t_interval(samples: np.ndarray, level: float = 0.95) -> list[float] | None:
  """Student-t interval of the mean; None with fewer than two samples."""
  samples = np.asarray(samples, float)
  if len(samples) < 2:
    return None
  half = stats.t.ppf(0.5 + level / 2, len(samples) - 1) * samples.std(ddof=1) / np.sqrt(len(samples))
  return [float(samples.mean() - half), float(samples.mean() + half)]


def interior_optimum(curve: Curve) -> dict:
  """Paired differences err(end) − err(best interior K) per seed; "yes" only if both CIs exclude 0."""
  if len(curve.K) < 3:
    return {"verdict": "n/a (fewer than 3 K)", "N": curve.N}
  best = 1 + int(np.argmin(curve.mean[1:-1]))
  paired = curve.complete
  out = {"N": curve.N, "best_interior_K": int(curve.K[best]), "seeds": int(paired.shape[1])}
  for side, end in (("low", 0), ("high", len(curve.K) - 1)):
    diff = paired[end] - paired[best]
    out[f"{side}_end_K"] = int(curve.K[end])
    out[f"{side}_minus_best"] = float(np.mean(diff)) if len(diff) else float("nan")
    out[f"{side}_ci95"] = t_interval(diff)
  if paired.shape[1] < 2:
    out["verdict"] = "untested (one seed)"
  else:
    out["verdict"] = "yes" if out["low_ci95"][0] > 0 and out["high_ci95"][0] > 0 else "no"
  return out


def vertex_log_k(log_k: np.ndarray, mean: np.ndarray) -> tuple[float, bool]:
  """ln K* from the quadratic through the grid minimum and its neighbours; (edge value, True) at an end."""
  i = int(np.argmin(mean))
  if i == 0 or i == len(mean) - 1:
    return float(log_k[i]), True
  x, y = log_k[i - 1:i + 2], mean[i - 1:i + 2]
  a, b, _ = np.polyfit(x - x[1], y, 2)
  vertex = x[1] - b / (2 * a) if a > 0 else x[1]
  return float(np.clip(vertex, x[0], x[2])), False


def best_k(curve: Curve, replicates: int = 1000, seed: int = 0) -> dict:
  """K* at one N without the bound model, with a seed-bootstrap interval (None with one seed)."""
  log_k = np.log(curve.K)
  log_star, edge = vertex_log_k(log_k, curve.mean)
  paired = curve.complete
  samples = None
  if paired.shape[1] >= 2:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, paired.shape[1], (replicates, paired.shape[1]))
    samples = np.array([vertex_log_k(log_k, paired[:, p].mean(axis=1))[0] for p in picks])
  k_star = float(np.exp(log_star))
  out = {"N": curve.N, "K_star": k_star, "n_star": curve.N / k_star, "ratio": k_star ** 2 / curve.N,
         "at_edge": edge, "grid_best_K": int(curve.K[np.argmin(curve.mean)]), "seeds": int(paired.shape[1]),
         "K_ci95": None, "log_K_samples": None}
  if samples is not None:
    lo, hi = np.exp(np.percentile(samples, [2.5, 97.5]))
    out.update(K_ci95=[float(lo), float(hi)], log_K_samples=samples.tolist())
  return out


def _slope(log_n: np.ndarray, log_k: np.ndarray) -> float:
  return float(np.polyfit(log_n, log_k, 1)[0])


def invariance_slope(best: list[dict]) -> dict:
  """Slope of ln K* on ln N over budgets (from `best_k` per N), its 95% interval and the verdict."""
  best = sorted(best, key=lambda b: b["N"])
  if len(best) < 2:
    return {"verdict": "untested (one N)", "slope": None, "slope_ci95": None,
            "message": "every point has the same N; sweep a second budget to test whether K/n is N-invariant"}
  log_n = np.log([b["N"] for b in best])
  log_k = np.log([b["K_star"] for b in best])
  slope = _slope(log_n, log_k)
  interval, how = None, ""
  if all(b["log_K_samples"] for b in best):
    draws = np.array([b["log_K_samples"] for b in best])  # (budgets, replicates): seeds resampled per budget
    slopes = np.polyfit(log_n, draws, 1)[0]
    interval, how = [float(v) for v in np.percentile(slopes, [2.5, 97.5])], "seed bootstrap"
  elif len(best) >= 3:
    fit = stats.linregress(log_n, log_k)
    half = stats.t.ppf(0.975, len(best) - 2) * fit.stderr
    interval, how = [slope - half, slope + half], "regression t-interval (one seed)"
  out = {"slope": slope, "slope_ci95": interval, "interval_from": how, "budgets": [b["N"] for b in best],
         "K_star": [b["K_star"] for b in best], "expected_if_invariant": INVARIANT_SLOPE}
  edges = [b["N"] for b in best if b["at_edge"]]
  low, high = INVARIANT_SLOPE - INVARIANT_BAND, INVARIANT_SLOPE + INVARIANT_BAND
  if edges:
    out["verdict"] = "inconclusive"
    out["message"] = f"the best K is at the grid's edge at N = {edges}: widen the K range there"
  elif interval is None:
    out["verdict"] = "inconclusive"
    out["message"] = "no interval: two budgets and one seed; add seeds or a third budget"
  elif low <= interval[0] and interval[1] <= high:
    out["verdict"] = "invariant"
    out["message"] = f"slope CI inside {INVARIANT_SLOPE} ± {INVARIANT_BAND}"
  elif interval[1] < low or interval[0] > high:
    out["verdict"] = "drifts"
    out["message"] = f"slope CI outside {INVARIANT_SLOPE} ± {INVARIANT_BAND}: the optimal K/n changes with N"
  else:
    out["verdict"] = "inconclusive"
    out["message"] = f"slope CI overlaps the edge of {INVARIANT_SLOPE} ± {INVARIANT_BAND}; add seeds or budgets"
  return out


def monotone_in_k(curve: Curve) -> dict:
  """Spearman(ln K, error) per seed; "monotone" when every seed's rho <= MONOTONE_RHO (falls with K)."""
  rhos = []
  for s in range(curve.errors.shape[1]):
    ok = ~np.isnan(curve.errors[:, s])
    if ok.sum() >= 3:
      rhos.append(float(stats.spearmanr(np.log(curve.K[ok]), curve.errors[ok, s]).statistic))
  verdict = "n/a (fewer than 3 K)" if not rhos else (
      "monotone" if all(r <= MONOTONE_RHO + 1e-9 for r in rhos) else "not monotone")
  return {"N": curve.N, "spearman_per_seed": rhos, "verdict": verdict, "threshold": MONOTONE_RHO}


def gate(sweep: Curve, gated: Curve) -> dict:
  """Each gated K's change in error (2x steps minus 1x, same seed), its tolerance max(seed SD, 1 point)
  and whether it passes; the budget passes when every change is within its tolerance."""
  checks = []
  for i, k in enumerate(gated.K):
    j = int(np.flatnonzero(sweep.K == k)[0]) if k in sweep.K else None
    if j is None:
      continue
    for s, seed in enumerate(gated.seeds):
      if seed not in sweep.seeds or np.isnan(gated.errors[i, s]):
        continue
      before = sweep.errors[j, sweep.seeds.index(seed)]
      row = sweep.errors[j][~np.isnan(sweep.errors[j])]
      spread = float(row.std(ddof=1)) if len(row) >= 2 else 0.0
      tolerance = max(spread, GATE_POINTS)
      change = float(gated.errors[i, s] - before)
      checks.append({"K": int(k), "n": int(gated.n[i]), "seed": int(seed), "error_1x": float(before),
                     "error_2x": float(gated.errors[i, s]), "change": change, "tolerance": tolerance,
                     "passes": abs(change) <= tolerance})
  return {"N": sweep.N, "checks": checks, "passes": bool(checks) and all(c["passes"] for c in checks)}
