import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression, RidgeClassifier

from jaxdiv.probe import extract_features, logistic_fit, logistic_probe, ridge_probe, ridge_probe_runs
from jaxdiv.probe import logistic as logistic_lib
from jaxdiv.probe import ridge as ridge_lib


@pytest.fixture(scope="module")
def digits():
  data = load_digits()
  x, y = data.data.astype(np.float32), data.target
  order = np.random.default_rng(0).permutation(len(x))
  train, test = order[:1200], order[1200:]
  return x[train], y[train], x[test], y[test]


def random_features(n=400, d=30, classes=5, seed=0):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(classes, d))
  y = rng.integers(0, classes, n)
  return (centres[y] + 1.5 * rng.normal(size=(n, d))).astype(np.float32), y


@pytest.mark.parametrize("source", ["digits", "random"])
def test_ridge_matches_sklearn_ridge_classifier(source, digits):
  if source == "digits":
    x, y = digits[0], digits[1]
  else:
    x, y = random_features()
  (xs,) = ridge_lib.standardise(jnp.asarray(x))
  alpha = 5.0
  weights = ridge_lib.ridge_weights(ridge_lib.with_bias(xs), ridge_lib.signed_one_hot(jnp.asarray(y), 10), alpha)
  ours = np.asarray(ridge_lib.with_bias(xs) @ weights)[:, : y.max() + 1].argmax(-1)
  reference = RidgeClassifier(alpha=alpha).fit(np.asarray(xs), y).predict(np.asarray(xs))
  assert (ours == reference).mean() > 0.995
  # The eigen-path gives the same scores as the direct solve.
  grid = jnp.array([alpha])
  gram_mean = jnp.linalg.eigvalsh(ridge_lib.with_bias(xs).T @ ridge_lib.with_bias(xs)).mean()
  path, _ = ridge_lib.ridge_path_scores(ridge_lib.with_bias(xs), ridge_lib.signed_one_hot(jnp.asarray(y), 10),
                                        ridge_lib.with_bias(xs), grid / gram_mean)
  np.testing.assert_allclose(path[0], ridge_lib.with_bias(xs) @ weights, rtol=2e-3, atol=2e-3)


def test_ridge_dual_equals_primal_when_n_below_d():
  x, y = random_features(n=40, d=120)
  xb = ridge_lib.with_bias(ridge_lib.standardise(jnp.asarray(x))[0])
  targets = ridge_lib.signed_one_hot(jnp.asarray(y), 5)
  dual, l2 = ridge_lib.ridge_path_scores(xb, targets, xb, jnp.array([1e-2]))
  direct = xb @ ridge_lib.ridge_weights(xb, targets, l2[0])
  np.testing.assert_allclose(dual[0], direct, rtol=1e-2, atol=1e-2)


def test_ridge_probe_on_digits_selects_from_grid(digits):
  result = ridge_probe(*digits)
  assert result.test_accuracy > 0.9 and len(result.l2_grid) >= 12
  assert result.val_accuracy == pytest.approx(result.val_accuracies.max())


def test_ridge_probe_runs_equals_single_runs(digits):
  x_tr, y_tr, x_te, y_te = digits
  stacked = ridge_probe_runs(np.stack([x_tr, x_tr[:, ::-1] * 2]), y_tr, np.stack([x_te, x_te[:, ::-1] * 2]), y_te)
  single = ridge_probe(x_tr, y_tr, x_te, y_te)
  assert stacked[0].test_accuracy == pytest.approx(single.test_accuracy, abs=1e-6)
  assert stacked[1].test_accuracy == pytest.approx(single.test_accuracy, abs=0.01)


@pytest.mark.parametrize("source", ["digits", "random"])
def test_logistic_reaches_sklearn_solution(source, digits):
  if source == "digits":
    x, y = digits[0], digits[1]
  else:
    x, y = random_features()
  (xs,) = ridge_lib.standardise(jnp.asarray(x))
  xs = np.asarray(xs)
  C = 1.0
  l2 = 1.0 / (C * len(xs))
  params, grad_norm = jax.jit(logistic_fit, static_argnames=("num_classes",))(
      jnp.asarray(xs), jnp.asarray(y), l2, num_classes=int(y.max()) + 1)
  reference = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(xs, y)
  ref_params = {"w": jnp.asarray(reference.coef_.T, jnp.float32), "b": jnp.asarray(reference.intercept_, jnp.float32)}
  ours_obj = float(logistic_lib.objective(params, xs, y, l2))
  ref_obj = float(logistic_lib.objective(ref_params, xs, y, l2))
  assert abs(ours_obj - ref_obj) / ref_obj < 1e-4
  ours_acc = (np.asarray(xs @ params["w"] + params["b"]).argmax(-1) == y).mean()
  assert abs(ours_acc - reference.score(xs, y)) <= 0.005
  assert float(grad_norm) < 1e-3


def test_logistic_probe_on_digits(digits):
  result = logistic_probe(*digits)
  assert result.test_accuracy > 0.9 and len(result.l2_grid) >= 12


def test_degenerate_features_give_finite_results():
  x, y = random_features(n=60, d=10)
  x = np.concatenate([x, np.ones((60, 3), np.float32), x[:, :4]], axis=1)  # constant + duplicate columns
  for probe in (ridge_probe, logistic_probe):
    result = probe(x[:40], y[:40], x[40:], y[40:])
    assert np.isfinite(result.test_accuracy) and result.test_accuracy > 0.2


def test_class_missing_from_validation_split_is_fine():
  x, y = random_features(n=80, d=8)
  y = y.copy()
  y[0] = 7  # a class with a single training sample cannot appear in validation
  result = ridge_probe(x, y, x[:20], y[:20])
  assert np.isfinite(result.test_accuracy)


def test_nan_features_are_a_clear_error():
  x, y = random_features(n=50, d=4)
  x[3, 1] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    ridge_probe(x, y, x, y)


def test_extract_features_pads_last_batch_and_stacks_runs():
  images = np.random.default_rng(0).integers(0, 255, (23, 4, 4, 1), dtype=np.uint8)
  single = extract_features(lambda _, x: x.reshape(x.shape[0], -1).mean(-1, keepdims=True), None, images,
                            batch_size=8)
  assert single.shape == (23, 1)
  stacked = extract_features(lambda _, x: jnp.stack([x.reshape(x.shape[0], -1)] * 3), None, images, batch_size=8,
                             stacked_runs=True)
  assert stacked.shape == (3, 23, 16)
  np.testing.assert_allclose(stacked[0].mean(-1, keepdims=True), single, rtol=1e-5)
