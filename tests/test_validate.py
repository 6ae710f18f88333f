"""Out-of-sample validation of every prediction method, and the model-free prediction's interval."""

import numpy as np
import pytest

from jaxdiv.bound import power
from jaxdiv.results import append_rows
from jaxdiv.stats import measured
from jaxdiv.study.validate import splits, validate_study


def test_splits_hold_out_the_largest_first_and_each_budget_where_two_remain():
  assert splits([256, 1024, 4096]) == [([256, 1024], 4096), ([256, 4096], 1024), ([1024, 4096], 256)]
  assert splits([256, 1024]) == []


def test_model_free_interval_covers_the_true_k_star_at_4x():
  """K* ∝ N^0.7 through v3's K* = 18 at N = 256, fitted on 256 and 1024 (v3's curvature and noise, three
  seeds): the 95% interval at N = 4096 covers the true K* in about 95% of 150 simulated studies
  (`bench/extrapolation_coverage.py` runs every truth at 4x and 16x)."""
  from bench.extrapolation_coverage import coverage
  result = coverage(0.7, 4096, studies=150, seed=3)
  assert 0.90 <= result["coverage"] <= 0.995 and 0.8 <= result["ratio"] <= 1.25


def test_one_budget_or_an_edge_gives_no_model_free_prediction():
  base = {"log_K_samples": None, "K_ci95": None}
  assert measured.extrapolate_k_star([{**base, "N": 256, "K_star": 18.0, "at_edge": False}], 4096)["status"] == \
      "untested"
  two = [{**base, "N": 256, "K_star": 18.0, "at_edge": False}, {**base, "N": 1024, "K_star": 66.0, "at_edge": True}]
  assert measured.extrapolate_k_star(two, 4096)["status"] == "boundary"
  two[1]["at_edge"] = False
  line = measured.extrapolate_k_star(two, 4096)
  assert line["K_star"] == pytest.approx(66.0 * (66.0 / 18.0), rel=1e-9) and line["K_ci95"] is None


@pytest.mark.slow  # ~1 min on 2 cores: nine bound-model fits with bootstraps; .ci/run runs it
def test_validation_finds_the_method_that_extrapolates(tmp_path):
  """A study whose K* grows in proportion to N (n* fixed): the model-free extrapolation predicts the held-out
  largest budget within its interval and closer than any bound-model family, while the sqrt family, which
  assumes K* ∝ √N, predicts about half of it or less (its interval is wide on a surface it does not fit)."""
  prior = {"seed_sd": 0.01, "curvature": 0.05, "floor": 0.3, "best_K": {256: 16.0}}
  design = {"K": {n: [16 * n / 256 * 2.0 ** i for i in range(-2, 3)] for n in (256, 1024, 4096)}, "seeds": [0, 1, 2]}
  rows = power.simulate_rows(design, prior, 1.0, np.random.default_rng(0))
  append_rows(str(tmp_path), [r.__class__(**{**r.__dict__, "task": "a"}) for r in rows] +
              [r.__class__(**{**r.__dict__, "task": "b"}) for r in rows])
  table = validate_study(str(tmp_path), replicates=20)
  largest = {r["method"]: r for r in table if r["N"] == 4096}
  assert largest["model-free"]["covered"] and 0.7 <= largest["model-free"]["ratio"] <= 1.4
  assert largest["sqrt"]["ratio"] < 0.7
  off = {m: abs(np.log(r["ratio"])) for m, r in largest.items() if r["status"] == "ok"}
  assert min(off, key=off.get) == "model-free"
  assert (tmp_path / "validation.json").exists()


def test_the_default_prediction_follows_the_rule():
  from jaxdiv.study.files import recommend
  free = {"status": "ok", "K_star": 250.0, "K_ci95": [110.0, 550.0]}
  bound = {"status": "ok", "K_star": 100.0, "K_ci95": [80.0, 130.0], "family": "sqrt"}
  # no record: the model-free default, and the band both intervals allow
  chosen = recommend(free, bound, None)
  assert chosen["method"] == "model-free" and chosen["band_both_allow"] == [110.0, 130.0]
  # a family whose assumption the study's own test rejects never predicts
  assert recommend({"status": "boundary"}, {**bound, "rejected": "α = β rejected"}, None)["method"] is None
  # a record: the method whose held-out predictions were all covered wins, whatever the default
  record = {"rows": [{"method": "model-free", "status": "ok", "ratio": 1.3, "covered": False, "N": 4096},
                     {"method": "sqrt", "status": "ok", "ratio": 0.9, "covered": True, "N": 4096}]}
  assert recommend(free, bound, record) == {"method": "sqrt", "why": "validated on this study",
                                            "band_both_allow": [110.0, 130.0]}
  assert recommend(free, {**bound, "K_ci95": [20.0, 60.0]}, None)["band_both_allow"] == "disjoint"
  assert recommend({"status": "boundary"}, bound, None)["why"] == "the only usable prediction here"


def test_a_family_whose_assumption_the_study_rejects_is_not_chosen():
  from jaxdiv.bound.analysis import choose_family
  scores = {"shared": -49.0, "separate": -47.7, "sqrt": -51.1}  # v3's AICc: sqrt lowest
  assert choose_family(scores, {"exponent_ci95": [0.68, 0.90]})[0] == "separate"
  assert choose_family(scores, {"exponent_ci95": [0.40, 0.90]}) == ("sqrt", "lowest AICc")
  assert choose_family(scores, {"verdict": "untested (one N)"}) == ("sqrt", "lowest AICc")
  assert choose_family({"sqrt": -5.0, "shared": -4.0}, {"exponent_ci95": [0.7, 0.9]})[0] == "sqrt"  # no other fitted
