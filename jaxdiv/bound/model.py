"""The bound model: err(K, n) ≈ A·K^-α + B·n^-β + C, fitted in JAX, solved for the optimal K/n.

Families: "shared" (α = β, the optimal ratio is the same at every N), "separate" (α ≠ β, the ratio
drifts as N^((β-α)/(α+β))), "sqrt" (α = β = 1/2, the generalisation bound's rate). Positive
parameters live in log space. The loss is scipy's `least_squares` robust cost on log-error residuals
(Huber form), minimised by L-BFGS from a grid of starts in float64 until the gradient norm is tiny —
the Hoffmann et al. recipe, with Besiroglu et al.'s advice to fit to convergence and bootstrap.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.optim import minimise_lbfgs

FAMILIES = ("shared", "separate", "sqrt")
NUM_PARAMS = {"shared": 4, "separate": 5, "sqrt": 3}


def unpack(theta: jax.Array, family: str) -> tuple:
  """(A, B, C, α, β) from the family's log-parameter vector."""
  A, B, C = jnp.exp(theta[0]), jnp.exp(theta[1]), jnp.exp(theta[2])
  if family == "shared":
    alpha = beta = jnp.exp(theta[3])
  elif family == "separate":
    alpha, beta = jnp.exp(theta[3]), jnp.exp(theta[4])
  elif family == "sqrt":
    alpha = beta = jnp.asarray(0.5, theta.dtype)
  else:
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
  return A, B, C, alpha, beta


def predict(theta, K, n, family: str):
  A, B, C, alpha, beta = unpack(theta, family)
  return A * K ** -alpha + B * n ** -beta + C


def residuals(theta, K, n, err, weights, family: str):
  return weights * (jnp.log(predict(theta, K, n, family)) - jnp.log(err))


def robust_cost(r, f_scale):
  """scipy.optimize.least_squares' cost with loss='huber': 0.5·f²·Σ ρ((r/f)²)."""
  z = (r / f_scale) ** 2
  rho = jnp.where(z <= 1.0, z, 2.0 * jnp.sqrt(jnp.maximum(z, 1.0)) - 1.0)  # max: no nan gradient at z = 0
  return 0.5 * f_scale ** 2 * jnp.sum(rho)


def objective(theta, K, n, err, weights, family: str, f_scale: float):
  return robust_cost(residuals(theta, K, n, err, weights, family), f_scale)


def _lbfgs(loss, theta0, max_iter: int, tol: float):
  theta = minimise_lbfgs(loss, theta0, max_iter, tol)
  return theta, loss(theta), jnp.linalg.norm(jax.grad(loss)(theta))


def start_grid(family: str, err: np.ndarray) -> np.ndarray:
  """A grid of log-parameter starts (Hoffmann et al. style): exponents 0.05–2, the floor C from ~0 up to
  the lowest observed error, A and B over two decades."""
  lowest = max(float(np.min(err)), 1e-4)
  logs_ab = np.log([0.1, 1.0, 10.0])
  logs_c = np.log([lowest * 1e-3, lowest * 0.3, lowest * 0.9])
  exps = np.log([0.05, 0.2, 0.5, 1.0, 2.0])
  if family == "shared":
    grid = itertools.product(logs_ab, logs_ab, logs_c, exps)
  elif family == "separate":
    grid = itertools.product(logs_ab, logs_ab, logs_c, exps, exps)
  else:
    grid = itertools.product(logs_ab, logs_ab, logs_c)
  return np.array(list(grid), np.float64)


@dataclasses.dataclass(frozen=True)
class Fit:
  family: str
  theta: np.ndarray  # log-parameters
  objective: float
  grad_norm: float
  num_points: int
  f_scale: float = 0.1

  @property
  def params(self) -> dict:
    with jax.enable_x64(True):  # float64: a tiny B or C must not round to 0 in float32
      A, B, C, alpha, beta = (float(v) for v in unpack(jnp.asarray(self.theta, jnp.float64), self.family))
    return {"A": A, "B": B, "C": C, "alpha": alpha, "beta": beta}

  def predict(self, K, n) -> np.ndarray:
    with jax.enable_x64(True):
      return np.asarray(predict(jnp.asarray(self.theta), jnp.asarray(K, jnp.float64), jnp.asarray(n, jnp.float64),
                                self.family))


def _prepare(K, n, err, weights):
  K, n, err = (np.asarray(a, np.float64).ravel() for a in (K, n, err))
  weights = np.ones_like(err) if weights is None else np.asarray(weights, np.float64).ravel()
  if not (len(K) == len(n) == len(err) == len(weights)):
    raise ValueError("K, n, err and weights must have the same length")
  if not np.all(np.isfinite(err)) or np.any(err <= 0) or np.any(K < 1) or np.any(n < 1):
    raise ValueError("errors must be finite and > 0 (use 1 - accuracy; clip exact zeros), K and n >= 1")
  return K, n, err, weights


def _pad_points(K, n, errs, weights, bucket: int = 16):
  """Pad the points to a multiple of `bucket` with zero-weight dummies (K = n = err = 1, residual 0), so
  tables of different sizes share one compiled fitter instead of compiling one per size."""
  pad = -len(K) % bucket
  if not pad:
    return K, n, errs, weights
  ones = np.ones(pad)
  return (np.concatenate([K, ones]), np.concatenate([n, ones]),
          np.concatenate([errs, np.ones((errs.shape[0], pad))], axis=1), np.concatenate([weights, 0 * ones]))


@functools.partial(jax.jit, static_argnames=("family", "max_iter", "tol"))
def _fit_replicates(starts, K, n, errs, weights, f_scale, *, family: str, max_iter: int, tol: float):
  """L-BFGS from every start for every error vector (vmapped); the best start per vector.

  The data are arguments, not closed-over constants, so one compile serves every task and replicate
  set with the same number of points."""
  def fit_one(err):
    loss = lambda theta: objective(theta, K, n, err, weights, family, f_scale)
    thetas, values, grads = jax.vmap(lambda t: _lbfgs(loss, t, max_iter, tol))(starts)
    values = jnp.where(jnp.isfinite(values), values, jnp.inf)
    best = jnp.argmin(values)
    return thetas[best], values[best], grads[best]

  return jax.vmap(fit_one)(errs)


@functools.partial(jax.jit, static_argnames=("family", "max_iter", "tol"))
def _screen_starts(starts, K, n, err, weights, f_scale, *, family: str, max_iter: int, tol: float):
  """A short L-BFGS run from every start: (thetas, objective values), to keep only the promising ones.
  A start that converges stops there (stepping on at a zero gradient can turn L-BFGS's update to nan)."""
  loss = lambda theta: objective(theta, K, n, err, weights, family, f_scale)
  thetas, values, _ = jax.vmap(lambda t: _lbfgs(loss, t, max_iter, tol))(starts)
  return thetas, jnp.where(jnp.isfinite(values), values, jnp.inf)


def fit_many(K, n, errs, family: str, weights=None, f_scale: float = 0.1, max_iter: int = 2000,
             tol: float = 1e-10, starts=None, screen_iters: int = 100, keep: int = 8) -> list[Fit]:
  """Fit one family to several error vectors on the same (K, n) points (bootstrap replicates), vmapped.

  `starts` (log-parameter rows) default to the family's start grid; a bootstrap passes the full-data
  fit alone, which keeps every replicate in the same basin and costs one start instead of dozens. With
  more than `keep` starts, each first gets `screen_iters` L-BFGS steps on the mean error vector and only
  the best `keep` run on to convergence (a degenerate valley can otherwise hold hundreds of starts for
  the full `max_iter`)."""
  K, n, _, weights = _prepare(K, n, np.asarray(errs)[0], weights)
  errs = np.asarray(errs, np.float64)
  if len(K) < NUM_PARAMS[family]:
    raise ValueError(f"family {family!r} has {NUM_PARAMS[family]} parameters but only {len(K)} points were "
                     "given: measure more (K, n) points or use a smaller family")
  starts = start_grid(family, errs) if starts is None else np.atleast_2d(np.asarray(starts, np.float64))
  num_points = len(K)
  K, n, errs, weights = _pad_points(K, n, errs, weights)
  with jax.enable_x64(True):
    if len(starts) > keep:
      thetas, values = _screen_starts(*(jnp.asarray(a) for a in (starts, K, n, errs.mean(axis=0), weights)),
                                      jnp.asarray(f_scale, jnp.float64), family=family, max_iter=screen_iters,
                                      tol=tol)
      starts = np.asarray(thetas)[np.argsort(np.asarray(values))[:keep]]
    thetas, values, grads = _fit_replicates(*(jnp.asarray(a) for a in (starts, K, n, errs, weights)),
                                            jnp.asarray(f_scale, jnp.float64), family=family, max_iter=max_iter,
                                            tol=tol)
  return [Fit(family, np.asarray(t), float(v), float(g), num_points, f_scale)
          for t, v, g in zip(thetas, values, grads)]


def fit_error_model(K, n, err, *, family: str = "shared", weights=None, f_scale: float = 0.1) -> Fit:
  """Fit err(K, n) with one family; `weights` (e.g. 1/std over seeds) scale the log residuals."""
  K, n, err, weights = _prepare(K, n, err, weights)
  return fit_many(K, n, err[None], family, weights, f_scale)[0]


# --- Solving for the optimum -----------------------------------------------------------------------


def error_at(params: dict, K, n) -> np.ndarray:
  """The fitted surface A·K^-α + B·n^-β + C from a params dict (as `Fit.params` and fit.json hold it)."""
  K, n = np.asarray(K, float), np.asarray(n, float)
  return params["A"] * K ** -params["alpha"] + params["B"] * n ** -params["beta"] + params["C"]


def optimal_k(params: dict, total: float) -> float:
  """argmin over K of err(K, N/K): K* = (αA·N^β / (βB))^(1/(α+β)) (shared α: K* = sqrt(r*·N))."""
  A, B, alpha, beta = (np.float64(params[k]) for k in ("A", "B", "alpha", "beta"))
  with np.errstate(divide="ignore", over="ignore"):  # A or B at 0: K* is 0 or inf, an edge the callers clip
    log_k = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B) + beta * np.log(total)) / (alpha + beta)
    return float(np.exp(log_k))


def optimal_ratio(params: dict, total: float) -> float:
  """r* = K*/n* at budget N; N-invariant, (A/B)^(1/α), when α = β."""
  k = optimal_k(params, total)
  return k * k / total


def optimal_log_k_numeric(theta, family: str, total: float, lo: float = 0.0, hi: float | None = None,
                          iters: int = 200) -> float:
  """The same optimum from jax.grad of err(K, N/K) in log K and bisection (any differentiable family)."""
  hi = np.log(total) if hi is None else hi
  with jax.enable_x64(True):
    theta = jnp.asarray(theta)
    f = lambda u: predict(theta, jnp.exp(u), total / jnp.exp(u), family)
    slope = jax.jit(jax.grad(f))

    def body(_, bounds):
      a, b = bounds
      mid = 0.5 * (a + b)
      return jnp.where(slope(mid) > 0, jnp.array([a, mid]), jnp.array([mid, b]))

    a, b = jax.lax.fori_loop(0, iters, body, jnp.array([lo, hi], jnp.float64))
    return float(0.5 * (a + b))


def feasible_split(k_star: float, total: int, max_classes: int | None = None) -> tuple[int, int]:
  """Integer (K, n) nearest K* with K·n <= N, 1 <= K <= max_classes, n >= 1."""
  upper = min(total, max_classes or total)
  candidates = {int(np.clip(np.floor(k_star), 1, upper)), int(np.clip(np.ceil(k_star), 1, upper))}
  k = min(candidates, key=lambda c: abs(np.log(c) - np.log(k_star)))
  return k, max(total // k, 1)
