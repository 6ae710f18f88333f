"""A study's files: its results table (`results.jsonl`) read per task, the fit of every task and the average
task written to fit.json (`jaxdiv fit`), and predictions from it (`jaxdiv predict`)."""

from __future__ import annotations

import logging
import os
from collections import defaultdict

from jaxdiv import distributed, io
from jaxdiv.bound.analysis import Analysis, analyse, load_fits, predict_split
from jaxdiv.results import GRID_STAGES, ResultRow, read_rows, results_path, with_average, with_test_sd

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


def predict_study(workdir: str, total: int, max_classes: int | None = None) -> dict:
  return {task: predict_split(analysis, total, max_classes) for task, analysis in load_fits(workdir).items()}
