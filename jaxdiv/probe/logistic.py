"""Multinomial logistic-regression probe with L2, solved by L-BFGS (optax) in JAX.

The objective is scikit-learn's for `LogisticRegression(C)`: mean cross-entropy + (l2 / 2)·‖W‖² with
an unpenalised intercept, where l2 = 1 / (C·N). The L2 path is solved from the strongest penalty to
the weakest, each fit warm-started from the previous one, and L2 is chosen on a validation split.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from jaxdiv.optim import minimise_lbfgs
from jaxdiv.probe.ridge import ProbeResult, _split, check_inputs, standardise

DEFAULT_L2_GRID = np.logspace(1.0, -5.0, 12)  # strongest first, for warm starts


def objective(params, x, labels, l2):
  logits = x @ params["w"] + params["b"]
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
  return loss + 0.5 * l2 * jnp.sum(params["w"] ** 2)


def init_params(num_features: int, num_classes: int):
  return {"w": jnp.zeros((num_features, num_classes)), "b": jnp.zeros((num_classes,))}


def logistic_fit(x, labels, l2, init=None, *, num_classes: int | None = None, max_iter: int = 1000,
                 tol: float = 1e-6):
  """Minimise `objective` with L-BFGS until the gradient norm is below `tol`; returns (params, grad norm)."""
  num_classes = num_classes or int(labels.max()) + 1
  params = init_params(x.shape[1], num_classes) if init is None else init
  loss = lambda p: objective(p, x, labels, l2)
  params = minimise_lbfgs(loss, params, max_iter, tol)
  return params, otu.tree_norm(jax.grad(loss)(params))


def _accuracy(params, x, labels):
  return ((x @ params["w"] + params["b"]).argmax(-1) == labels).mean()


def logistic_select_and_test(fit_x, fit_y, val_x, val_y, train_x, train_y, test_x, test_y, l2_grid,
                             num_classes: int, max_iter: int = 1000):
  """Warm-started L2 path on (fit, val), refit at the chosen L2 on all of train, score test."""
  fit_s, val_s = standardise(fit_x, val_x)

  def path_step(params, l2):
    params, _ = logistic_fit(fit_s, fit_y, l2, params, num_classes=num_classes, max_iter=max_iter)
    return params, (params, _accuracy(params, val_s, val_y))

  _, (path, val_accuracies) = jax.lax.scan(path_step, init_params(fit_x.shape[1], num_classes), l2_grid)
  # Ties go to the strongest penalty: the grid runs strongest first, so argmax's first hit is it.
  best = jnp.argmax(val_accuracies)
  start = jax.tree.map(lambda leaf: leaf[best], path)
  train_s, test_s = standardise(train_x, test_x)
  params, grad_norm = logistic_fit(train_s, train_y, l2_grid[best], start, num_classes=num_classes,
                                   max_iter=max_iter)
  return _accuracy(params, test_s, test_y), val_accuracies[best], l2_grid[best], val_accuracies, grad_norm


_logistic_core = jax.jit(logistic_select_and_test, static_argnames=("num_classes", "max_iter"))


def logistic_probe(train_x, train_y, test_x, test_y, *, l2_grid=None, val_fraction: float = 0.2,
                   seed: int = 0, max_iter: int = 1000) -> ProbeResult:
  """Test accuracy of a logistic probe with L2 chosen on a seeded validation split of train."""
  train_x, train_y, test_x, test_y = check_inputs(train_x, train_y, test_x, test_y)
  grid = jnp.asarray(np.sort(DEFAULT_L2_GRID if l2_grid is None else l2_grid)[::-1], jnp.float32)
  num_classes = int(max(train_y.max(), test_y.max())) + 1
  fit_x, fit_y, val_x, val_y = _split(train_x, train_y, val_fraction, seed)
  test_acc, val_acc, l2, val_accs, _ = _logistic_core(fit_x, fit_y, val_x, val_y, train_x, train_y, test_x, test_y,
                                                      grid,
                                            num_classes=num_classes, max_iter=max_iter)
  return ProbeResult(float(test_acc), float(val_acc), float(l2), np.asarray(grid), np.asarray(val_accs))
