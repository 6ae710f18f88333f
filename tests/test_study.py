"""Grid design, the resumable sweep, the report, and the Colab notebook (the quick demo, end to end)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import SMALL_RANGE

from jaxdiv.report import write_report
from jaxdiv.report.report import mean_errors, measured_interior
from jaxdiv.report.text import fitted_k
from jaxdiv.results import ResultRow, append_rows, read_rows
from jaxdiv.study.files import fit_study
from jaxdiv.sweep import grid
from jaxdiv.sweep.runner import finished_runs
from jaxdiv.train import base_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_anti_diagonals_are_exact_and_log_spaced():
  pairs = grid.anti_diagonal(2000, 6, 10, 1000, n_min=2)
  assert all(k * n == 2000 and 10 <= k <= 1000 and n >= 2 for k, n in pairs)
  assert len(pairs) == 6 and pairs[0][0] == 10 and pairs[-1][0] == 1000
  assert grid.nearest_divisor(8000, 170) == 160
  with pytest.raises(ValueError, match="no split"):
    grid.anti_diagonal(100, 4, 200, 400)
  sweep = base_config().sweep
  sweep.budgets, sweep.points, sweep.k_min, sweep.k_max, sweep.seeds, sweep.cluster = [64, 256], 3, 2, 64, [0, 1], True
  specs = grid.design(sweep, max_classes=40, max_per_class=50)
  assert {s.mode for s in specs} == {"class", "cluster"} and {s.seed for s in specs} == {0, 1}
  assert all(s.num_classes <= 40 and s.per_class <= 50 for s in specs)
  # A grid placed in n (sweep.n_max bounds n, so K = N/n_max ... N/n_min at every N): the v3 study's.
  sweep.budgets, sweep.points, sweep.k_min, sweep.k_max, sweep.n_min, sweep.n_max = [256, 4096], 4, 1, 1024, 4, 32
  sweep.seeds, sweep.cluster = [0], False
  specs = grid.design(sweep, max_classes=5000, max_per_class=50)
  expected = {(total, n) for total in (256, 4096) for n in (4, 8, 16, 32)}
  assert {(s.num_classes * s.per_class, s.per_class) for s in specs} == expected


def _synthetic_rows(totals, stage, rng):
  rows = []
  for total in totals:
    for k, n in grid.anti_diagonal(total, 7, 4, total // 2):
      for task, (a, b) in {"t1": (3.0, 2.0), "t2": (2.0, 3.0)}.items():
        err = a * k ** -0.5 + b * n ** -0.5 + 0.05
        err *= np.exp(0.01 * rng.standard_normal())
        rows.append(ResultRow(task=task, N=total, K=k, n=n, seed=0, stage=stage, error=err, train_accuracy=0.9))
  return rows


def test_a_fitted_k_past_n_reads_as_no_finite_optimum():
  # A bound model fitted on one budget can put K* at 1e14 (n far below 1): no split of N, not a number to print.
  assert fitted_k(8.6e13, 128) == "> 128 (no finite optimum)"
  assert fitted_k(37.94, 128) == "37.9" and fitted_k(None, 128) == "–"


def test_mean_errors_keep_a_zero_train_accuracy():
  row = {"task": "t", "N": 100, "K": 10, "n": 10, "seed": 0, "probe": "ridge", "error": 0.5}
  table = mean_errors([dict(row, train_accuracy=0.0), dict(row, seed=1, train_accuracy=0.5)], "ridge")
  assert table["t"][("sweep", 100, 10, 10)] == (0.5, 0.25, 2)
  assert np.isnan(mean_errors([row], "ridge")["t"][("sweep", 100, 10, 10)][1])


def test_measured_interior_looks_at_the_sweep_grid_only():
  u_curve = {("sweep", 100, 2, 50): (0.5, 1, 1), ("sweep", 100, 10, 10): (0.3, 1, 1),
             ("sweep", 100, 50, 2): (0.6, 1, 1)}
  assert measured_interior(u_curve)
  assert measured_interior({**u_curve, ("validate", 400, 2, 200): (0.1, 1, 1)})
  assert not measured_interior({**u_curve, ("sweep", 100, 2, 50): (0.2, 1, 1)})


def test_report_from_a_results_table(tmp_path):
  rng = np.random.default_rng(0)
  append_rows(str(tmp_path), _synthetic_rows([1000], "sweep", rng))
  fits = fit_study(str(tmp_path), replicates=5)
  assert not fits["average"].boundary
  k_star = int(round(grid.nearest_divisor(4000, 40)))
  validation = [r for r in _synthetic_rows([4000], "validate", rng)]
  append_rows(str(tmp_path), validation)
  meta = {"validation_N": 4000, "standard_classes": 1000, "prediction": {"K": k_star, "message": "synthetic"}}
  path = write_report(str(tmp_path), meta=meta)
  text = open(path).read()
  assert "| average |" in text and "heatmap_average.png" in text
  for name in ("heatmap_t1.png", "ucurve_t1.png", "ucurve_average.png", "table.json"):
    assert os.path.getsize(tmp_path / "report" / name) > 1000 or name == "table.json"
  table = {r["task"]: r for r in json.load(open(tmp_path / "report" / "table.json"))}
  at_4000 = {r.K: r.error for r in validation if r.task == "t1"}
  assert table["t1"]["best_error"] == pytest.approx(min(at_4000.values()))
  assert table["t1"]["standard_K"] == min(at_4000, key=lambda k: abs(np.log(k / 1000)))  # nearest to "all classes"
  assert finished_runs(str(tmp_path), ["t1", "t2"], ["ridge"])


SWEEP_CHILD = textwrap.dedent("""
  import sys
  sys.path.insert(0, {tests!r})
  from test_study import quick_sweep_config
  from jaxdiv.sweep.runner import run_sweep
  run_sweep(quick_sweep_config(), {workdir!r})
""")


def quick_sweep_config():
  from jaxdiv.configs.demo import get_config as demo_config
  config = demo_config("quick")
  config.data.glyph_range = f"{SMALL_RANGE[0]:X}-{SMALL_RANGE[1]:X}"
  config.sweep.points = 4
  config.probe.tasks = ["jaxdiv_digits"]
  config.multi.max_runs_per_chunk = 2
  config.progress = False
  return config


@pytest.mark.slow  # ~110 s in a fresh make test (a child process compiles from cold): .ci/run runs it;
# test_train's killed-run test keeps a resume check in the default suite
def test_sweep_killed_and_restarted_loses_no_row(tmp_path):
  env = dict(os.environ)
  process = subprocess.Popen([sys.executable, "-c", SWEEP_CHILD.format(tests=os.path.join(REPO, "tests"),
                                                                         workdir=str(tmp_path))],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  start = time.time()
  while time.time() - start < 300 and process.poll() is None and not read_rows(str(tmp_path)):
    time.sleep(0.2)
  process.send_signal(signal.SIGKILL)  # after the first chunk's rows, inside the second chunk
  process.communicate()
  first = read_rows(str(tmp_path))
  assert first, "the first chunk should have written its rows before the kill"
  from jaxdiv.sweep.runner import run_sweep
  rows = run_sweep(quick_sweep_config(), str(tmp_path))
  keys = [(r.task, r.K, r.n, r.seed, r.probe) for r in rows]
  assert len(keys) == len(set(keys)) == 4
  assert all(r in rows for r in first)

  # A task added to the finished study without training: one stack folder first, then the whole study.
  from jaxdiv import cli
  from jaxdiv.sweep.runner import probe_study
  folders = sorted((tmp_path / "runs").iterdir())
  one = probe_study(str(folders[0]), ["jaxdiv_greek_cyrillic"])
  assert len(one) == 2 and {r.task for r in one} == {"jaxdiv_greek_cyrillic"}
  assert cli.main(["probe", "--workdir", str(tmp_path), "--tasks", "jaxdiv_digits", "jaxdiv_greek_cyrillic"]) == 0
  after = read_rows(str(tmp_path))
  assert all(r in after for r in rows + one)  # nothing redone or rewritten
  added = [r for r in after if r.task == "jaxdiv_greek_cyrillic"]
  assert sorted((r.K, r.n, r.seed) for r in added if r.stage == "sweep") == sorted((r.K, r.n, r.seed) for r in rows)
  assert {r.mode for r in added if r.stage == "baseline"} == {"chance", "random_init"}
  assert probe_study(str(tmp_path), ["jaxdiv_greek_cyrillic"]) == []
  # A prepared TFDS dataset that is not embedded, named with the folder it is prepared in (NAME@DIR).
  from test_image_datasets import _images

  from jaxdiv.data import encoded
  foreign = str(tmp_path / "foreign_tfds")
  encoded.build_encoded_dataset("tiny_grey", foreign, {"train": _images(2, 60, 3, 1), "test": _images(3, 30, 3, 1)},
                                3, channels=1, image_format="png")
  assert cli.main(["probe", "--workdir", str(tmp_path), "--tasks", f"tiny_grey@{foreign}"]) == 0
  grey = [r for r in read_rows(str(tmp_path)) if r.task == "tiny_grey"]
  assert {(r.K, r.seed) for r in grey if r.stage == "sweep"} == {(r.K, r.seed) for r in rows}
  assert {r.mode for r in grey if r.stage == "baseline"} == {"chance", "random_init"}
  assert probe_study(str(tmp_path), [f"tiny_grey@{foreign}"]) == []
  after = [r for r in read_rows(str(tmp_path)) if r.task != "tiny_grey"]

  # Every run's pre-training held-out error is recorded, and a study written before it existed gets the same
  # values filled in from its checkpoints (nothing retrained, every other field untouched).
  trained = [r for r in after if r.stage == "sweep"]
  assert all(r.pretrain_heldout_error is not None and 0 <= r.pretrain_heldout_error <= 1 for r in trained)
  assert all(r.K_eff == pytest.approx(r.K) and r.imbalance == 0 for r in trained)
  import dataclasses

  from jaxdiv.results import rewrite_rows
  rewrite_rows(str(tmp_path), [dataclasses.replace(r, pretrain_heldout_error=None, pretrain_heldout_loss=None)
                               for r in after])
  assert probe_study(str(tmp_path)) == []
  assert read_rows(str(tmp_path)) == after
  from jaxdiv.data import build_source
  from jaxdiv.probe.heldout import pretrain_heldout
  from jaxdiv.train.checkpoint import load_stack
  config = quick_sweep_config()
  trained, source = load_stack(str(folders[0]), config), build_source(config)
  whole, chunked = (pretrain_heldout(trained, source, config.probe.pretrain_heldout_per_class, chunk=chunk)
                    for chunk in (4096, 7))
  assert [h["examples"] for h in whole] == [k * config.probe.pretrain_heldout_per_class for k in
                                            (s.num_classes for s in trained.specs)]
  for a, b in zip(whole, chunked):
    assert a["error"] == b["error"] and a["loss"] == pytest.approx(b["loss"], rel=1e-6)


@pytest.mark.slow  # ~70 s on 2 cores (a kernel runs the quick demo): .ci/run runs it
def test_colab_notebook_runs_the_quick_demo_headless(tmp_path):
  """The notebook top to bottom (quick mode): the study, the table and the figures."""
  import nbformat
  from nbclient import NotebookClient
  notebook = nbformat.read(os.path.join(REPO, "colab", "jaxdiv_demo.ipynb"), as_version=4)
  os.environ["JAXDIV_NOTEBOOK_WORKDIR"] = str(tmp_path / "study")
  try:
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": REPO}}).execute()
  finally:
    os.environ.pop("JAXDIV_NOTEBOOK_WORKDIR")
  outputs = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
  assert "done in" in outputs and "report.md" in outputs
  images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
  assert len(images) == 2
  rows = read_rows(str(tmp_path / "study"))
  assert {r.stage for r in rows} == {"baseline", "sweep", "validate"}
