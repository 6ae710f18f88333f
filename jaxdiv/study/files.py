"""A study's files: its results table (`results.jsonl`) read per task, the fit of every task and the average
task written to fit.json (`jaxdiv fit`), and predictions from it (`jaxdiv predict`)."""

from __future__ import annotations

import logging
import os
from collections import defaultdict

import numpy as np

from jaxdiv import distributed, io
from jaxdiv.bound.analysis import ALPHA_EQUALS_BETA, Analysis, analyse, load_fits, predict_split, rejects_invariance
from jaxdiv.bound.model import feasible_split
from jaxdiv.results import GRID_STAGES, ResultRow, read_rows, results_path, with_average, with_test_sd
from jaxdiv.stats import measured
from jaxdiv.sweep import grid

log = logging.getLogger("jaxdiv")


def read_results(workdir: str, probe: str = "ridge") -> dict[str, list[ResultRow]]:
  """Every row of one probe per task, the average task included (`results.with_average`)."""
  if not io.exists(results_path(workdir)):
    raise FileNotFoundError(f"{results_path(workdir)} not found: run `jaxdiv sweep` into this workdir first")
  rows = [r for r in read_rows(workdir) if r.probe == probe]
  if any(r.test_sd is None and r.stage != "baseline" for r in rows) and io.exists(os.path.join(workdir, "config.json")):
    from jaxdiv.probe.runs import test_examples  # rows written before they recorded their test-set SD
    from jaxdiv.train.config import load_workdir_config
    try:
      rows = with_test_sd(rows, test_examples(load_workdir_config(workdir)))
    except Exception as error:  # noqa: BLE001 - the test-set SD is a report column, never worth a failed fit
      log.warning("no test-set SD for rows of %s (%s): the noise table leaves it out", workdir, error)
  by_task = defaultdict(list)
  for row in with_average(rows):
    by_task[row.task].append(row)
  if not by_task:
    raise ValueError(f"{results_path(workdir)} has no rows for probe {probe!r}")
  return dict(by_task)


def sweep_rows(rows: list[ResultRow]) -> list[ResultRow]:
  """The rows the bound model is fitted to: the sweep's class-labelled balanced runs, refinement's included."""
  return [r for r in rows if r.stage in GRID_STAGES and r.mode == "class" and not r.imbalance]


def fit_study(workdir: str, probe: str = "ridge", max_classes: int | None = None, replicates: int = 200,
              fit_budgets=None) -> dict[str, Analysis]:
  """`fit_budgets`: the N the bound model is fitted to (all sweep budgets when empty)."""
  results = {}
  for task, rows in read_results(workdir, probe).items():
    fitted = sweep_rows(rows)
    if fitted:
      results[task] = analyse(fitted, max_classes=max_classes, replicates=replicates, all_rows=rows,
                              fit_budgets=fit_budgets)
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "fit.json"), {task: a.to_json() for task, a in results.items()})
  return results


def held_out_prediction(analysis: Analysis, total: int, max_classes: int, n_min: int, under_trained: bool) -> dict:
  """The bound model's K* at the study's validation budget and the K trained there (the divisor of N nearest
  it, n >= n_min), as study.json records it."""
  prediction = {**predict_split(analysis, total, max_classes), "family": analysis.family}
  if prediction["status"] == "ok":
    k = grid.nearest_divisor(total, prediction["K_star"], 1, min(max_classes, total // n_min))
    low, high = prediction["K_ci95"]
    prediction.update(K=k, n=total // k, message=f"K* = {prediction['K_star']:.0f} (95% CI {low:.0f}–{high:.0f}) "
                      f"at N = {total} ({analysis.family}); trained K = {k}, n = {total // k}")
  if under_trained:
    prediction["message"] = "not a finding (the convergence gate failed): " + prediction["message"]
  return prediction


def refresh_prediction(workdir: str, analysis: Analysis, n_min: int) -> dict | None:
  """After a refit, the prediction study.json records at its validation budget, recomputed from the new fit
  (the report reads it from there); None for a study without one. The K's already trained stay as they are:
  a K the new prediction names and the grid lacks shows as not measured."""
  path = os.path.join(workdir, "study.json")
  meta = io.read_json_if_exists(path)
  if not meta or not meta.get("validation_N"):
    return None
  under_trained = (meta.get("verdict") or {}).get("status") == "under-trained"
  prediction = held_out_prediction(analysis, meta["validation_N"], meta["validation_N"], n_min, under_trained)
  if distributed.is_writer():
    io.write_json_atomic(path, {**meta, "prediction": prediction})
  return prediction


def model_free_prediction(rows: list[ResultRow], total: int, max_classes: int | None = None) -> dict:
  """K* at N = `total` extrapolated from the vertices of every sweep budget with three or more K
  (`measured.extrapolate_k_star`), with the split of N nearest it."""
  curves = [c for c in measured.curves(sweep_rows(rows)).values() if len(c.K) >= 3]
  out = measured.extrapolate_k_star([measured.best_k(c) for c in curves], total)
  if out["status"] == "ok":
    out["K"], out["n"] = feasible_split(out["K_star"], total, max_classes)
  return out


def rejected_by_own_test(analysis: Analysis) -> str | None:
  """Why the bound model's chosen family may not predict: it assumes α = β while the study's own test of the
  exponent β/(α + β) excludes 0.5; None when it may."""
  if analysis.family not in ALPHA_EQUALS_BETA or not rejects_invariance(analysis.invariance):
    return None
  interval = analysis.invariance["exponent_ci95"]
  return (f"its family ({analysis.family}) assumes α = β, i.e. K/n N-invariant, which this study's own test rejects "
          f"(β/(α + β) = {analysis.invariance['exponent']:.2f}, 95% CI [{interval[0]:.2f}, {interval[1]:.2f}])")


def track_record(validation: dict | None, method: str) -> list[dict]:
  """The held-out predictions `jaxdiv validate` recorded for `method` on this study."""
  return [r for r in (validation or {}).get("rows", []) if r["method"] == method and r["status"] == "ok"]


def recommend(free: dict, bound: dict, validation: dict | None) -> dict:
  """The default between the two predictions. A bound prediction whose family the study's own test rejects,
  or that did not come out, is out. With a validation record, the method whose held-out predictions were
  all covered by their intervals wins, then the smaller mean |ln(predicted / measured)|. Without one, the
  model-free extrapolation (on the committed CPU study v3 it covered all three held-out budgets, ratios
  0.90-1.05, while the AICc-chosen bound family missed the largest by 2.7x). Where both stand, the band of
  K both intervals allow is given; "disjoint" when none is."""
  usable = {name: p for name, p in (("model-free", free), (bound.get("family"), bound))
            if p.get("status") == "ok" and not p.get("rejected")}
  if not usable:
    return {"method": None, "why": "no method gives a prediction here"}

  def score(name):
    record = track_record(validation, name)
    if not record:
      return (1, 0.0, name != "model-free")
    return (0 if all(r["covered"] for r in record) else 1, float(np.mean([abs(np.log(r["ratio"])) for r in record])),
            name != "model-free")
  method = min(usable, key=score)
  if track_record(validation, method):
    why = "validated on this study"
  elif len(usable) == 1:
    why = "the only usable prediction here"
  else:
    why = "the model-free default (no validation record on this study: run `jaxdiv validate` with 3+ budgets)"
  out = {"method": method, "why": why}
  if len(usable) == 2 and all(p.get("K_ci95") for p in usable.values()):
    low = max(p["K_ci95"][0] for p in usable.values())
    high = min(p["K_ci95"][1] for p in usable.values())
    out["band_both_allow"] = [low, high] if low <= high else "disjoint"
  return out


def predict_study(workdir: str, total: int, max_classes: int | None = None) -> dict:
  """{task: {"bound": ..., "model_free": ..., "recommended": ...}} at N = `total`: the bound model's prediction
  (flagged where its family's built-in assumption is rejected by the study's own test), the model-free
  extrapolation, each with its validation record (average task, validation.json), and the default."""
  validation = io.read_json_if_exists(os.path.join(workdir, "validation.json"))
  results = read_results(workdir)
  out = {}
  for task, analysis in load_fits(workdir).items():
    bound = {**predict_split(analysis, total, max_classes), "family": analysis.family}
    why = rejected_by_own_test(analysis)
    if why:
      bound["rejected"] = why
    free = model_free_prediction(results[task], total, max_classes) if task in results else {"status": "untested"}
    own = validation if validation and validation.get("task") == task else None
    out[task] = {"bound": {**bound, "record": track_record(own, analysis.family)},
                 "model_free": {**free, "record": track_record(own, "model-free")},
                 "recommended": recommend(free, bound, own)}
  return out
