"""Closed-form ridge probe, in the style of big_vision's few-shot evaluator.

Standardise with train statistics, append a large constant bias feature (so the intercept is almost
unregularised), regress one-hot targets in {-1, +1}. One `eigh` of XᵀX (or of XXᵀ when N < D) makes
every L2 value a cheap rescale of the eigenvalues, so a whole grid is scored on a validation split at
once. Everything is jittable and `jax.vmap`-able over runs.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

BIAS = 10.0  # large enough that the intercept is barely penalised, small enough for float32 eigh
DEFAULT_RELATIVE_GRID = np.logspace(-6.0, 1.0, 15)  # times the mean eigenvalue of XᵀX


@dataclasses.dataclass(frozen=True)
class ProbeResult:
  test_accuracy: float
  val_accuracy: float
  l2: float
  l2_grid: np.ndarray
  val_accuracies: np.ndarray


def check_inputs(train_x, train_y, test_x, test_y) -> tuple[np.ndarray, ...]:
  """Arrays as float32/int32, with clear errors for what would silently give NaN accuracies."""
  train_x, test_x = np.asarray(train_x, np.float32), np.asarray(test_x, np.float32)
  train_y, test_y = np.asarray(train_y), np.asarray(test_y)
  for name, x in (("train", train_x), ("test", test_x)):
    if x.ndim != 2:
      raise ValueError(f"{name} features must be (N, D), got shape {x.shape}")
    if not np.isfinite(x).all():
      bad = int((~np.isfinite(x)).any(axis=1).sum())
      raise ValueError(f"{name} features hold NaN/Inf in {bad} rows: check the backbone (a diverged run?) "
                       "or drop those rows before probing")
  if train_x.shape[1] != test_x.shape[1]:
    raise ValueError(f"train has {train_x.shape[1]} features but test has {test_x.shape[1]}")
  if len(train_x) != len(train_y) or len(test_x) != len(test_y):
    raise ValueError("features and labels differ in length")
  if train_y.min() < 0 or len(np.unique(train_y)) < 2:
    raise ValueError("train labels must be non-negative class ids with at least two classes")
  return train_x, train_y.astype(np.int32), test_x, test_y.astype(np.int32)


def standardise(train_x: jax.Array, *others: jax.Array):
  """Scale with train mean/std; constant columns get std 1 (they become zero, not NaN)."""
  mean = train_x.mean(axis=0)
  std = train_x.std(axis=0)
  std = jnp.where(std > 1e-6 * (1.0 + jnp.abs(mean)), std, 1.0)
  return tuple((x - mean) / std for x in (train_x, *others))


def with_bias(x: jax.Array) -> jax.Array:
  return jnp.concatenate([x, jnp.full((x.shape[0], 1), BIAS, x.dtype)], axis=1)


def signed_one_hot(labels: jax.Array, num_classes: int) -> jax.Array:
  return 2.0 * jax.nn.one_hot(labels, num_classes) - 1.0


def ridge_path_scores(x: jax.Array, targets: jax.Array, eval_x: jax.Array, relative_grid: jax.Array
                      ) -> tuple[jax.Array, jax.Array]:
  """Scores on `eval_x` for every L2 in the grid from one eigendecomposition.

  Returns (scores (G, M, C), absolute l2 values (G,)). Uses the primal form when N >= D and the dual
  (kernel) form when N < D; both give the same solution (XᵀX + λI)⁻¹XᵀY = Xᵀ(XXᵀ + λI)⁻¹Y.
  """
  n, d = x.shape
  if n >= d:
    eigvals, eigvecs = jnp.linalg.eigh(x.T @ x)
    projected_targets = eigvecs.T @ (x.T @ targets)  # (D, C)
    eval_projected = eval_x @ eigvecs  # (M, D)
  else:
    eigvals, eigvecs = jnp.linalg.eigh(x @ x.T)
    projected_targets = eigvecs.T @ targets  # (N, C)
    eval_projected = (eval_x @ x.T) @ eigvecs  # (M, N)
  eigvals = jnp.maximum(eigvals, 0.0)
  l2s = relative_grid * jnp.maximum(eigvals.mean(), 1e-12)

  def scores(l2):
    return eval_projected @ (projected_targets / (eigvals + l2)[:, None])

  return jax.vmap(scores)(l2s), l2s


def ridge_weights(x: jax.Array, targets: jax.Array, l2) -> jax.Array:
  """(D, C) ridge weights for one L2 (used to compare with scikit-learn)."""
  return jnp.linalg.solve(x.T @ x + l2 * jnp.eye(x.shape[1], dtype=x.dtype), x.T @ targets)


def stratified_val_mask(labels: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
  """True for a seeded validation carve-out: the same fraction of every class with >= 2 samples."""
  rng = np.random.default_rng(seed)
  mask = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    members = rng.permutation(np.flatnonzero(labels == c))
    take = int(round(len(members) * val_fraction)) if len(members) >= 2 else 0
    mask[members[:min(take, len(members) - 1)]] = True
  return mask


def _accuracy(scores: jax.Array, labels: jax.Array) -> jax.Array:
  return (scores.argmax(-1) == labels).mean()


def ridge_select_and_test(fit_x, fit_y, val_x, val_y, train_x, train_y, test_x, test_y, relative_grid,
                          num_classes: int):
  """Pure core: choose L2 on (fit, val), refit on full train, score test. vmap-able over runs."""
  fit_s, val_s = standardise(fit_x, val_x)
  val_scores, _ = ridge_path_scores(with_bias(fit_s), signed_one_hot(fit_y, num_classes), with_bias(val_s),
                                    relative_grid)
  val_accuracies = jax.vmap(_accuracy, in_axes=(0, None))(val_scores, val_y)
  # Ties go to the strongest regularisation (last maximal index on an increasing grid).
  best = len(relative_grid) - 1 - jnp.argmax(val_accuracies[::-1])
  train_s, test_s = standardise(train_x, test_x)
  test_scores, l2s = ridge_path_scores(with_bias(train_s), signed_one_hot(train_y, num_classes),
                                       with_bias(test_s), relative_grid[best][None])
  return _accuracy(test_scores[0], test_y), val_accuracies[best], l2s[0], val_accuracies


_ridge_core = jax.jit(ridge_select_and_test, static_argnames="num_classes")
_ridge_runs_core = jax.jit(
    jax.vmap(ridge_select_and_test, in_axes=(0, None, 0, None, 0, None, 0, None, None, None)), static_argnums=9)


def _split(train_x, train_y, val_fraction, seed):
  mask = stratified_val_mask(np.asarray(train_y), val_fraction, seed)
  if not mask.any():
    raise ValueError("the validation split is empty: every class needs >= 2 training samples")
  return train_x[~mask], train_y[~mask], train_x[mask], train_y[mask]


def ridge_probe(train_x, train_y, test_x, test_y, *, l2_grid=None, val_fraction: float = 0.2,
                seed: int = 0) -> ProbeResult:
  """Test accuracy of a ridge probe whose L2 is chosen on a seeded validation split of train.

  `l2_grid` is relative to the mean eigenvalue of the (standardised) Gram matrix, so one default
  serves any N and D; the result's `l2` is the absolute value used for the final fit.
  """
  train_x, train_y, test_x, test_y = check_inputs(train_x, train_y, test_x, test_y)
  grid = jnp.asarray(DEFAULT_RELATIVE_GRID if l2_grid is None else l2_grid, jnp.float32)
  num_classes = int(max(train_y.max(), test_y.max())) + 1
  fit_x, fit_y, val_x, val_y = _split(train_x, train_y, val_fraction, seed)
  test_acc, val_acc, l2, val_accs = _ridge_core(fit_x, fit_y, val_x, val_y, train_x, train_y, test_x, test_y, grid,
                                         num_classes=num_classes)
  return ProbeResult(float(test_acc), float(val_acc), float(l2), np.asarray(grid), np.asarray(val_accs))


def ridge_probe_runs(train_x, train_y, test_x, test_y, *, l2_grid=None, val_fraction: float = 0.2,
                     seed: int = 0) -> list[ProbeResult]:
  """`ridge_probe` for a stack of runs' features (R, N, D) sharing labels, in one vmapped program."""
  train_x, test_x = np.asarray(train_x, np.float32), np.asarray(test_x, np.float32)
  for r in range(train_x.shape[0]):
    check_inputs(train_x[r], train_y, test_x[r], test_y)
  train_y, test_y = np.asarray(train_y, np.int32), np.asarray(test_y, np.int32)
  grid = jnp.asarray(DEFAULT_RELATIVE_GRID if l2_grid is None else l2_grid, jnp.float32)
  num_classes = int(max(train_y.max(), test_y.max())) + 1
  mask = stratified_val_mask(train_y, val_fraction, seed)
  if jax.default_backend() == "cpu":
    # On XLA:CPU (jax 0.10.2) the batched LAPACK eigh of the vmapped program deadlocked at random in long
    # processes (0% CPU, never returns); one run at a time through the same jitted core never did.
    out = [_ridge_core(train_x[r, ~mask], train_y[~mask], train_x[r, mask], train_y[mask], train_x[r], train_y,
                       test_x[r], test_y, grid, num_classes=num_classes) for r in range(train_x.shape[0])]
    out = list(zip(*out))
  else:
    out = _ridge_runs_core(train_x[:, ~mask], train_y[~mask], train_x[:, mask], train_y[mask], train_x, train_y,
                           test_x, test_y, grid, num_classes)
  return [ProbeResult(float(t), float(v), float(lam), np.asarray(grid), np.asarray(vs)) for t, v, lam, vs in zip(*out)]
