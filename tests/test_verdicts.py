"""The study's verdicts can come out either way: synthetic surfaces with a known answer, a deliberately
under-trained real study that must fail its gate, the contrast case in the report, the budget rule."""

import json
import os

import numpy as np
import pytest
from conftest import SMALL_RANGE

from jaxdiv.bound import measured
from jaxdiv.bound.analysis import Analysis, analyse
from jaxdiv.results import AVERAGE, ResultRow, with_average

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INVARIANT = {"A": 2.0, "B": 1.0, "C": 0.05, "alpha": 0.4, "beta": 0.4}


def surface_rows(params, budgets, seeds=4, noise=0.01, points=9, seed=0):
  """Rows of err = A·K^-α + B·n^-β + C with multiplicative noise; K* ∝ N^(β/(α+β))."""
  rng = np.random.default_rng(seed)
  rows = []
  for total in budgets:
    for k in np.unique(np.round(np.geomspace(2, total / 2, points))).astype(int):
      n = total // int(k)
      for s in range(seeds):
        err = (params["A"] * k ** -params["alpha"] + params["B"] * n ** -params["beta"] + params["C"])
        rows.append({"K": int(k), "n": n, "N": total, "seed": s, "error": err * np.exp(noise * rng.normal())})
  return rows


def test_an_invariant_surface_is_called_invariant():
  result = analyse(surface_rows(INVARIANT, (2000, 8000, 32000)), replicates=20)
  assert result.slope["verdict"] == "invariant", result.slope
  assert 0.35 <= result.slope["slope_ci95"][0] and result.slope["slope_ci95"][1] <= 0.65
  assert result.invariance["verdict"] == "invariant"
  assert [c["verdict"] for c in result.interior] == ["yes"] * 3


def test_a_drifting_surface_is_called_drifts():
  drift = dict(INVARIANT, alpha=0.25, beta=0.7)  # K* ∝ N^0.74
  result = analyse(surface_rows(drift, (2000, 8000, 32000)), replicates=20)
  assert result.slope["verdict"] == "drifts", result.slope
  assert result.slope["slope"] == pytest.approx(0.7 / 0.95, abs=0.05)
  assert result.invariance["verdict"] == "drifts with N"


def test_a_noisy_one_budget_table_is_untested_and_a_noisy_two_budget_one_is_not_invariant():
  one = analyse(surface_rows(INVARIANT, (2000,), seeds=1, noise=0.05), replicates=10)
  assert one.slope["verdict"] == "untested (one N)" and one.invariance["verdict"] == "untested (one N)"
  assert one.interior[0]["verdict"] == "untested (one seed)"
  # Two budgets, heavy noise, three seeds: the interval is wide, so the answer is not "invariant".
  noisy = analyse(surface_rows(INVARIANT, (2000, 4000), seeds=3, noise=0.15, points=5), replicates=10)
  assert noisy.slope["verdict"] in ("inconclusive", "drifts"), noisy.slope


def test_interior_optimum_needs_both_ends_to_lose_with_confidence():
  K = np.array([2, 8, 32, 128.0])
  u = measured.Curve(256, K, 256 / K, (0, 1, 2), np.array([[0.5, 0.52, 0.51], [0.3, 0.31, 0.29],
                                                          [0.35, 0.36, 0.34], [0.6, 0.62, 0.61]]))
  assert measured.interior_optimum(u)["verdict"] == "yes"
  falling = measured.Curve(256, K, 256 / K, (0, 1, 2), np.array([[0.5, 0.52, 0.51], [0.4, 0.41, 0.39],
                                                                [0.35, 0.36, 0.34], [0.36, 0.33, 0.35]]))
  assert measured.interior_optimum(falling)["verdict"] == "no"
  assert measured.monotone_in_k(falling)["verdict"] == "monotone"
  assert measured.monotone_in_k(u)["verdict"] == "not monotone"


def test_gate_tolerance_is_the_larger_of_seed_sd_and_one_point():
  K = np.array([2, 8, 32.0])
  sweep = measured.Curve(64, K, 64 / K, (0, 1), np.array([[0.5, 0.56], [0.3, 0.3], [0.6, 0.6]]))
  gated = measured.Curve(64, K, 64 / K, (0,), np.array([[0.46], [0.295], [0.58]]))
  result = measured.gate(sweep, gated)
  by_k = {c["K"]: c for c in result["checks"]}
  assert by_k[2]["passes"] and by_k[2]["tolerance"] == pytest.approx(np.std([0.5, 0.56], ddof=1))
  assert by_k[8]["passes"] and by_k[8]["tolerance"] == 0.01
  assert not by_k[32]["passes"] and not result["passes"]


def test_rows_and_the_average_task_are_typed_and_defined_once():
  old = ResultRow.from_dict({"task": "a", "K": 4, "n": 8, "seed": 0, "probe": "ridge", "accuracy": 0.75})
  assert (old.N, old.error, old.stage, old.mode) == (32, 0.25, "sweep", "class")
  rows = [old, ResultRow.from_dict({"task": "b", "K": 4, "n": 8, "seed": 0, "error": 0.35}),
          ResultRow.from_dict({"task": "a", "K": 2, "n": 16, "seed": 0, "error": 0.4})]  # b missing at K = 2
  average = [r for r in with_average(rows) if r.task == AVERAGE]
  assert len(average) == 1 and average[0].K == 4 and average[0].error == pytest.approx(0.3)
  analysis = analyse(surface_rows(INVARIANT, (2000, 8000)), replicates=4)
  assert Analysis.from_json(json.loads(json.dumps(analysis.to_json()))) == analysis


def test_imagenet_plan_budgets_steps_per_run_from_its_own_n(capsys):
  from jaxdiv import cli
  assert cli.main(["sweep", "--config", os.path.join(REPO, "configs", "imagenet_resnet18.py"), "--plan"]) == 0
  lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  plan, total = lines[:-1], lines[-1]["total"]
  assert total["runs"] == len(plan) and total["steps"] == sum(p["steps"] for p in plan)
  sweep = [p for p in plan if p["stage"] == "sweep"]
  for budget in {p["N"] for p in sweep}:
    assert len({p["steps"] for p in sweep if p["N"] == budget}) == 1  # every K at one N: the same steps
  steps_at = {p["N"]: p["steps"] for p in plan if p["stage"] in ("sweep", "validate")}
  assert steps_at[5000] < steps_at[50000] and steps_at[5000] >= 2000
  assert {p["steps"] for p in plan if p["stage"] == "gate" and p["N"] == 5000} == {2 * steps_at[5000]}


def test_an_under_trained_study_fails_its_gate_and_reports_the_contrast_case(tmp_path):
  """A real tiny study (8 steps per run): 2x steps moves the probe error, so the verdict is
  "under-trained"; its k-means contrast runs come out in the report with a Spearman verdict."""
  from jaxdiv.sweep.demo_config import demo_config
  from jaxdiv.sweep.study import run_study
  config = demo_config(quick=True)
  config.data.glyph_range = f"{SMALL_RANGE[0]:X}-{SMALL_RANGE[1]:X}"
  config.train.steps = 8
  config.sweep.points, config.sweep.validation_budget = 3, 0
  config.sweep.gate, config.sweep.cluster = True, True
  config.probe.tasks = ["jaxdiv_digits"]
  config.progress = False
  summary = run_study(config, str(tmp_path), "under-trained on purpose")
  assert summary["verdict"]["status"] == "under-trained"
  assert "raise train.epochs / train.min_steps" in summary["verdict"]["message"]
  report = open(summary["report"]).read()
  assert "FAILS" in report and "| gate |" in report
  assert "contrast case" in report and "Spearman" in report
  assert os.path.getsize(tmp_path / "report" / "contrast_average.png") > 1000
  fits = json.load(open(tmp_path / "fit.json"))
  assert fits[AVERAGE]["contrast"][0]["verdict"] in ("monotone", "not monotone")
  assert {c["K"] for c in fits[AVERAGE]["gate"][0]["checks"]} >= {4, 64}
  floors = [json.loads(line) for line in open(tmp_path / "results.jsonl") if '"baseline"' in line]
  assert {f["mode"] for f in floors} == {"chance", "random_init"}
  assert "random init" in report
