"""The K×n subset sampler: which source indices make a pre-training set of K classes × n samples.

Nested by construction: for one seed, the classes are a prefix of one seeded class permutation and
each class's samples a prefix of one seeded per-class permutation, so the set at (K1, n1) is
contained in the set at (K2, n2) whenever K1 <= K2 and n1 <= n2. Neighbouring grid points then
differ only by the data added, which lowers the variance of differences along the grid.
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """One run's pre-training set, the sampler's request and the sweep's unit: K classes × n samples with a
  seed; mode "cluster" draws N = K·n samples and labels them by
  k-means cluster id (the paper's contrast case) instead of by class. `imbalance` s > 0 keeps N = K·n but
  gives class k of the K a share ∝ (k + 1)^-s (`power_law_sizes`); n is then the mean class size."""
  num_classes: int
  per_class: int
  seed: int
  mode: str = "class"
  imbalance: float = 0.0

  @property
  def name(self) -> str:
    prefix = "" if self.mode == "class" else f"{self.mode}_"
    suffix = f"_z{self.imbalance:g}" if self.imbalance else ""
    return f"{prefix}K{self.num_classes}_n{self.per_class}_s{self.seed}{suffix}"


def _class_members(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
  """Sorted class ids and, per class, its source indices in increasing order."""
  labels = np.asarray(labels)
  if labels.ndim != 1:
    raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
  order = np.argsort(labels, kind="stable")
  classes, starts = np.unique(labels[order], return_index=True)
  return classes, np.split(order, starts[1:])


def _permuted(members: np.ndarray, seed: int, class_id: int, nested: bool, salt: int) -> np.ndarray:
  # Keyed by the class id (not its rank), so a class's sample order is the same at every K.
  key = [seed, int(class_id)] if nested else [seed, int(class_id), salt]
  return np.random.default_rng(key).permutation(members)


def _choose_classes(classes: np.ndarray, num_classes: int, seed: int, nested: bool, salt: int):
  key = [seed] if nested else [seed, salt]
  return classes[np.random.default_rng(key).permutation(len(classes))[:num_classes]]


def subset_indices(labels, num_classes: int, per_class: int, seed: int, nested: bool = True) -> np.ndarray:
  """Source indices of exactly `num_classes` classes × `per_class` samples, class-major order.

  Args:
    labels: the class of every source index (1-D integer array).
    num_classes: K, how many classes to draw.
    per_class: n, how many samples to draw from each chosen class.
    seed: the subset's seed; the result is a pure function of (labels, K, n, seed, nested).
    nested: if True, smaller (K, n) subsets of one seed are prefixes of larger ones; if False, every
      (K, n) gets an independent draw.
  """
  classes, members = _class_members(labels)
  if num_classes < 1 or per_class < 1:
    raise ValueError(f"num_classes and per_class must be >= 1, got K={num_classes}, n={per_class}")
  if num_classes > len(classes):
    raise ValueError(f"Asked for K={num_classes} classes but the source has only {len(classes)}; "
                     f"use K <= {len(classes)}.")
  salt = num_classes * 1_000_003 + per_class
  chosen = _choose_classes(classes, num_classes, seed, nested, salt)
  sizes = {int(c): len(m) for c, m in zip(classes, members)}
  smallest = min(sizes[int(c)] for c in chosen)
  if per_class > smallest:
    fitting = sum(size >= per_class for size in sizes.values())
    raise ValueError(
        f"Asked for n={per_class} samples per class but a chosen class holds only {smallest} "
        f"(the source's classes hold {min(sizes.values())}..{max(sizes.values())}; {fitting} classes "
        f"hold >= {per_class}). Use n <= {smallest} or fewer classes.")
  by_class = dict(zip(classes.tolist(), members))
  picks = [_permuted(by_class[int(c)], seed, c, nested, salt)[:per_class] for c in chosen]
  return np.concatenate(picks).astype(np.int64)


def power_law_sizes(num_classes: int, total: int, exponent: float) -> np.ndarray:
  """Class sizes n_k ∝ (k + 1)^-exponent for k = 0..K-1, each >= 1, summing to exactly `total`.

  Every class gets one sample; the other N − K are apportioned by the D'Hondt divisor method (seat j of
  class k has priority w_k / (j + 1), ties to the lower k). A divisor method is house-monotone: raising
  N never takes a sample from a class, so one seed's subsets stay nested in N at a fixed K (largest-
  remainder rounding is not: the Alabama paradox). Exponent 0 and N = K·n give every class exactly n.
  """
  if num_classes < 1:
    raise ValueError(f"num_classes must be >= 1, got {num_classes}")
  if exponent < 0:
    raise ValueError(f"the imbalance exponent must be >= 0 (0 = balanced), got {exponent}")
  if total < num_classes:
    raise ValueError(f"N={total} cannot give each of K={num_classes} classes a sample; use N >= K (or fewer "
                     "classes)")
  weights = np.arange(1, num_classes + 1, dtype=np.float64) ** -float(exponent)
  spare = total - num_classes
  # D'Hondt meets the lower quota, so floor(quota) seats (less a rounding guard) are surely its own.
  quota = spare * weights / weights.sum()
  seats = np.maximum(np.floor(quota * (1 - 1e-12)) - 1, 0).astype(np.int64)
  heap = [(-weights[k] / (seats[k] + 1), k) for k in range(num_classes)]
  heapq.heapify(heap)
  for _ in range(spare - int(seats.sum())):
    _, k = heapq.heappop(heap)
    seats[k] += 1
    heapq.heappush(heap, (-weights[k] / (seats[k] + 1), k))
  return seats + 1


def effective_classes(sizes) -> float:
  """K_eff = exp(entropy of the label distribution): K for balanced classes, fewer the more skewed."""
  p = np.asarray(sizes, np.float64)
  p = p[p > 0] / p.sum()
  return float(np.exp(-(p * np.log(p)).sum()))


def imbalanced_subset_indices(labels, num_classes: int, total: int, exponent: float, seed: int
                              ) -> np.ndarray:
  """`subset_indices` with class sizes following `power_law_sizes`: N = `total` exactly, the largest share
  to the first class of the seed's class order, class-major order.

  Nested like `subset_indices`: the classes are a prefix of the seed's class permutation and each class's
  samples a prefix of its own permutation, so a class's samples at any (K, N, exponent) are one list's
  prefix; with house-monotone sizes, the subset at N1 <= N2 (same K, exponent) is contained in the one at
  N2. Exponent 0 with N = K·n returns exactly `subset_indices(labels, K, n, seed)`.
  """
  classes, members = _class_members(labels)
  if num_classes > len(classes):
    raise ValueError(f"Asked for K={num_classes} classes but the source has only {len(classes)}; "
                     f"use K <= {len(classes)}.")
  sizes = power_law_sizes(num_classes, total, exponent)
  chosen = _choose_classes(classes, num_classes, seed, True, 0)
  by_class = dict(zip(classes.tolist(), members))
  picks = []
  for class_id, size in zip(chosen, sizes):
    pool = by_class[int(class_id)]
    if size > len(pool):
      raise ValueError(f"imbalance {exponent:g} gives class {int(class_id)} (the largest share at K={num_classes}, "
                       f"N={total}) {int(size)} samples but it holds {len(pool)}; lower the exponent or N, or "
                       "raise K")
    picks.append(_permuted(pool, seed, class_id, True, 0)[:size])
  return np.concatenate(picks).astype(np.int64)


def heldout_indices(labels, subset, per_class: int, seed: int) -> np.ndarray:
  """Up to `per_class` source indices per class of `subset` that the subset does not hold: the next ones
  of each class's seeded permutation (the subset holds a prefix of it), so a class's held-out images are
  the same whatever the run's K and n. For a run's pre-training held-out error; class-major order."""
  labels = np.asarray(labels)
  subset = np.asarray(subset)
  classes, members = _class_members(labels)
  by_class = dict(zip(classes.tolist(), members))
  picks = []
  for class_id in dict.fromkeys(labels[subset].tolist()):  # the subset's classes, in its order
    order = _permuted(by_class[int(class_id)], seed, class_id, True, 0)
    picks.append(order[~np.isin(order, subset)][:per_class].astype(np.int64))
  return np.concatenate(picks) if picks else np.zeros(0, np.int64)


def relabel(labels, indices) -> tuple[np.ndarray, int]:
  """Contiguous labels 0..K-1 for a subset, in order of first appearance, and K."""
  original = np.asarray(labels)[np.asarray(indices)]
  _, first, inverse = np.unique(original, return_index=True, return_inverse=True)
  rank = np.argsort(np.argsort(first))
  return rank[inverse].astype(np.int32), len(first)
