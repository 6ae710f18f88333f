"""Grid designs over (K, n): anti-diagonals at fixed N = K·n, or the full 2-D grid, times seeds."""

from __future__ import annotations

import numpy as np

from jaxdiv.data.sampler import RunSpec


def divisors(total: int) -> np.ndarray:
  small = [d for d in range(1, int(total ** 0.5) + 1) if total % d == 0]
  return np.array(sorted(set(small + [total // d for d in small])))


def nearest_divisor(total: int, k: float, k_min: int = 1, k_max: int | None = None) -> int:
  """The divisor of `total` nearest to `k` in log space, within [k_min, k_max], so K·n = N exactly."""
  options = divisors(total)
  options = options[(options >= k_min) & (options <= (k_max or total))]
  if not len(options):
    raise ValueError(f"no K in [{k_min}, {k_max}] divides N={total}; widen the K range or pick another N")
  return int(options[np.argmin(np.abs(np.log(options) - np.log(k)))])


def anti_diagonal(total: int, points: int, k_min: int, k_max: int, n_min: int = 1, n_max: int | None = None
                  ) -> list[tuple[int, int]]:
  """About `points` log-spaced (K, n) with K·n = N exactly, K in [k_min, k_max] and n in [n_min, n_max]."""
  low = max(k_min, -(-total // (n_max or total)))
  high = min(k_max, total // max(n_min, 1))
  if low > high:
    raise ValueError(f"N={total} has no split with K in [{k_min}, {k_max}] and n in [{n_min}, {n_max}]")
  targets = np.geomspace(low, high, points)
  ks = sorted({nearest_divisor(total, t, low, high) for t in targets})
  return [(k, total // k) for k in ks]


def explicit_ks(total: int, k_values, k_max: int) -> list[int]:
  """`sweep.k_values` at N = `total`, checked: each must divide N (K·n = N exactly) and fit the source."""
  bad = [int(k) for k in k_values if total % int(k) or not 1 <= int(k) <= k_max]
  if bad:
    near = [int(nearest_divisor(total, k, 1, k_max)) for k in bad]
    raise ValueError(f"sweep.k_values {bad} at N={total}: each K must divide N and lie in [1, {k_max}]; the nearest "
                     f"that do are {near}")
  return sorted({int(k) for k in k_values})


def full_grid(k_values, n_values) -> list[tuple[int, int]]:
  return [(int(k), int(n)) for k in k_values for n in n_values]


def design(sweep, max_classes: int, max_per_class: int) -> list[RunSpec]:
  """The config's grid as run specs: anti-diagonals (or the full grid), each seed, each mode."""
  k_max = min(sweep.k_max, max_classes)
  if sweep.get("k_values"):
    pairs = [(k, total // k) for total in sweep.budgets for k in explicit_ks(total, sweep.k_values, k_max)]
  elif sweep.grid == "anti_diagonal":
    pairs = [p for total in sweep.budgets
             for p in anti_diagonal(total, sweep.points, sweep.k_min, k_max, sweep.n_min,
                                   min(sweep.n_max, max_per_class))]
  elif sweep.grid == "full":
    k_values = np.unique(np.round(np.geomspace(sweep.k_min, k_max, sweep.points)).astype(int))
    n_values = np.unique(np.round(np.geomspace(sweep.n_min, min(sweep.n_max, max_per_class), sweep.points)).astype(int))
    pairs = full_grid(k_values, n_values)
  else:
    raise ValueError(f"sweep.grid must be 'anti_diagonal' or 'full', got {sweep.grid!r}")
  for name in ("cluster_budgets", "gate_budgets", "fit_budgets"):
    stray = sorted(set(sweep.get(name) or []) - set(sweep.budgets))
    if stray:
      raise ValueError(f"sweep.{name} names N = {stray}, which sweep.budgets = {list(sweep.budgets)} does not hold; "
                       f"use budgets from sweep.budgets (or [] for all of them)")
  imbalances = [float(s) for s in (sweep.get("imbalances") or [0.0])]
  specs = [RunSpec(k, n, seed, imbalance=s) for s in imbalances for seed in sweep.seeds for k, n in pairs]
  if sweep.cluster:  # the contrast case: the same (K, n) points, labels from k-means of one N-sample
    cluster_budgets = set(sweep.get("cluster_budgets") or [k * n for k, n in pairs])
    cluster_seeds = sweep.get("cluster_seeds") or sweep.seeds
    specs += [RunSpec(k, n, seed, "cluster") for seed in cluster_seeds for k, n in pairs if k * n in cluster_budgets]
  return specs
