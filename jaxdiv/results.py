"""The study's results table, `results.jsonl`: one typed row per (task, N, K, n, seed, mode, stage, probe).

Shared by the sweep (which appends), the bound fit and the report (which read), so it lives at the top
level and imports nothing from the stages. The average task is defined here, once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections import defaultdict

from jaxdiv import distributed, io

RESULTS = "results.jsonl"
CONDITION_FIELDS = ("designs_per_class", "spread", "width")
AVERAGE = "average"
GRID_STAGES = ("sweep", "refine")  # the anti-diagonal at each budget: its grid, and K's refinement added


@dataclasses.dataclass(frozen=True)
class ResultRow:
  """One probe result. Baseline rows have K = n = N = 0 (nothing was pre-trained).

  stage: "sweep" (the grid at the sweep budgets), "refine" (K's added around a budget's optimum), "gate"
  (2x steps), "validate" (the larger N),
  "baseline" (the floors) or "probe" (`jaxdiv probe` on a pretrain workdir). mode: "class", "cluster"
  (k-means labels of a fixed sample, the contrast case), or for baselines "chance" / "random_init"."""
  task: str
  N: int
  K: int
  n: int
  seed: int
  error: float
  probe: str = "ridge"
  mode: str = "class"
  stage: str = "sweep"
  steps: int | None = None
  val_accuracy: float | None = None
  l2: float | None = None
  train_accuracy: float | None = None
  train_loss: float | None = None
  features: int | None = None
  probe_seconds: float | None = None
  test_sd: float | None = None  # the test-set sampling SD of `error` (`test_sampling_sd`)
  imbalance: float = 0.0  # the Zipf exponent s of the run's class sizes (0: balanced, K_eff = K)
  K_eff: float | None = None  # exp(entropy of the run's label distribution)
  # The pre-trained network's own task on images of its K classes it never trained on (a few per class).
  pretrain_heldout_error: float | None = None
  pretrain_heldout_loss: float | None = None
  # What the run's pool and network were, so one table can hold a factor study's levels: the glyph pool's
  # designs per class (0: all) and spread (1: the default warps), the network's width (None: not recorded).
  designs_per_class: int = 0
  spread: float = 1.0
  width: int | None = None
  # Contrast runs (mode "cluster"): the space k-means grouped the sample in (`cluster.features`), how far
  # its labels agree with the sample's true classes (normalised mutual information, 0 = none, 1 = exact)
  # beside the NMI of the same cluster sizes shuffled (chance), and how well that space groups a labelled
  # probe of the pool (64 classes x 16 images) by class, with its chance level (`clusters.space_agreement`);
  # cluster_sample_classes: the C classes the sample was drawn from (0: the whole pool).
  cluster_features: str | None = None
  cluster_sample_classes: int | None = None
  cluster_nmi: float | None = None
  cluster_nmi_chance: float | None = None
  space_nmi: float | None = None
  space_nmi_chance: float | None = None

  @property
  def accuracy(self) -> float:
    return 1.0 - self.error

  @property
  def cell(self) -> tuple:
    """What identifies a measurement apart from the task: rows of one cell are averaged over tasks."""
    return (self.probe, self.mode, self.stage, self.N, self.K, self.n, self.seed, self.imbalance,
            *self.condition)

  @property
  def condition(self) -> tuple:
    """The pool's dials and the network's width (`CONDITION_FIELDS`)."""
    return tuple(getattr(self, name) for name in CONDITION_FIELDS)

  @classmethod
  def from_dict(cls, row: dict) -> ResultRow:
    """Rows written by older versions lack some keys (stage, mode, steps) or carry only `accuracy`."""
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in row.items() if k in fields}
    if "error" not in values:
      values["error"] = 1.0 - float(row["accuracy"])
    values.setdefault("N", int(row["K"]) * int(row["n"]))
    for key in ("N", "K", "n", "seed"):
      values[key] = int(values[key])
    return cls(**values)

  def to_dict(self) -> dict:
    return dict(dataclasses.asdict(self), accuracy=self.accuracy)


def results_path(workdir: str) -> str:
  return os.path.join(workdir, RESULTS)


class CorruptResultsError(ValueError):
  pass


def read_rows(workdir: str) -> list[ResultRow]:
  """The results table; a line that is not a row is an error naming the file, the line and the fix (the
  table is only ever rewritten whole, so such a line was edited or copied in by hand)."""
  path = results_path(workdir)
  if not io.exists(path):
    return []
  rows = []
  for number, line in enumerate(io.read_text(path).splitlines(), start=1):
    if not line.strip():
      continue
    try:
      rows.append(ResultRow.from_dict(json.loads(line)))
    except (ValueError, TypeError, KeyError) as error:
      raise CorruptResultsError(
          f"{path}, line {number}, is not a results row ({type(error).__name__}: {error}): {line[:120]!r}. Fix or "
          "delete that line; the next sweep redoes a run whose rows are missing (from its checkpoint if it has one)"
      ) from None
  return rows


def append_rows(workdir: str, rows: list[ResultRow]) -> None:
  """Rewrite the table with the new rows through a temporary file, so a kill never leaves half a table.

  On a pod only the writer (process 0) holds rows (`probe_stack` probes there alone); every process waits
  here until it has written them, so all read back one table and none holds a row twice."""
  path = results_path(workdir)
  if distributed.is_writer():
    existing = io.read_text(path) if io.exists(path) else ""
    io.write_text_atomic(path, existing + "".join(json.dumps(r.to_dict()) + "\n" for r in rows))
  distributed.barrier(f"append_rows:{path}")


def rewrite_rows(workdir: str, rows: list[ResultRow]) -> None:
  """Replace the whole table with `rows` through a temporary file (a field filled in for rows a study already
  holds, like the pre-training held-out error of a study that predates it)."""
  if distributed.is_writer():
    io.write_text_atomic(results_path(workdir), "".join(json.dumps(r.to_dict()) + "\n" for r in rows))
  distributed.barrier(f"rewrite_rows:{results_path(workdir)}")


def run_key(row) -> tuple:
  """What identifies a trained run (apart from the task and probe its rows are about)."""
  return (row.stage, row.mode, row.N, row.K, row.n, row.seed, float(row.imbalance), *row.condition)


def matches(row, condition: dict) -> bool:
  """Whether `row` was trained under `condition` ({field: value} of `CONDITION_FIELDS`); a field the row did not
  record (None: written before it existed) matches any value."""
  return all(field(row, name) is None or field(row, name) == value for name, value in condition.items())


def with_average(rows: list[ResultRow]) -> list[ResultRow]:
  """`rows` plus the average task: per cell, the mean error over the tasks, only where every task of
  that probe has the cell (a missing row leaves no average rather than an average of fewer tasks)."""
  tasks = defaultdict(set)
  for r in rows:
    if r.task != AVERAGE:
      tasks[r.probe].add(r.task)
  cells = defaultdict(list)
  for r in rows:
    if r.task != AVERAGE:
      cells[r.cell].append(r)
  average = []
  for cell, members in sorted(cells.items(), key=lambda item: str(item[0])):
    if {r.task for r in members} != tasks[cell[0]]:
      continue
    train = [r.train_accuracy for r in members if r.train_accuracy is not None]
    sds = [r.test_sd for r in members]
    test_sd = math.sqrt(sum(v * v for v in sds)) / len(sds) if None not in sds else None  # independent test sets
    average.append(dataclasses.replace(
        members[0], task=AVERAGE, error=sum(r.error for r in members) / len(members),
        val_accuracy=None, l2=None, probe_seconds=None, train_accuracy=train[0] if train else None,
        test_sd=test_sd))
  return [r for r in rows if r.task != AVERAGE] + average


def test_sampling_sd(error: float, test_examples: int) -> float:
  """The SD of a probe's test error over resamples of its test images: the bootstrap over test images in
  closed form (a resampled mean of m 0/1 outcomes has variance p(1 − p)/m). It says how much of a row's
  error is the luck of the test set rather than of the network."""
  return math.sqrt(max(error * (1.0 - error), 0.0) / test_examples)


def with_test_sd(rows: list[ResultRow], test_examples: dict[str, int]) -> list[ResultRow]:
  """Rows written before `test_sd` existed, given it from each task's test-set size."""
  return [r if r.test_sd is not None or r.task not in test_examples or r.stage == "baseline"
          else dataclasses.replace(r, test_sd=test_sampling_sd(r.error, test_examples[r.task])) for r in rows]


def field(row, name: str, default=None):
  """A row's field, whether the row is a ResultRow or a plain dict (synthetic tables, older code)."""
  if isinstance(row, dict):
    return row.get(name, default)
  return getattr(row, name, default)
