import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import least_squares
from sklearn.cluster import KMeans

from jaxdiv.bound import (
  analyse,
  feasible_split,
  fit_error_model,
  optimal_k,
  optimal_log_k_numeric,
  optimal_ratio,
  predict_split,
)
from jaxdiv.bound import model as bound_model
from jaxdiv.bound.analysis import aicc
from jaxdiv.data import kmeans
from jaxdiv.stats import measured

TRUE = {"A": 2.0, "B": 1.0, "C": 0.05, "alpha": 0.4, "beta": 0.4}


def grid(budgets=(2000, 8000, 32000), per_budget=7):
  K, n = [], []
  for total in budgets:
    for k in np.unique(np.round(np.logspace(0.5, np.log10(total / 2), per_budget))):
      K.append(k)
      n.append(total / k)
  return np.array(K), np.array(n)


def surface(params, K, n):
  return params["A"] * K ** -params["alpha"] + params["B"] * n ** -params["beta"] + params["C"]


def noisy_rows(params, seeds=4, noise=0.02, budgets=(2000, 8000, 32000)):
  K, n = grid(budgets)
  rng = np.random.default_rng(0)
  rows = []
  for s in range(seeds):
    err = surface(params, K, n) * np.exp(noise * rng.normal(size=len(K)))
    rows += [{"K": k, "n": m, "seed": s, "error": e} for k, m, e in zip(K, n, err)]
  return rows


def test_recovers_known_parameters_from_noisy_surface():
  K, n = grid()
  err = surface(TRUE, K, n) * np.exp(0.01 * np.random.default_rng(1).normal(size=len(K)))
  fit = fit_error_model(K, n, err, family="shared")
  assert fit.params["alpha"] == pytest.approx(0.4, rel=0.1)
  assert fit.params["C"] == pytest.approx(0.05, rel=0.25)
  assert optimal_ratio(fit.params, 8000) == pytest.approx(optimal_ratio(TRUE, 8000), rel=0.25)
  assert fit.grad_norm < 1e-6


def test_shared_family_ratio_is_invariant_and_closed_form_matches_grad_root():
  for total in (1e3, 1e5, 1e7):
    assert optimal_ratio(TRUE, total) == pytest.approx((TRUE["A"] / TRUE["B"]) ** (1 / TRUE["alpha"]), rel=1e-9)
  theta = jnp.log(jnp.array([TRUE["A"], TRUE["B"], TRUE["C"], TRUE["alpha"]]))
  assert np.exp(optimal_log_k_numeric(theta, "shared", 5e4)) == pytest.approx(optimal_k(TRUE, 5e4), rel=1e-6)
  drift = dict(TRUE, beta=0.6)
  theta = jnp.log(jnp.array([2.0, 1.0, 0.05, 0.4, 0.6]))
  assert np.exp(optimal_log_k_numeric(theta, "separate", 5e4)) == pytest.approx(optimal_k(drift, 5e4), rel=1e-6)
  assert optimal_ratio(drift, 1e6) != pytest.approx(optimal_ratio(drift, 1e4), rel=0.1)


@pytest.mark.parametrize("family", ["shared", "separate", "sqrt"])
def test_objective_agrees_with_scipy_least_squares(family):
  K, n = grid()
  err = surface(TRUE, K, n) * np.exp(0.03 * np.random.default_rng(2).normal(size=len(K)))
  fit = fit_error_model(K, n, err, family=family)
  res = lambda t: np.asarray(bound_model.residuals(jnp.asarray(t), K, n, err, np.ones_like(err), family))
  with_x64 = __import__("jax").enable_x64(True)
  with with_x64:
    scipy_fit = least_squares(res, fit.theta + 0.05, loss="huber", f_scale=0.1, xtol=1e-15, ftol=1e-15,
                              gtol=1e-15, max_nfev=20000)
  assert fit.objective == pytest.approx(scipy_fit.cost, rel=1e-6)


def test_analysis_says_invariant_on_shared_data_and_predicts_k():
  result = analyse(noisy_rows(TRUE), replicates=20, max_classes=5000)
  assert result.invariance["verdict"] == measured.INVARIANT, result.invariance
  assert not result.boundary
  pred = predict_split(result, 100000)
  expected = optimal_k(TRUE, 100000)
  assert pred["status"] == "ok"
  assert pred["K_star"] == pytest.approx(expected, rel=0.1)
  assert pred["K_ci95"][0] <= pred["K_star"] <= pred["K_ci95"][1]
  assert pred["K"] * pred["n"] <= 100000


def test_analysis_detects_drift():
  result = analyse(noisy_rows(dict(TRUE, alpha=0.25, beta=0.7), noise=0.005), replicates=20)
  assert result.family == "separate"
  assert result.invariance["verdict"] == measured.DRIFTS, result.invariance
  assert result.invariance["exponent"] == pytest.approx(0.7 / 0.95, abs=0.05)


@pytest.mark.slow  # 25 s on 2 cores: .ci/run runs it
def test_monotone_surface_is_reported_as_boundary():
  rows = noisy_rows(dict(TRUE, A=50.0, B=0.01), budgets=(2000, 8000))
  result = analyse(rows, replicates=4)
  assert result.boundary
  pred = predict_split(result, 100000)
  assert pred["status"] == "boundary" and "extend the grid" in pred["message"]


def test_one_budget_is_fitted_with_invariant_families_and_says_untested():
  rows = noisy_rows(TRUE, budgets=(2000,))
  result = analyse(rows, replicates=8)
  assert result.family in ("shared", "sqrt") and "separate" not in result.aicc
  assert result.invariance["verdict"] == "untested (one N)"
  assert "second budget" in result.invariance["message"]


def test_aicc_rules_out_a_family_with_too_few_points_for_the_correction():
  K, n = grid(budgets=(2000,), per_budget=6)
  err = surface(TRUE, K, n)
  fit = fit_error_model(K, n, err, family="separate")
  assert len(K) == 6 and aicc(fit, K, n, err) == np.inf
  assert np.isfinite(aicc(fit_error_model(K, n, err, family="sqrt"), K, n, err))


def test_warm_started_bootstrap_matches_a_cold_start_refit():
  """The bootstrap refits each replicate from the full-data optimum; on a well-posed surface that must
  land where the full start grid lands."""
  K, n = grid()
  rng = np.random.default_rng(3)
  errs = surface(TRUE, K, n) * np.exp(0.02 * rng.normal(size=(6, len(K))))
  full = fit_error_model(K, n, errs.mean(0), family="shared")
  warm = bound_model.fit_many(K, n, errs, "shared", starts=full.theta)
  cold = bound_model.fit_many(K, n, errs, "shared")
  for w, c in zip(warm, cold):
    assert w.objective == pytest.approx(c.objective, rel=1e-6)
    assert w.params["alpha"] == pytest.approx(c.params["alpha"], rel=1e-4)


def test_too_few_points_is_a_clear_error():
  with pytest.raises(ValueError, match="parameters"):
    fit_error_model([1, 2, 3], [4, 5, 6], [0.5, 0.4, 0.3], family="separate")


def test_feasible_split_respects_limits():
  assert feasible_split(150.4, 10000) == (150, 66)
  assert feasible_split(5000.0, 10000, max_classes=1000) == (1000, 10)
  assert feasible_split(0.3, 10) == (1, 10)


def test_kmeans_inertia_within_one_percent_of_sklearn():
  rng = np.random.default_rng(0)
  x = np.concatenate([rng.normal(c, 1.0, (200, 8)) for c in rng.normal(0, 4, (10, 8))]).astype(np.float32)
  _, labels, inertia = kmeans(x, 10, seed=0)
  reference = KMeans(10, n_init=4, random_state=0).fit(x).inertia_
  assert inertia <= reference * 1.01
  assert len(np.unique(labels)) == 10


def test_fit_and_predict_cli_on_a_results_table(tmp_path, capsys):
  import json

  from jaxdiv import cli
  with open(tmp_path / "results.jsonl", "w") as f:
    for task, scale in (("task_a", 1.0), ("task_b", 1.3)):
      for row in noisy_rows(dict(TRUE, A=TRUE["A"] * scale), seeds=2):
        f.write(json.dumps(dict(row, task=task, N=int(round(row["K"] * row["n"])), probe="ridge")) + "\n")
  assert cli.main(["fit", "--workdir", str(tmp_path), "--replicates", "4"]) == 0
  fits = json.loads((tmp_path / "fit.json").read_text())
  assert set(fits) == {"task_a", "task_b", "average"}
  assert cli.main(["predict", "--workdir", str(tmp_path), "--total", "100000"]) == 0
  out = capsys.readouterr().out
  assert "task_a" in out and "K* =" in out and "recommended:" in out
  assert cli.main(["predict", "--workdir", str(tmp_path / "missing"), "--total", "10"]) == 2
