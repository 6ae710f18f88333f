"""Statistics of the measured errors that need no bound model, each able to say no.

- `interior_optimum`: is the best K strictly inside the grid? The best interior K against each end, with
  Student-t intervals (paired seeds where every K has the same three or more, `difference_noise`); "yes"
  only where both exclude 0.
- `best_k`: K* at one N as the vertex of a quadratic in ln K through the grid minimum and its two
  neighbours, with a parametric bootstrap from the seed SD of K-to-K differences (paired where it can be).
- `noise_decomposition`: the between-seed SD (paired and unpaired) beside the probe's test-set SD.
- `invariance_slope`: the slope of ln K* on ln N across budgets, with an interval. An N-invariant
  ratio K/n means K* ∝ N^(1/2). The verdict rule (`exponent_verdict`, declared before the data): "drifts"
  when the interval excludes 0.5 (a test of exact invariance, the paper's claim), "invariant (within
  ±0.15)" when it lies inside 0.5 ± 0.15 (an equivalence test), both at once "drifts, but within ±0.15
  of invariant", else "inconclusive" (failing to reject is not evidence).
- `monotone_in_k`: the contrast case's claim (error falls with K when labels come from clustering a
  fixed sample), by Spearman(ln K, error) per seed.
- `gate`: the convergence gate: do 2x steps move the probe error by more than two independently trained
  networks differ (1.96·√2 × the budget's pooled seed SD, at least 1 point)?
- `holdout`: the paper's test of a prediction at a larger N: the predicted K against the grid's best K
  and the standard K there, with Student-t intervals from the pooled seed SD.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from jaxdiv.results import GRID_STAGES, field

INVARIANT_SLOPE, INVARIANT_BAND = 0.5, 0.15
GATE_POINTS = 0.01
GATE_Z = 1.96
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
  def seed_counts(self) -> np.ndarray:
    """Seeds measured at each K."""
    return (~np.isnan(self.errors)).sum(axis=1)

  @property
  def pooled_dof(self) -> int:
    """Degrees of freedom of the pooled seed SD: (seeds − 1) summed over K."""
    return int(np.sum(np.maximum(self.seed_counts - 1, 0)))

  @property
  def complete(self) -> np.ndarray:
    """Seed columns measured at every K (paired statistics use only these)."""
    return self.errors[:, ~np.isnan(self.errors).any(axis=0)]


def curves(rows, mode: str = "class", stage: str | tuple = GRID_STAGES, imbalance: float = 0.0,
           where: dict | None = None) -> dict[int, Curve]:
  """{N: Curve} for one task's rows (ResultRows, or dicts with K, n, seed, error and optionally N, mode, stage,
  imbalance); `stage` may name several stages, whose rows then share one curve (a later stage wins a shared
  cell). Only rows of class-size exponent `imbalance` count (0: balanced classes), and with `where` ({field:
  value}) only rows holding those values (a factor study's level)."""
  out = {}
  stages = (stage,) if isinstance(stage, str) else tuple(stage)
  if where:
    rows = [r for r in rows if all(field(r, k) == v for k, v in where.items())]
  table = [(int(field(r, "N") or round(field(r, "K") * field(r, "n"))), int(field(r, "K")), int(field(r, "n")),
            int(field(r, "seed", 0)), float(field(r, "error")))
           for r in sorted(rows, key=lambda r: stages.index(field(r, "stage", "sweep"))
                           if field(r, "stage", "sweep") in stages else 0)
           if field(r, "mode", "class") == mode and field(r, "stage", "sweep") in stages
           and float(field(r, "imbalance", 0.0) or 0.0) == float(imbalance)]
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


def pooled_seed_sd(curve: Curve) -> float | None:
  """The seed SD of one budget's errors, pooled over its K (within-K variances averaged); None with one seed."""
  variances = [np.var(row[~np.isnan(row)], ddof=1) for row in curve.errors if (~np.isnan(row)).sum() >= 2]
  return float(np.sqrt(np.mean(variances))) if variances else None


PAIRED_MIN_SEEDS = 3


def paired_seed_sd(curve: Curve) -> tuple[float, int] | None:
  """(SD, degrees of freedom) of the errors around the additive model K effect + seed effect, or None
  unless every K has the same >= PAIRED_MIN_SEEDS seeds.

  Seed s gives every K of one N the same initialisation and data-order keys (and nested subsets), so part
  of a seed's luck is shared by all its K: a seed effect. Differences between K within a seed cancel it;
  the residual SD (pooled over K, (K − 1)(S − 1) degrees of freedom) is then the noise of a difference of
  two K's seed means, √(2/S)·SD, where unpaired seeds give √(2/S)·`pooled_seed_sd`."""
  errors = curve.errors
  k, s = errors.shape
  if k < 2 or s < PAIRED_MIN_SEEDS or np.isnan(errors).any():
    return None
  residual = errors - errors.mean(1, keepdims=True) - errors.mean(0, keepdims=True) + errors.mean()
  dof = (k - 1) * (s - 1)
  return float(np.sqrt((residual ** 2).sum() / dof)), int(dof)


def difference_noise(curve: Curve) -> dict | None:
  """The noise of K-to-K comparisons at one N: paired (`paired_seed_sd`) where the seeds allow, else the
  pooled seed SD of unpaired seeds; None with one seed. Both SDs are reported so a user can see what
  pairing buys on their data."""
  unpaired = pooled_seed_sd(curve)
  if unpaired is None:
    return None
  paired = paired_seed_sd(curve)
  out = {"unpaired_sd": unpaired, "unpaired_dof": curve.pooled_dof, "paired_sd": None, "paired_dof": None}
  if paired is not None:
    out.update(paired_sd=paired[0], paired_dof=paired[1])
  use = "paired" if paired is not None else "unpaired"
  out.update(form=use, sd=out[f"{use}_sd"], dof=out[f"{use}_dof"])
  return out


def interior_optimum(curve: Curve) -> dict:
  """err(end) − err(best interior K) at each end with Student-t 95% intervals (`difference`: paired seeds
  where every K has the same three or more seeds, else the pooled seed SD of unpaired ones).

  "yes" when both ends are worse with confidence; "no (optimum at an edge)" when an end is better with
  confidence; "inconclusive" otherwise; "untested (one seed)" without a seed SD."""
  if len(curve.K) < 3:
    return {"verdict": "n/a (fewer than 3 K)", "N": curve.N}
  best = 1 + int(np.argmin(curve.mean[1:-1]))
  noise = difference_noise(curve)
  spread = noise["unpaired_sd"] if noise else None
  out = {"N": curve.N, "best_interior_K": int(curve.K[best]), "seeds": int(curve.seed_counts.max()),
         "seed_sd": spread, "differences": noise["form"] if noise else None}
  for side, end in (("low", 0), ("high", len(curve.K) - 1)):
    out[f"{side}_end_K"] = int(curve.K[end])
    out[f"{side}_minus_best"], out[f"{side}_ci95"] = difference(curve, end, best)
  if spread is None:
    out["verdict"] = "untested (one seed)"
  elif out["low_ci95"][0] > 0 and out["high_ci95"][0] > 0:
    out["verdict"] = "yes"
  elif out["low_ci95"][1] < 0 or out["high_ci95"][1] < 0:
    out["verdict"] = "no (optimum at an edge)"
  else:
    out["verdict"] = "inconclusive"
  return out


def noise_decomposition(curve: Curve, test_sd: float | None) -> dict:
  """Where one budget's noise comes from: the between-seed SD of the error (network-to-network: new
  initialisation, data order and subset; paired and unpaired, `difference_noise`) beside the probe's
  test-set sampling SD (`results.test_sampling_sd`, root mean square over the budget's rows). Seeds are
  scored on the same test images, so the seed SD already excludes test-set luck: when it dominates, more
  seeds buy precision; when the test SD does, more probe test images do."""
  noise = difference_noise(curve) or {}
  out = {"N": curve.N, "seeds": int(curve.seed_counts.max()), "seed_sd": noise.get("unpaired_sd"),
         "paired_sd": noise.get("paired_sd"), "test_sd": test_sd}
  if test_sd and out["seed_sd"]:
    out["buy"] = "seeds" if out["seed_sd"] > test_sd else "test images"
  return out


def vertex_log_k(log_k: np.ndarray, mean: np.ndarray) -> tuple[float, bool]:
  """ln K* from the quadratic through the grid minimum and its neighbours; (edge value, True) at an end."""
  vertex, edge = vertices_log_k(log_k, np.asarray(mean, float)[None])
  return float(vertex[0]), bool(edge[0])


def vertices_log_k(log_k: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """`vertex_log_k` of every row of `means` (replicates × K) at once, in closed form: the parabola
  y1 + b·h + a·h² through the minimum (h = 0) and its neighbours, vertex at −b / 2a (the minimum itself when
  a <= 0), clipped to the neighbours."""
  log_k = np.asarray(log_k, float)
  i = np.argmin(means, axis=1)
  edge = (i == 0) | (i == len(log_k) - 1)
  if len(log_k) < 3:
    return log_k[i], edge
  j, rows = np.clip(i, 1, len(log_k) - 2), np.arange(len(means))
  x0, x1, x2 = log_k[j - 1], log_k[j], log_k[j + 1]
  slope_low, slope_high = ((means[rows, j - 1] - means[rows, j]) / (x0 - x1),
                           (means[rows, j + 1] - means[rows, j]) / (x2 - x1))
  a = (slope_high - slope_low) / (x2 - x0)
  b = slope_high - a * (x2 - x1)
  with np.errstate(divide="ignore", invalid="ignore"):
    vertex = np.clip(np.where(a > 0, x1 - b / (2 * a), x1), x0, x2)
  return np.where(edge, log_k[i], vertex), edge


def as_good_as_best(curve: Curve) -> dict:
  """The answer to "which K should I use?" at one N as a band: every K whose seed-mean error lies within the
  95% Student-t interval of the best K's mean (pooled seed SD over √seeds at the best K). Near a flat
  optimum K* is poorly identified while missing it by a grid step costs little, so the band is the honest
  answer; None for the band's bounds with one seed."""
  best = int(np.argmin(curve.mean))
  spread = pooled_seed_sd(curve)
  out = {"N": curve.N, "best_K": int(curve.K[best]), "best_error": float(curve.mean[best]),
         "K": [int(k) for k in curve.K], "se": [None] * len(curve.K), "band_K": None, "threshold": None}
  if spread is None:
    return out
  se = spread / np.sqrt(curve.seed_counts)
  threshold = float(curve.mean[best] + stats.t.ppf(0.975, curve.pooled_dof) * se[best])
  inside = curve.K[curve.mean <= threshold]
  out.update(se=[float(v) for v in se], threshold=threshold, band_K=[int(k) for k in inside],
             band=[int(inside.min()), int(inside.max())])
  return out


def budget_stream(seed: int, total: int) -> np.random.Generator:
  """The bootstrap stream of budget N = `total` under `seed`: one stream per (seed, N), so budgets never
  share draws (a shared stream correlated the ln K* draws of the first and last budgets by up to 0.5)."""
  return np.random.default_rng([seed, int(total)])


def best_k(curve: Curve, replicates: int = 1000, seed: int = 0, noise: dict | None = None) -> dict:
  """K* at one N without the bound model, with a 95% interval (None with one seed) from a parametric
  bootstrap: each replicate draws every K's mean error from a t-like law around the measured mean, with the
  seed SD of K-to-K comparisons (`difference_noise`: paired where the seeds allow, since a seed effect
  shared by every K cannot move the vertex; scaled by a chi-square draw for its own uncertainty) over
  √seeds. A seed-resampling bootstrap has only a handful of distinct replicates with two or three seeds. Each budget
  draws from its own stream (`budget_stream(seed, N)`), so the K* draws of two budgets are independent, as
  `invariance_slope` assumes. `noise` (optional) replaces the curve's own, e.g. a one-seed gate curve's."""
  log_k = np.log(curve.K)
  log_star, edge = vertex_log_k(log_k, curve.mean)
  noise = noise if noise is not None else difference_noise(curve)
  seeds = curve.seed_counts
  samples = None
  if noise is not None:
    rng = budget_stream(seed, curve.N)
    spread, dof = noise["sd"], noise["dof"]
    scale = spread * np.sqrt(dof / rng.chisquare(dof, (replicates, 1)))
    draws = curve.mean + scale / np.sqrt(seeds) * rng.standard_normal((replicates, len(curve.K)))
    samples = vertices_log_k(log_k, draws)[0]
  k_star = float(np.exp(log_star))
  out = {"N": curve.N, "K_star": k_star, "n_star": curve.N / k_star, "ratio": k_star ** 2 / curve.N,
         "at_edge": edge, "grid_best_K": int(curve.K[np.argmin(curve.mean)]), "seeds": int(seeds.max()),
         "K_ci95": None, "log_K_samples": None, "noise": noise}
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
    draws = np.array([b["log_K_samples"] for b in best])  # (budgets, replicates), independent per budget
    slopes = np.polyfit(log_n, draws, 1)[0]
    interval, how = [float(v) for v in np.percentile(slopes, [2.5, 97.5])], "bootstrap of K* per budget"
  elif len(best) >= 3:
    fit = stats.linregress(log_n, log_k)
    half = stats.t.ppf(0.975, len(best) - 2) * fit.stderr
    interval, how = [slope - half, slope + half], "regression t-interval (one seed)"
  out = {"slope": slope, "slope_ci95": interval, "interval_from": how, "budgets": [b["N"] for b in best],
         "K_star": [b["K_star"] for b in best], "expected_if_invariant": INVARIANT_SLOPE}
  edges = [b["N"] for b in best if b["at_edge"]]
  if edges:
    out["verdict"] = INCONCLUSIVE
    out["message"] = f"the best K is at the grid's edge at N = {edges}: widen the K range there"
  elif interval is None:
    out["verdict"] = INCONCLUSIVE
    out["message"] = "no interval: two budgets and one seed; add seeds or a third budget"
  else:
    out["verdict"], out["message"] = exponent_verdict(interval, "slope")
  return out


def extrapolate_k_star(best: list[dict], total: int) -> dict:
  """The model-free prediction of K* at N = `total`: the line ln K* = a + s·ln N through the fitted budgets'
  vertices (`best_k` per budget), read at ln `total`. Its 95% interval comes from the same line through each
  bootstrap replicate's vertices (every budget its own stream), so it carries the slope's and the intercept's
  uncertainty together. No prediction from one budget, or where a fitted budget's optimum is at its grid's
  edge (the vertex there is a bound, not an estimate)."""
  best = sorted(best, key=lambda b: b["N"])
  base = {"N": total, "method": "model-free", "fitted_N": [b["N"] for b in best]}
  if len(best) < 2:
    return {**base, "status": "untested", "message": "one budget: a line through one vertex has no slope"}
  edges = [b["N"] for b in best if b["at_edge"]]
  if edges:
    return {**base, "status": "boundary", "message": f"the optimum is at the grid's edge at N = {edges}"}
  log_n = np.log([b["N"] for b in best])
  slope, intercept = np.polyfit(log_n, np.log([b["K_star"] for b in best]), 1)
  out = {**base, "status": "ok", "K_star": float(np.exp(intercept + slope * np.log(total))), "slope": float(slope),
         "K_ci95": None}
  if all(b["log_K_samples"] for b in best):
    lines = np.polyfit(log_n, np.array([b["log_K_samples"] for b in best]), 1)  # (2, replicates)
    at = lines[0] * np.log(total) + lines[1]
    out["K_ci95"] = [float(v) for v in np.exp(np.percentile(at, [2.5, 97.5]))]
  return out


def slope_at_longer_training(best: list[dict], sweep: dict, gated: dict, replicates: int = 1000,
                             seed: int = 0) -> dict:
  """The slope again with each gated budget's K* taken from its 2x-steps curve (where the gate trained 3+ K
  there), so a user sees whether under-training moved the verdict. The gate trains one seed per K, so its
  K* interval borrows the 1x grid's K-to-K noise at that N. {} when no gated budget has 3 K."""
  longer = {total: best_k(curve, replicates, seed, noise=difference_noise(sweep[total]))
            for total, curve in gated.items() if len(curve.K) >= 3 and total in sweep}
  if not longer:
    return {}
  out = invariance_slope([longer.get(b["N"], b) for b in best])
  out["longer"] = [{"N": total, "K": gated[total].K.astype(int).tolist(),
                    **{k: longer[total][k] for k in ("K_star", "K_ci95", "at_edge")}} for total in sorted(longer)]
  return out


INVARIANT, DRIFTS, DRIFTS_WITHIN, INCONCLUSIVE = (
    f"invariant (within ±{INVARIANT_BAND})", "drifts", f"drifts, but within ±{INVARIANT_BAND} of invariant",
    "inconclusive")


def exponent_verdict(interval, what: str = "exponent") -> tuple[str, str]:
  """(verdict, message) for a 95% interval of the exponent of K* in N (0.5 when K/n is N-invariant), by
  two tests fixed before the data: does it exclude 0.5 (exact invariance rejected), and does it lie inside
  0.5 ± INVARIANT_BAND (invariance within that margin shown)? Both can hold."""
  low, high = interval
  excludes = high < INVARIANT_SLOPE or low > INVARIANT_SLOPE
  inside = INVARIANT_SLOPE - INVARIANT_BAND <= low and high <= INVARIANT_SLOPE + INVARIANT_BAND
  band = f"{INVARIANT_SLOPE} ± {INVARIANT_BAND}"
  if excludes and inside:
    return DRIFTS_WITHIN, f"{what} CI excludes {INVARIANT_SLOPE} but lies inside {band}: a drift too small to matter"
  if excludes:
    return DRIFTS, f"{what} CI excludes {INVARIANT_SLOPE}: the optimal K/n changes with N"
  if inside:
    return INVARIANT, f"{what} CI inside {band}"
  return INCONCLUSIVE, (f"{what} CI includes {INVARIANT_SLOPE} and reaches beyond {band}; add seeds or budgets "
                        "(`jaxdiv sweep --plan` sizes a design)")


FACTOR_BAND = 0.15


def factor_verdict(interval, name: str) -> tuple[str, str]:
  """(verdict, message) for a 95% interval of the slope of ln n* on ln(level), fixed before the data in the
  form of `exponent_verdict`: "n* moves with X" when it excludes 0, "n* does not depend on X (within ±0.15)"
  when it lies inside 0 ± FACTOR_BAND, both at once when both hold, else "inconclusive"."""
  low, high = interval
  excludes, inside = high < 0 or low > 0, -FACTOR_BAND <= low and high <= FACTOR_BAND
  if excludes and inside:
    return f"n* moves with {name}, but within ±{FACTOR_BAND}", "slope CI excludes 0 but lies inside ±0.15"
  if excludes:
    return f"n* moves with {name}", "slope CI excludes 0"
  if inside:
    return f"n* does not depend on {name} (within ±{FACTOR_BAND})", f"slope CI inside 0 ± {FACTOR_BAND}"
  return INCONCLUSIVE, f"slope CI includes 0 and reaches beyond ±{FACTOR_BAND}; add seeds or levels"


def factor_slope(best: list[dict], levels: list[float], name: str) -> dict:
  """Slope of ln n* on ln(level) at one N over a factor's levels (`best_k` per level, each from its own
  bootstrap stream), its 95% interval (the slope of every bootstrap replicate's ln n* on ln level) and the
  verdict (`factor_verdict`). Levels must be positive; an optimum at the grid's edge makes it inconclusive."""
  if len(best) < 2:
    return {"verdict": "untested (one level)", "slope": None, "slope_ci95": None}
  x = np.log(np.asarray(levels, float))
  log_n = np.log([b["N"] / b["K_star"] for b in best])
  out = {"slope": _slope(x, log_n), "slope_ci95": None, "levels": [float(v) for v in levels],
         "n_star": [float(np.exp(v)) for v in log_n]}
  if all(b["log_K_samples"] for b in best):
    draws = np.log([b["N"] for b in best])[:, None] - np.array([b["log_K_samples"] for b in best])
    out["slope_ci95"] = [float(v) for v in np.percentile(np.polyfit(x, draws, 1)[0], [2.5, 97.5])]
  edges = [float(v) for v, b in zip(levels, best) if b["at_edge"]]
  if edges:
    out["verdict"], out["message"] = INCONCLUSIVE, f"the optimum is at the grid's edge at {name} = {edges}"
  elif out["slope_ci95"] is None:
    out["verdict"], out["message"] = INCONCLUSIVE, "no interval (one seed)"
  else:
    out["verdict"], out["message"] = factor_verdict(out["slope_ci95"], name)
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
  """Each gated K's change in error (2x steps minus 1x, same seed) against a tolerance: what two networks
  trained alike differ by, 1.96·√2·(pooled seed SD at this N), at least 1 point (the floor alone with one
  seed). The budget passes when every change is within its tolerance."""
  spread = pooled_seed_sd(sweep)
  tolerance = float(max(GATE_Z * np.sqrt(2.0) * spread if spread is not None else 0.0, GATE_POINTS))
  checks = []
  for i, k in enumerate(gated.K):
    j = int(np.flatnonzero(sweep.K == k)[0]) if k in sweep.K else None
    if j is None:
      continue
    for s, seed in enumerate(gated.seeds):
      if seed not in sweep.seeds or np.isnan(gated.errors[i, s]):
        continue
      before = sweep.errors[j, sweep.seeds.index(seed)]
      change = float(gated.errors[i, s] - before)
      checks.append({"K": int(k), "n": int(gated.n[i]), "seed": int(seed), "error_1x": float(before),
                     "error_2x": float(gated.errors[i, s]), "change": change, "tolerance": tolerance,
                     "passes": bool(abs(change) <= tolerance)})
  return {"N": sweep.N, "checks": checks, "seed_sd": spread, "tolerance": tolerance,
          "passes": bool(checks) and all(c["passes"] for c in checks)}


def difference(curve: Curve, a: int, b: int) -> tuple[float, list[float] | None]:
  """Mean error at row a minus at row b, with a Student-t 95% interval (None with one seed) from
  `difference_noise`: paired seeds' residual SD where every K has the same three or more seeds, else the
  pooled seed SD of independent means."""
  diff = float(curve.mean[a] - curve.mean[b])
  noise = difference_noise(curve)
  if noise is None:
    return diff, None
  seeds = curve.seed_counts
  half = 0.0 if a == b else float(stats.t.ppf(0.975, noise["dof"]) * noise["sd"]
                                  * np.sqrt(1 / seeds[a] + 1 / seeds[b]))
  return diff, [diff - half, diff + half]


def holdout(curve: Curve, predicted_k: int, standard_k: int) -> dict:
  """At a held-out N: the error at the predicted K, at the grid's best K (lowest mean) and at the standard
  K, and the differences (predicted − best: the cost of predicting instead of searching; standard −
  predicted: the gain over the standard choice), with Student-t 95% intervals from the pooled seed SD."""
  ks = curve.K.astype(int).tolist()
  missing = [k for k in (predicted_k, standard_k) if k not in ks]
  if missing:
    return {"N": curve.N, "status": f"K = {missing} not measured at N = {curve.N}"}
  best = int(np.argmin(curve.mean))
  predicted, standard = ks.index(predicted_k), ks.index(standard_k)
  out = {"N": curve.N, "status": "ok", "seeds": int(curve.seed_counts.max()),
         "predicted_K": int(predicted_k), "best_K": int(curve.K[best]), "standard_K": int(standard_k),
         "predicted_error": float(curve.mean[predicted]), "best_error": float(curve.mean[best]),
         "standard_error": float(curve.mean[standard])}
  for name, (a, b) in (("predicted_minus_best", (predicted, best)),
                       ("standard_minus_predicted", (standard, predicted))):
    out[name], out[f"{name}_ci95"] = difference(curve, a, b)
  return out
