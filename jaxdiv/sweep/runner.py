"""The resumable sweep: train the grid as stacks, probe every downstream task, append rows atomically.

A run is finished when the results table holds its row for every task and probe. A sweep killed at any
point and started again skips finished runs, resumes an interrupted stack from its checkpoint, and
probes trained-but-unprobed stacks from their final checkpoint; no row is lost or duplicated.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np

from jaxdiv import io
from jaxdiv.models import build_model
from jaxdiv.probe.heldout import pretrain_heldout
from jaxdiv.probe.runs import load_tasks, probe_stack
from jaxdiv.results import ResultRow, append_rows, read_rows, rewrite_rows, run_key
from jaxdiv.sweep import grid
from jaxdiv.timing import Phases
from jaxdiv.train import multi
from jaxdiv.train.pretrain import build_source, check_workdir_config, plan_stacks, train_stack
from jaxdiv.train.state import make_optimizer, stacked_states

log = logging.getLogger("jaxdiv")


def _run_key(spec: multi.RunSpec, stage: str) -> tuple:
  return (spec.mode, spec.num_classes, spec.per_class, spec.seed, stage, float(spec.imbalance))


def finished_runs(workdir: str, tasks, probes) -> set[tuple]:
  have: dict[tuple, set] = {}
  for row in read_rows(workdir):
    key = (row.mode, row.K, row.n, row.seed, row.stage, float(row.imbalance))
    have.setdefault(key, set()).add((row.task, row.probe))
  wanted = {(t, p) for t in tasks for p in probes}
  return {key for key, got in have.items() if wanted <= got}


def baseline_rows(config, source, tasks: dict) -> list[ResultRow]:
  """The floors every table is read against: chance (always guess the test set's most common class) and
  the ridge probe on a randomly initialised network of the study's architecture (seed of the config)."""
  rows = []
  for task, (_, _, _, test_y) in tasks.items():
    majority = np.bincount(test_y).max() / len(test_y)
    for probe in config.probe.kinds:
      rows.append(ResultRow(task=task, N=0, K=0, n=0, seed=config.seed, error=1.0 - float(majority), probe=probe,
                            mode="chance", stage="baseline", steps=0))
  model = build_model(config.model, 2)
  state = stacked_states(model, make_optimizer(config.train, 1), [config.seed], source.image_shape)
  untrained = multi.TrainedStack("", (multi.RunSpec(0, 0, config.seed, "random_init"),),
                                 {"steps": 0, "runs": [{"train_accuracy": None, "train_loss": None}]}, model, state)
  return rows + probe_stack(config.probe, untrained, tasks, "vmap", "baseline")


def head_classes(sweep, total: int, max_classes: int) -> int:
  """The head every stack at N = `total` gets: as many classes as any run there may have (n >= n_min, or
  refine_n_min where refinement may step below it; at most the source's classes), so the grid, refinement,
  contrast, gate and validation at one N share one program and each seed one initialisation."""
  n_floor = min(sweep.n_min, sweep.refine_n_min) if sweep.get("refine") and sweep.get("refine_n_min") else sweep.n_min
  return min(max_classes, total // max(n_floor, 1))


def run_sweep(config, workdir: str, specs: list[multi.RunSpec] | None = None, stage: str = "sweep",
              tasks: dict | None = None, steps_scale: float = 1.0, phases: Phases | None = None,
              source=None) -> list[ResultRow]:
  """Train and probe `specs` (default: the config's grid) into `workdir`; returns all rows of the table.
  `steps_scale` multiplies every run's step budget (the convergence gate's 2x); `phases` collects wall
  seconds by phase; `source`, when the caller built it already, is not built again."""
  phases = phases if phases is not None else Phases()
  io.makedirs(workdir)
  check_workdir_config(workdir, config, write=True)
  with phases.measure("data"):
    source = source or build_source(config)
  if specs is None:
    specs = grid.design(config.sweep, source.num_classes, per_class_capacity(source))
  done = finished_runs(workdir, config.probe.tasks, config.probe.kinds)
  todo = [s for s in specs if _run_key(s, stage) not in done]
  log.info("%s: %d runs, %d finished, %d to do", stage, len(specs), len(specs) - len(todo), len(todo))
  if not todo:
    return read_rows(workdir)
  if tasks is None:
    with phases.measure("data"):
      tasks = load_tasks(config)
  strategy = multi.resolve_strategy(config)
  chunks = plan_stacks(config, source, todo, strategy)
  from tqdm.auto import tqdm
  with tqdm(total=len(specs), initial=len(specs) - len(todo), desc=f"{stage} runs", unit="run",
            disable=not config.progress) as runs_bar:
    for total, chunk in chunks:
      chunk_dir = os.path.join(workdir, "runs", f"{stage}_N{total}_{multi.chunk_name(chunk)}")
      trained = train_stack(config, source, chunk, chunk_dir, strategy, steps_scale,
                            head_classes=head_classes(config.sweep, total, source.num_classes), phases=phases)
      with phases.measure("probe"):
        heldout = pretrain_heldout(trained, source, config.probe.get("pretrain_heldout_per_class", 0),
                                   config.data.subset_seed, strategy, config.probe.batch_size)
        append_rows(workdir, probe_stack(config.probe, trained, tasks, strategy, stage, heldout))
      runs_bar.update(len(chunk))
  return read_rows(workdir)


def study_root(workdir: str) -> str | None:
  """The study `workdir` belongs to: itself when it holds a results table and runs/, or, for a stack folder
  `<study>/runs/<stack>`, that study; None for a `jaxdiv pretrain` workdir."""
  workdir = workdir.rstrip("/")
  if io.exists(os.path.join(workdir, "results.jsonl")) and io.exists(os.path.join(workdir, "runs")):
    return workdir
  parent = os.path.dirname(workdir)
  if os.path.basename(parent) == "runs" and io.exists(os.path.join(os.path.dirname(parent), "config.json")):
    return os.path.dirname(parent)
  return None


def _row_key(row: ResultRow) -> tuple:
  return (row.task, row.probe, row.stage, row.mode, row.N, row.K, row.n, row.seed, float(row.imbalance))


def probe_study(workdir: str, tasks: list[str] | None = None, kinds: list[str] | None = None) -> list[ResultRow]:
  """Probe a finished study's runs (or one stack folder of it) on `tasks` without training: every stack is
  restored from its checkpoint (`load_stack`), only the rows the table lacks are computed and appended,
  and the whole study also gets the new tasks' floors. `jaxdiv report` / `fit` then include them."""
  from jaxdiv.train.checkpoint import load_stack
  from jaxdiv.train.config import load_workdir_config
  root = study_root(workdir)
  config = load_workdir_config(root)
  config.probe.tasks = list(tasks or config.probe.tasks)
  config.probe.kinds = list(kinds or config.probe.kinds)
  whole = root == workdir.rstrip("/")
  folders = [f for f in io.list_dirs(os.path.join(root, "runs")) if io.exists(os.path.join(f, "summary.json"))]
  folders = folders if whole else [workdir.rstrip("/")]
  if not folders:
    raise FileNotFoundError(f"{root} has no finished stack under runs/: run its `jaxdiv sweep` first (it resumes)")
  table = read_rows(root)
  present = {_row_key(r) for r in table}
  without_heldout = {run_key(r) for r in table if r.mode == "class" and r.stage != "baseline"
                     and r.pretrain_heldout_error is None}
  channels = io.read_json(os.path.join(folders[0], "summary.json"))["image_shape"][-1]
  task_data = load_tasks(config, channels)
  strategy, added, source, heldout_filled = multi.resolve_strategy(config), [], None, {}
  per_class = config.probe.get("pretrain_heldout_per_class", 0)
  for folder in folders:
    summary = io.read_json(os.path.join(folder, "summary.json"))
    stage = os.path.basename(folder).split("_N")[0]
    keys = [(stage, run.get("mode", "class"), run["num_classes"] * run["per_class"], run["num_classes"],
             run["per_class"], run["seed"], float(run.get("imbalance", 0.0))) for run in summary["runs"]]
    wanted = {task for task in config.probe.tasks for key in keys for kind in config.probe.kinds
              if (task, kind, key[0], *key[1:]) not in present}
    unfilled = per_class > 0 and any(key in without_heldout for key in keys)
    if not wanted and not unfilled:
      continue
    trained = load_stack(folder, config)
    heldout = None
    if per_class > 0:
      source = source or build_source(config)
      heldout = pretrain_heldout(trained, source, per_class, config.data.subset_seed, strategy,
                                 config.probe.batch_size)
      heldout_filled.update({key: held for key, held in zip(keys, heldout) if held is not None})
    rows = [r for r in probe_stack(config.probe, trained, {t: task_data[t] for t in sorted(wanted)}, strategy, stage,
                                   heldout)
            if _row_key(r) not in present] if wanted else []
    append_rows(root, rows)
    present |= {_row_key(r) for r in rows}
    added += rows
  if heldout_filled:  # rows written before runs recorded their pre-training held-out error get it now
    rewrite_rows(root, [dataclasses.replace(r, pretrain_heldout_error=heldout_filled[run_key(r)]["error"],
                                            pretrain_heldout_loss=heldout_filled[run_key(r)]["loss"])
                        if r.pretrain_heldout_error is None and run_key(r) in heldout_filled else r
                        for r in read_rows(root)])
  with_floors = {r.task for r in read_rows(root) if r.stage == "baseline"} if whole else set(config.probe.tasks)
  missing = [t for t in config.probe.tasks if t not in with_floors]
  if missing and config.sweep.baselines:
    floors = [r for r in baseline_rows(config, source or build_source(config), {t: task_data[t] for t in missing})
              if r.probe in config.probe.kinds]
    append_rows(root, floors)
    added += floors
  return added


def run_baselines(config, workdir: str, tasks: dict | None = None, source=None) -> list[ResultRow]:
  """Append the chance and random-init rows once; a rerun finds them and does nothing. `source`, when the
  caller has built it, saves building it again (seconds for the glyph pool)."""
  if any(r.stage == "baseline" for r in read_rows(workdir)):
    return read_rows(workdir)
  tasks = tasks if tasks is not None else load_tasks(config)
  append_rows(workdir, baseline_rows(config, source or build_source(config), tasks))
  return read_rows(workdir)


def per_class_capacity(source) -> int:
  """What the source's smallest class holds: the largest n every class can give."""
  return int(np.bincount(source.labels).min())
