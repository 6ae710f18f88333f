"""`jaxdiv fit` / `jaxdiv predict` over a study's results table (`results.jsonl`, one row per
(task, N, K, n, seed, probe) with an `error` or `accuracy`)."""

from __future__ import annotations

import json
import os
from collections import defaultdict

import numpy as np

from jaxdiv.bound.analysis import analyse, predict_split
from jaxdiv.data.fonts import write_json_atomic
from jaxdiv.sweep.results import read_rows, results_path

AVERAGE = "average"


def read_results(workdir: str, probe: str = "ridge", stage: str | None = "sweep", mode: str = "class"
                 ) -> dict[str, list[dict]]:
  """Rows per task for one probe; by default only the sweep's class-labelled runs (validation runs at a
  larger N and clustering runs are not what the bound model is fitted to)."""
  path = results_path(workdir)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} not found: run `jaxdiv sweep` into this workdir first")
  by_task = defaultdict(list)
  for row in read_rows(workdir):
    if row.get("probe", probe) != probe or row.get("mode", "class") != mode:
      continue
    if stage is not None and row.get("stage", "sweep") != stage:
      continue
    row["error"] = row["error"] if "error" in row else 1.0 - row["accuracy"]
    by_task[row["task"]].append(row)
  if not by_task:
    raise ValueError(f"{path} has no rows for probe {probe!r}")
  # The average task: mean error over tasks at each (K, n, seed).
  pooled = defaultdict(list)
  for rows in by_task.values():
    for r in rows:
      pooled[(r["K"], r["n"], r["seed"])].append(r["error"])
  by_task[AVERAGE] = [{"K": k, "n": n, "seed": s, "error": float(np.mean(e))} for (k, n, s), e in pooled.items()]
  return dict(by_task)


def fit_study(workdir: str, probe: str = "ridge", max_classes: int | None = None, replicates: int = 200) -> dict:
  results = {}
  for task, rows in read_results(workdir, probe).items():
    analysis = analyse(rows, max_classes=max_classes, replicates=replicates)
    analysis["bootstrap_params"] = analysis.pop("_boot")
    results[task] = analysis
  write_json_atomic(os.path.join(workdir, "fit.json"), results)
  return results


def predict_study(workdir: str, total: int, max_classes: int | None = None) -> dict:
  path = os.path.join(workdir, "fit.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} not found: run `jaxdiv fit --workdir {workdir}` first")
  with open(path) as f:
    fits = json.load(f)
  out = {}
  for task, analysis in fits.items():
    analysis["_boot"] = analysis["bootstrap_params"]
    out[task] = predict_split(analysis, total, max_classes)
  return out
