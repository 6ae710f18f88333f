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

from jaxdiv import distributed, factor, io
from jaxdiv.data import build_source
from jaxdiv.data.sampler import RunSpec
from jaxdiv.data.sources import split_location
from jaxdiv.models import build_model
from jaxdiv.probe.heldout import pretrain_heldout
from jaxdiv.probe.runs import load_tasks, probe_stack
from jaxdiv.results import ResultRow, append_rows, matches, read_rows, rewrite_rows, run_key
from jaxdiv.sweep import grid
from jaxdiv.timing import Phases
from jaxdiv.train import multi
from jaxdiv.train.pretrain import check_workdir_config, plan_stacks, train_stack
from jaxdiv.train.state import make_optimizer, stacked_states

log = logging.getLogger("jaxdiv")


def _run_key(spec: RunSpec, stage: str) -> tuple:
  return (spec.mode, spec.num_classes, spec.per_class, spec.seed, stage, float(spec.imbalance))


def finished_runs(workdir: str, tasks, probes, condition: dict | None = None) -> set[tuple]:
  """Keys of the runs whose rows cover every task and probe, among rows trained under `condition`."""
  have: dict[tuple, set] = {}
  for row in read_rows(workdir):
    if condition and not matches(row, condition):
      continue
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
  untrained = multi.TrainedStack("", (RunSpec(0, 0, config.seed, "random_init"),),
                                 {"steps": 0, "runs": [{"train_accuracy": None, "train_loss": None}]}, model, state)
  rows += probe_stack(config.probe, untrained, tasks, "vmap", "baseline")
  return [dataclasses.replace(r, width=int(config.model.width)) for r in rows]


def head_classes(sweep, total: int, max_classes: int) -> int:
  """The head every stack at N = `total` gets: as many classes as any run there may have (n >= n_min, or
  refine_n_min where refinement may step below it; at most the source's classes), so the grid, refinement,
  contrast, gate and validation at one N share one program and each seed one initialisation."""
  n_floor = min(sweep.n_min, sweep.refine_n_min) if sweep.get("refine") and sweep.get("refine_n_min") else sweep.n_min
  return min(max_classes, total // max(n_floor, 1))


def run_sweep(config, workdir: str, specs: list[RunSpec] | None = None, stage: str = "sweep",
              tasks: dict | None = None, steps_scale: float = 1.0, phases: Phases | None = None,
              source=None) -> list[ResultRow]:
  """Train and probe `specs` (default: the config's grid) into `workdir`; returns all rows of the table.
  `steps_scale` multiplies every run's step budget (the convergence gate's 2x); `phases` collects wall
  seconds by phase; `source`, when the caller built it already, is not built again."""
  phases = phases if phases is not None else Phases()
  io.makedirs(workdir)
  name, _ = factor.factor_of(config)
  check_workdir_config(workdir, config, write=True, ignore=(name,) if name else ())
  with phases.measure("data"):
    source = source or build_source(config)
  if specs is None:
    specs = grid.design(config.sweep, source.num_classes, per_class_capacity(source))
  condition = factor.condition(config)
  done = finished_runs(workdir, config.probe.tasks, config.probe.kinds, condition)
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
      chunk_dir = os.path.join(workdir, "runs", f"{stage}_N{total}_{multi.chunk_name(chunk)}{factor.level_tag(config)}")
      if name and name != "data.imbalance" and distributed.is_writer():  # `probe_study` rebuilds the level from it
        io.makedirs(chunk_dir)
        io.write_json_atomic(os.path.join(chunk_dir, "level.json"),
                             {"factor": name, "level": factor.value_of(config, name)})
      trained = train_stack(config, source, chunk, chunk_dir, strategy, steps_scale,
                            head_classes=head_classes(config.sweep, total, source.num_classes), phases=phases)
      with phases.measure("probe"):
        heldout = pretrain_heldout(trained, source, config.probe.get("pretrain_heldout_per_class", 0),
                                   config.data.subset_seed, strategy, config.probe.batch_size)
        rows = probe_stack(config.probe, trained, tasks, strategy, stage, heldout)
        append_rows(workdir, [dataclasses.replace(r, **condition) for r in rows])
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


def _row_key(row: ResultRow, width: int) -> tuple:
  """A row's identity, a width it did not record (written before rows had one) read as the study's `width`."""
  return (row.task, row.probe, *run_key(row if row.width is not None else dataclasses.replace(row, width=width)))


def _named(task_data: dict, tasks) -> dict:
  """The loaded tasks (keyed by name) that `tasks` name, `NAME@DIR` included."""
  return {split_location(t)[0]: task_data[split_location(t)[0]] for t in sorted(tasks)}


def folder_config(config, folder: str):
  """The config a stack folder trained under: a factor study's level (its `level.json`), else the study's."""
  level = io.read_json_if_exists(os.path.join(folder, "level.json"))
  return factor.at_level(config, level["factor"], level["level"]) if level else config


def probe_study(workdir: str, tasks: list[str] | None = None, kinds: list[str] | None = None) -> list[ResultRow]:
  """Probe a finished study's runs (or one stack folder of it) on `tasks` without training: every stack is
  restored from its checkpoint (`load_stack`), only the rows the table lacks are computed and appended,
  and the whole study also gets the new tasks' floors. `jaxdiv report` / `fit` then include them. In a factor
  study each stack is restored and probed under its own level's config."""
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
  width = int(config.model.width)
  table = read_rows(root)
  present = {_row_key(r, width) for r in table}
  without_heldout = {_row_key(r, width)[2:] for r in table if r.mode == "class" and r.stage != "baseline"
                     and r.pretrain_heldout_error is None}
  channels = io.read_json(os.path.join(folders[0], "summary.json"))["image_shape"][-1]
  task_data = load_tasks(config, channels)
  strategy, added, sources, heldout_filled = multi.resolve_strategy(config), [], {}, {}
  per_class = config.probe.get("pretrain_heldout_per_class", 0)
  for folder in folders:
    summary = io.read_json(os.path.join(folder, "summary.json"))
    stage = os.path.basename(folder).split("_N")[0]
    level_config = folder_config(config, folder)
    condition = factor.condition(level_config)
    keys = [(stage, run.get("mode", "class"), run["num_classes"] * run["per_class"], run["num_classes"],
             run["per_class"], run["seed"], float(run.get("imbalance", 0.0)), *condition.values())
            for run in summary["runs"]]
    wanted = {task for task in config.probe.tasks for key in keys for kind in config.probe.kinds
              if (split_location(task)[0], kind, *key) not in present}
    unfilled = per_class > 0 and any(key in without_heldout for key in keys)
    if not wanted and not unfilled:
      continue
    trained = load_stack(folder, level_config)
    heldout = None
    if per_class > 0:
      fingerprint = str(sorted(condition.items()))
      sources[fingerprint] = sources.get(fingerprint) or build_source(level_config)
      heldout = pretrain_heldout(trained, sources[fingerprint], per_class, config.data.subset_seed, strategy,
                                 config.probe.batch_size)
      heldout_filled.update({key: held for key, held in zip(keys, heldout) if held is not None})
    rows = [dataclasses.replace(r, **condition)
            for r in probe_stack(config.probe, trained, _named(task_data, wanted), strategy, stage, heldout)
            ] if wanted else []
    rows = [r for r in rows if _row_key(r, width) not in present]
    append_rows(root, rows)
    present |= {_row_key(r, width) for r in rows}
    added += rows
  if heldout_filled:  # rows written before runs recorded their pre-training held-out error get it now
    def held(r):
      return heldout_filled.get(_row_key(r, width)[2:])
    rewrite_rows(root, [dataclasses.replace(r, pretrain_heldout_error=held(r)["error"],
                                            pretrain_heldout_loss=held(r)["loss"])
                        if r.pretrain_heldout_error is None and held(r) else r
                        for r in read_rows(root)])
  names = [split_location(t)[0] for t in config.probe.tasks]
  with_floors = {r.task for r in read_rows(root) if r.stage == "baseline"} if whole else set(names)
  missing = [t for t in config.probe.tasks if split_location(t)[0] not in with_floors]
  if missing and config.sweep.baselines:
    floors = [r for r in baseline_rows(config, build_source(config), _named(task_data, missing))
              if r.probe in config.probe.kinds]
    append_rows(root, floors)
    added += floors
  return added


def run_baselines(config, workdir: str, tasks: dict | None = None, source=None) -> list[ResultRow]:
  """Append the chance and random-init rows once per network width (a random network has seen no data, so
  the pool's dials leave its floor as it is); a rerun finds them and does nothing. `source`, when the caller
  has built it, saves building it again (seconds for the glyph pool)."""
  if any(r.stage == "baseline" and matches(r, {"width": int(config.model.width)}) for r in read_rows(workdir)):
    return read_rows(workdir)
  tasks = tasks if tasks is not None else load_tasks(config)
  append_rows(workdir, baseline_rows(config, source or build_source(config), tasks))
  return read_rows(workdir)


def per_class_capacity(source) -> int:
  """What the source's smallest class holds: the largest n every class can give."""
  return int(np.bincount(source.labels).min())
