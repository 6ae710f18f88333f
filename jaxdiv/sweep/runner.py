"""The resumable sweep: train the grid as stacks, probe every downstream task, append rows atomically.

A run is finished when the results table holds its row for every task and probe. A sweep killed at any
point and started again skips finished runs, resumes an interrupted stack from its checkpoint, and
probes trained-but-unprobed stacks from their final checkpoint; no row is lost or duplicated.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from jaxdiv import io
from jaxdiv.models import build_model
from jaxdiv.probe.runs import load_tasks, probe_stack
from jaxdiv.results import ResultRow, append_rows, read_rows
from jaxdiv.sweep import grid
from jaxdiv.timing import Phases
from jaxdiv.train import multi
from jaxdiv.train.pretrain import build_source, check_workdir_config, plan_stacks, train_stack
from jaxdiv.train.state import make_optimizer, stacked_states

log = logging.getLogger("jaxdiv")


def _run_key(spec: multi.RunSpec, stage: str) -> tuple:
  return (spec.mode, spec.num_classes, spec.per_class, spec.seed, stage)


def finished_runs(workdir: str, tasks, probes) -> set[tuple]:
  have: dict[tuple, set] = {}
  for row in read_rows(workdir):
    have.setdefault((row.mode, row.K, row.n, row.seed, row.stage), set()).add((row.task, row.probe))
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
  """The head every stack at N = `total` gets: as many classes as any run there may have (n >= n_min, at
  most the source's classes), so the grid, contrast, gate and validation at one N share one program."""
  return min(max_classes, total // max(sweep.n_min, 1))


def run_sweep(config, workdir: str, specs: list[multi.RunSpec] | None = None, stage: str = "sweep",
              tasks: dict | None = None, steps_scale: float = 1.0, phases: Phases | None = None) -> list[ResultRow]:
  """Train and probe `specs` (default: the config's grid) into `workdir`; returns all rows of the table.
  `steps_scale` multiplies every run's step budget (the convergence gate's 2x); `phases` collects wall
  seconds by phase."""
  phases = phases if phases is not None else Phases()
  io.makedirs(workdir)
  check_workdir_config(workdir, config, write=True)
  with phases.measure("data"):
    source = build_source(config)
  if specs is None:
    specs = grid.design(config.sweep, source.num_classes, _per_class_capacity(source))
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
        append_rows(workdir, probe_stack(config.probe, trained, tasks, strategy, stage))
      runs_bar.update(len(chunk))
  return read_rows(workdir)


def run_baselines(config, workdir: str, tasks: dict | None = None) -> list[ResultRow]:
  """Append the chance and random-init rows once; a rerun finds them and does nothing."""
  if any(r.stage == "baseline" for r in read_rows(workdir)):
    return read_rows(workdir)
  tasks = tasks if tasks is not None else load_tasks(config)
  append_rows(workdir, baseline_rows(config, build_source(config), tasks))
  return read_rows(workdir)


def _per_class_capacity(source) -> int:
  return int(np.bincount(source.labels).min())
