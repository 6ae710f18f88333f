"""`jaxdiv validate`: every prediction method checked out of sample on a finished study.

For a study with three or more budgets, each budget in turn is held out (where two or more remain to fit),
and each method predicts K* there from the others: the model-free extrapolation (`measured.extrapolate_k_star`)
and every bound-model family fitted alone (`analyse(..., families=[family])`, then `predict_split`). Each
prediction is compared with the held-out budget's measured vertex: the ratio predicted/measured, whether the
measured vertex lies inside the prediction's 95% interval, and the regret of the grid K nearest the
prediction against the grid's best K there (paired seeds, 95% t interval). Each budget's vertex takes the
K* bootstrap's default 1,000 replicates; `replicates` sets the bound model's. Written to validation.json.
"""

from __future__ import annotations

import os

import numpy as np

from jaxdiv import distributed, io
from jaxdiv.bound.analysis import analyse, predict_split
from jaxdiv.bound.model import FAMILIES
from jaxdiv.results import AVERAGE
from jaxdiv.stats import measured
from jaxdiv.study.files import read_results, sweep_rows

METHODS = ("model-free", *FAMILIES)


def splits(budgets: list[int]) -> list[tuple[list[int], int]]:
  """(fitted budgets, held-out budget): the largest held out first (the paper's protocol), then each other
  budget in turn, wherever two or more budgets remain to fit."""
  order = sorted(budgets, reverse=True)
  return [([b for b in sorted(budgets) if b != held], held) for held in order if len(budgets) - 1 >= 2]


def regret(curve: measured.Curve, k_star: float) -> dict:
  """The error of the grid K nearest `k_star` (in ln K) minus the grid's best, with a 95% interval."""
  near = int(np.argmin(np.abs(np.log(curve.K) - np.log(k_star))))
  best = int(np.argmin(curve.mean))
  difference, interval = measured.difference(curve, near, best)
  return {"K_used": int(curve.K[near]), "regret": difference, "regret_ci95": interval}


def predict(method: str, rows, curves: dict, fitted: list[int], held: int, replicates: int) -> dict:
  """One method's K* at `held` from the budgets `fitted` (the bound model sees only those)."""
  if method == "model-free":
    return measured.extrapolate_k_star([measured.best_k(curves[n]) for n in fitted], held)
  chosen = [r for r in rows if r.N in fitted]
  try:
    analysis = analyse(chosen, replicates=replicates, families=[method], fit_budgets=fitted)
  except ValueError as error:
    return {"status": "untested", "message": str(error)}
  return {**predict_split(analysis, held), "method": method, "fitted_N": fitted}


def validate_rows(rows, replicates: int = 200) -> list[dict]:
  """Every (split, method) of one task's rows, as table rows."""
  grid = sweep_rows(rows)
  curves = {n: c for n, c in measured.curves(grid).items() if len(c.K) >= 3}
  out = []
  for fitted, held in splits(sorted(curves)):
    vertex = measured.best_k(curves[held])
    for method in METHODS:
      p = predict(method, grid, curves, fitted, held, replicates)
      row = {"method": method, "fitted_N": fitted, "N": held, "status": p.get("status"),
             "message": p.get("message"), "measured_K": vertex["K_star"], "measured_ci95": vertex["K_ci95"],
             "measured_at_edge": vertex["at_edge"]}
      if p.get("status") == "ok":
        interval = p.get("K_ci95")
        row.update(predicted_K=p["K_star"], predicted_ci95=interval, ratio=p["K_star"] / vertex["K_star"],
                   covered=bool(interval and interval[0] <= vertex["K_star"] <= interval[1]),
                   **regret(curves[held], p["K_star"]))
      out.append(row)
  return out


def validate_study(workdir: str, probe: str = "ridge", replicates: int = 200, task: str = AVERAGE) -> list[dict]:
  """`validate_rows` on one task of a finished study (the average by default); writes validation.json."""
  results = read_results(workdir, probe)
  if task not in results:
    raise ValueError(f"{workdir} has no rows for task {task!r}; it has {sorted(results)}")
  budgets = sorted({r.N for r in sweep_rows(results[task])})
  if len(budgets) < 3:
    raise ValueError(f"{workdir} has {len(budgets)} budget(s) {budgets}: out-of-sample validation needs three or "
                     "more (two to fit, one held out)")
  table = validate_rows(results[task], replicates)
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "validation.json"), {"task": task, "probe": probe, "rows": table})
  return table
