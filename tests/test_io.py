"""Workdir files through etils.epath: a gs:// workdir reaches the (fake) bucket and never a local `gs:` folder."""

import json
import os

import pytest
from etils.epath import testing as epath_testing

from jaxdiv import io


@pytest.fixture
def fake_gcs(tmp_path, monkeypatch):
  """gs://... paths served from tmp_path/bucket by a mocked epath backend, which has no atomic rename
  (`replace` copies then deletes, as on an object store); the test runs in an empty working directory."""
  root = tmp_path / "bucket"
  cwd = tmp_path / "cwd"
  cwd.mkdir()
  monkeypatch.chdir(cwd)
  calls = []

  def local(path):  # JAX's compilation cache also reads through epath: local paths pass unchanged
    path = os.fspath(path)
    return str(root / path.removeprefix("gs://")) if path.startswith("gs://") else path

  def redirect(name):
    def call(original, path, *args, **kwargs):
      calls.append((name, os.fspath(path)))
      return original(local(path), *args, **kwargs)
    return call

  def copy_then_delete(original, path, dst, *args, **kwargs):
    calls.append(("replace", os.fspath(path)))
    with open(local(path), "rb") as f:
      data = f.read()
    with open(local(dst), "wb") as f:
      f.write(data)
    os.remove(local(path))

  names = ("open", "exists", "isdir", "listdir", "glob", "makedirs", "mkdir", "remove", "rmtree", "stat")
  with epath_testing.mock_epath(replace=copy_then_delete, rename=copy_then_delete,
                                **{name: redirect(name) for name in names}):
    yield root, cwd, calls


def test_atomic_writes_reads_and_appends_reach_the_bucket(fake_gcs):
  root, cwd, calls = fake_gcs
  io.write_json_atomic("gs://b/runs/x/fit.json", {"a": 1})
  assert io.exists("gs://b/runs/x/fit.json") and io.read_json("gs://b/runs/x/fit.json") == {"a": 1}
  io.write_text_atomic("gs://b/runs/x/fit.json", "[2]")
  assert io.read_json("gs://b/runs/x/fit.json") == [2]
  io.append_text("gs://b/runs/x/log.jsonl", "1\n")
  io.append_text("gs://b/runs/x/log.jsonl", "2\n")
  assert (root / "b/runs/x/log.jsonl").read_text() == "1\n2\n"
  assert sorted(p.name for p in (root / "b/runs/x").iterdir()) == ["fit.json", "log.jsonl"]  # no temporaries
  assert any(name == "replace" and "/.fit.json.tmp." in path for name, path in calls)  # write, then rename
  assert io.read_json_if_exists("gs://b/runs/x/none.json") is None
  assert list(cwd.iterdir()) == []


def test_a_gs_workdir_holds_the_results_table_config_metrics_fit_and_report(fake_gcs, tmp_path):
  from jaxdiv.report import write_report
  from jaxdiv.results import ResultRow, append_rows, read_rows
  from jaxdiv.study.files import fit_study
  from jaxdiv.train.config import base_config
  from jaxdiv.train.loop import MetricsWriter
  from jaxdiv.train.pretrain import ConfigMismatchError, check_workdir_config
  root, cwd, _ = fake_gcs
  workdir = "gs://bucket-name/runs/study"
  config = base_config()
  check_workdir_config(workdir, config, write=True)
  config.train.learning_rate = 1.0
  with pytest.raises(ConfigMismatchError, match="learning_rate"):
    check_workdir_config(workdir, config)

  rows = [ResultRow(task=t, N=64, K=k, n=64 // k, seed=s, error=0.5 - 0.1 * (k == 8) + 0.01 * s,
                    train_accuracy=1.0)
          for t in ("a", "b") for k in (2, 4, 8, 16, 32) for s in (0, 1)]
  append_rows(workdir, rows[:10])
  append_rows(workdir, rows[10:])
  assert read_rows(workdir) == rows
  fit_study(workdir, replicates=4)
  report = write_report(workdir)
  assert report == f"{workdir}/report/report.md" and io.exists(report)

  writer = MetricsWriter(workdir, resumed_step=0)
  writer.write({"step": 1, "loss": 2.0})
  writer.write({"step": 2, "loss": 1.0})
  writer.close()
  MetricsWriter(workdir, resumed_step=1).close()  # a resume from step 1 drops the later row
  assert [json.loads(line)["step"] for line in io.read_text(f"{workdir}/metrics.jsonl").splitlines()] == [1]

  bucket = root / "bucket-name/runs/study"
  assert {"config.json", "results.jsonl", "fit.json", "metrics.jsonl", "report"} <= {p.name for p in bucket.iterdir()}
  assert any(p.suffix == ".png" for p in (bucket / "report").iterdir())
  assert not any(p.name.startswith("gs:") for p in cwd.rglob("*")), "a local gs: folder was created"


def test_local_writes_are_atomic_renames(tmp_path):
  path = tmp_path / "a" / "b.json"
  io.write_json_atomic(str(path), [1, 2])
  assert json.loads(path.read_text()) == [1, 2] and os.listdir(path.parent) == ["b.json"]


def test_a_corrupt_results_line_names_the_file_the_line_and_the_fix(tmp_path):
  from jaxdiv.results import CorruptResultsError, ResultRow, append_rows, read_rows
  row = ResultRow(task="digits", N=8, K=2, n=4, seed=0, mode="class", error=0.5, probe="ridge", stage="sweep")
  append_rows(str(tmp_path), [row, row])
  path = tmp_path / "results.jsonl"
  lines = path.read_text().splitlines()
  path.write_text("\n".join([lines[0], lines[1][:20]]) + "\n")  # a truncated second line
  with pytest.raises(CorruptResultsError, match=r"results\.jsonl, line 2, .*Fix or delete that line"):
    read_rows(str(tmp_path))


def test_copy_rows_copies_the_named_rows_once_and_keeps_the_rest(tmp_path):
  """scripts/copy_rows.py: the rows of the stages, modes and budgets named join the target; run twice, the
  target holds each row once; cluster rows and other budgets stay behind."""
  import importlib.util
  import pathlib

  from jaxdiv.results import ResultRow, append_rows, read_rows
  spec = importlib.util.spec_from_file_location(
      "copy_rows", pathlib.Path(__file__).parents[1] / "scripts" / "copy_rows.py")
  copy_rows = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(copy_rows)
  row = lambda mode, total, k, stage="sweep", task="a": ResultRow(
      task=task, N=total, K=k, n=total // k if k else 0, seed=0, error=0.4, mode=mode, stage=stage)
  source = [row("chance", 0, 0, "baseline"), row("class", 64, 8), row("class", 64, 8, task="b"),
            row("cluster", 64, 8), row("class", 128, 8)]
  append_rows(str(tmp_path / "source"), source)
  target = str(tmp_path / "target")
  append_rows(target, [row("class", 64, 8)])  # already there: not copied again
  for _ in range(2):
    rows = copy_rows.rows_to_copy(read_rows(str(tmp_path / "source")), read_rows(target),
                                  {"baseline", "sweep"}, {"class", "chance"}, {64})
    append_rows(target, rows) if rows else None
  held = read_rows(target)
  assert sorted((r.mode, r.N, r.task) for r in held) == [("chance", 0, "a"), ("class", 64, "a"), ("class", 64, "b")]
