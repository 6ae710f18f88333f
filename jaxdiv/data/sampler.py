"""The K×n subset sampler: which source indices make a pre-training set of K classes × n samples.

Nested by construction: for one seed, the classes are a prefix of one seeded class permutation and
each class's samples a prefix of one seeded per-class permutation, so the set at (K1, n1) is
contained in the set at (K2, n2) whenever K1 <= K2 and n1 <= n2. Neighbouring grid points then
differ only by the data added, which lowers the variance of differences along the grid.
"""

from __future__ import annotations

import numpy as np


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
  """Class sizes proportional to rank^-exponent, each >= 1, summing to exactly `total`."""
  if total < num_classes:
    raise ValueError(f"total={total} cannot give each of {num_classes} classes a sample")
  weights = np.arange(1, num_classes + 1, dtype=np.float64) ** -float(exponent)
  spare = total - num_classes
  raw = spare * weights / weights.sum()
  sizes = np.floor(raw).astype(np.int64)
  # Largest-remainder rounding keeps the total exact.
  remainder = spare - sizes.sum()
  sizes[np.argsort(-(raw - sizes), kind="stable")[:remainder]] += 1
  return sizes + 1


def imbalanced_subset_indices(labels, num_classes: int, total: int, exponent: float, seed: int
                              ) -> np.ndarray:
  """Like `subset_indices` with the same total N = `total`, but class sizes follow a power law.

  The largest share goes to the first class of the seeded class order; exponent 0 is balanced
  up to rounding.
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
      raise ValueError(f"The power law asks class {int(class_id)} for {int(size)} samples but it holds "
                       f"{len(pool)}; lower the exponent or the total.")
    picks.append(_permuted(pool, seed, class_id, True, 0)[:size])
  return np.concatenate(picks).astype(np.int64)


def relabel(labels, indices) -> tuple[np.ndarray, int]:
  """Contiguous labels 0..K-1 for a subset, in order of first appearance, and K."""
  original = np.asarray(labels)[np.asarray(indices)]
  _, first, inverse = np.unique(original, return_index=True, return_inverse=True)
  rank = np.argsort(np.argsort(first))
  return rank[inverse].astype(np.int32), len(first)
