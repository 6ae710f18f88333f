"""ResNet-18, the sharded train step, checkpoint/resume, preemption, NaN stop and config errors."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import restore_run, tiny_train_config

from jaxdiv.models import ResNet18, build_model, count_params
from jaxdiv.train import apply_overrides, base_config, load_config, multi, pretrain
from jaxdiv.train.checkpoint import CheckpointError
from jaxdiv.train.loop import NonFiniteLossError
from jaxdiv.train.pretrain import ConfigMismatchError
from jaxdiv.train.state import create_state, decay_mask, learning_rate_schedule, make_optimizer
from jaxdiv.train.step import masked_cross_entropy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_resnet18_matches_torchvision_parameter_count():
  model = ResNet18(1000, stem="imagenet", width=64)
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 224, 224, 3))))
  assert count_params(variables["params"]) == 11_689_512


def test_small_stem_keeps_resolution_and_exposes_features():
  model = ResNet18(10, stem="small", width=4)
  variables = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))
  assert variables["params"]["stem_conv"]["kernel"].shape == (3, 3, 1, 4)
  features = jax.jit(lambda v, x: model.apply(v, x, features_only=True))(variables, jnp.ones((3, 32, 32, 1)))
  assert features.shape == (3, 32)
  assert np.all(np.asarray(variables["params"]["head"]["kernel"]) == 0)  # zero head: padding-safe


def test_masked_loss_equals_unpadded_loss():
  logits = jax.random.normal(jax.random.key(0), (6, 5))
  labels = jnp.array([0, 1, 2, 3, 4, 0])
  padded = jnp.concatenate([logits, 50 * jnp.ones((6, 3))], axis=1)
  for smoothing in (0.0, 0.1):
    loss, acc = masked_cross_entropy(logits, labels, 5, smoothing)
    padded_loss, padded_acc = masked_cross_entropy(padded, labels, 5, smoothing)
    np.testing.assert_allclose(loss, padded_loss, rtol=1e-6)
    assert acc == padded_acc


def test_optimiser_decays_kernels_only_and_schedule_warms_then_decays():
  params = jax.eval_shape(ResNet18(3, width=4).init, jax.random.key(0), jnp.zeros((1, 8, 8, 1)))["params"]
  mask = decay_mask(params)
  assert mask["head"]["kernel"] and not mask["head"]["bias"] and not mask["stem_norm"]["scale"]
  train = base_config().train
  train.warmup_fraction, train.learning_rate = 0.1, 0.2
  schedule = learning_rate_schedule(train, 100)
  assert float(schedule(0)) == 0 and abs(float(schedule(10)) - 0.2) < 1e-6 and float(schedule(100)) < 1e-6
  train.optimizer = "adamw"
  assert isinstance(make_optimizer(train, 10), optax.GradientTransformation)


def _steps_on_mesh(config, num_devices, pool, labels, steps=3):
  """The trainer's step for a single run (a stack of one) on a (runs=1, data=num_devices) mesh."""
  mesh = multi.make_mesh(1, 1, num_devices)
  model = build_model(config.model, 5)
  optimizer = make_optimizer(config.train, 10)
  runs, replicated = jax.NamedSharding(mesh, jax.P("runs")), jax.NamedSharding(mesh, jax.P())
  state = jax.device_put(jax.tree.map(lambda x: x[None], create_state(model, optimizer, jax.random.key(0),
                                                                       pool.shape[1:])), runs)
  step = multi.stacked_step(config.train, config.data, model, optimizer, "unroll", mesh)
  args = [jax.device_put(pool, replicated)] + [jax.device_put(x[None], runs) for x in (
      np.arange(len(pool), dtype=np.int32), labels, np.int32(5))]
  for _ in range(steps):
    state, metrics = step(state, *args)
  return jax.device_get(jax.tree.map(lambda x: x[0], state.params)), float(metrics["loss"][0])


def test_sharded_step_equals_single_device_step():
  assert jax.device_count() == 8
  config = tiny_train_config()
  rng = np.random.default_rng(0)
  pool = rng.integers(0, 255, (64, 16, 16, 1), dtype=np.uint8)
  labels = rng.integers(0, 5, 64).astype(np.int32)
  one, loss_one = _steps_on_mesh(config, 1, pool, labels)
  eight, loss_eight = _steps_on_mesh(config, 8, pool, labels)
  np.testing.assert_allclose(loss_one, loss_eight, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(eight)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def test_config_file_and_overrides():
  config = load_config(os.path.join(REPO, "configs", "glyphs_resnet18.py") + ":K=40,n=10,width=16")
  assert (config.data.num_classes, config.data.per_class, config.model.width) == (40, 10, 16)
  apply_overrides(config, ["--config.train.learning_rate=0.3", "config.model.stem=imagenet"])
  assert config.train.learning_rate == 0.3 and config.model.stem == "imagenet"
  with pytest.raises(ValueError, match="unknown config field"):
    apply_overrides(config, ["train.lerning_rate=0.1"])
  imagenet = load_config(os.path.join(REPO, "configs", "imagenet_resnet18.py") + ":K=100,n=50")
  assert imagenet.model.stem == "imagenet" and imagenet.data.resolution == 224


def test_bad_configs_give_clear_errors(tmp_path):
  with pytest.raises(ValueError, match="source has only"):
    pretrain(tiny_train_config(**{"data.num_classes": 100000}), str(tmp_path / "a"))
  with pytest.raises(ValueError, match="divisible by the 8 devices"):
    pretrain(tiny_train_config(**{"mesh.data": 0, "train.batch_size": 12}), str(tmp_path / "b"))
  with pytest.raises(ValueError, match="per_class|samples"):
    pretrain(tiny_train_config(**{"data.per_class": 5000}), str(tmp_path / "c"))


def test_pretrain_end_to_end_resumes_and_refuses_other_configs(tmp_path):
  config = tiny_train_config(**{"mesh.data": 0})  # data-parallel over all 8 simulated devices
  summary = pretrain(config, str(tmp_path))
  assert summary["devices"] == 8 and summary["steps"] == 12
  rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
  assert rows[-1]["step"] == 12 and np.isfinite(rows[-1]["loss"])
  assert os.listdir(tmp_path / "tensorboard")
  assert int(restore_run(str(tmp_path), config).step) == 12
  from jaxdiv.probe.runs import probe_workdir  # `jaxdiv probe --workdir`: ridge probe of the final checkpoint
  (row,) = probe_workdir(str(tmp_path), ["jaxdiv_digits"], ["ridge"])
  assert (row.K, row.n, row.stage, row.steps) == (8, 8, "probe", 12) and 0.1 < row.accuracy <= 1.0
  assert json.load(open(tmp_path / "probe.json")) == [row.to_dict()]
  with pytest.raises(ConfigMismatchError, match="data.per_class"):
    pretrain(tiny_train_config(**{"data.per_class": 9, "mesh.data": 0}), str(tmp_path))


def test_corrupt_checkpoint_falls_back_loudly_or_errors(tmp_path, caplog):
  config = tiny_train_config()
  pretrain(config, str(tmp_path))
  steps = sorted(int(s) for s in os.listdir(tmp_path / "checkpoints") if s.isdigit())
  assert steps == [8, 12]
  def corrupt(step):
    for root, _, files in os.walk(tmp_path / "checkpoints" / str(step) / "state"):
      for name in files:
        with open(os.path.join(root, name), "wb") as f:
          f.write(b"garbage")
  corrupt(12)
  with caplog.at_level("WARNING"):
    state = restore_run(str(tmp_path), config)
  assert int(state.step) == 8 and "OLDER CHECKPOINT" in caplog.text
  corrupt(8)
  with pytest.raises(CheckpointError, match="no readable checkpoint"):
    restore_run(str(tmp_path), config)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = tiny_train_config(**{"train.learning_rate": 1e30, "train.warmup_fraction": 0.0, "train.steps": 40})
  with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
    pretrain(config, str(tmp_path))
  saved = [int(s) for s in os.listdir(tmp_path / "checkpoints") if s.isdigit()]
  for step in saved:
    state = restore_run(str(tmp_path), config)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(jax.device_get(state.params))), step


CHILD = textwrap.dedent("""
  import os, sys, time
  sys.path.insert(0, {tests!r})
  from conftest import restore_run, tiny_train_config
  from jaxdiv.train import pretrain
  from jaxdiv.train import loop
  original = loop.checkpoint.save
  def slow_save(*args, **kwargs):  # Slow the run down so the parent can kill it between checkpoints.
    original(*args, **kwargs)
    args[0].wait_until_finished()
    open(os.path.join({workdir!r}, "saved"), "a").write("x")
    time.sleep(0.5)
  loop.checkpoint.save = slow_save
  pretrain(tiny_train_config(**{{"train.steps": 24}}), {workdir!r})
""")


def _spawn(workdir):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  code = CHILD.format(tests=os.path.join(REPO, "tests"), workdir=str(workdir))
  return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for_saves(workdir, count, process, timeout=240):
  start = time.time()
  while time.time() - start < timeout and process.poll() is None:
    if os.path.exists(workdir / "saved") and len(open(workdir / "saved").read()) >= count:
      return
    time.sleep(0.05)
  raise AssertionError(f"child made no {count} checkpoints: {process.communicate()[0][-2000:]}")


@pytest.mark.parametrize("signum", [signal.SIGKILL, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_killed_run_resumes_to_identical_parameters(tmp_path, signum):
  reference = tmp_path / "reference"
  pretrain(tiny_train_config(**{"train.steps": 24}), str(reference))
  killed = tmp_path / "killed"
  killed.mkdir()
  process = _spawn(killed)
  _wait_for_saves(killed, 2, process)
  process.send_signal(signum)
  output = process.communicate(timeout=120)[0].decode()
  if signum == signal.SIGTERM:
    assert "stopped by SIGTERM" in output and process.returncode != 0
  saved = sorted(int(s) for s in os.listdir(killed / "checkpoints") if s.isdigit())
  assert saved and saved[-1] < 24
  pretrain(tiny_train_config(**{"train.steps": 24}), str(killed))
  config = tiny_train_config(**{"train.steps": 24})
  a, b = restore_run(str(reference), config), restore_run(str(killed), config)
  assert int(a.step) == int(b.step) == 24
  for x, y in zip(jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b))):
    np.testing.assert_array_equal(x, y)  # bitwise on CPU


def test_streaming_pipeline_resumes_grain_state_exactly(tmp_path):
  """The Grain path over 8 devices: resuming from a mid-run checkpoint replays the same batches."""
  import shutil
  config = tiny_train_config(**{"data.pipeline": "stream", "data.prefetch_threads": 0, "mesh.data": 0,
                                "train.steps": 8})
  full = pretrain(config, str(tmp_path / "full"))
  assert full["pipeline"] == "stream"
  shutil.copytree(tmp_path / "full", tmp_path / "resumed")
  shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "8")
  pretrain(config, str(tmp_path / "resumed"))
  a, b = restore_run(str(tmp_path / "full"), config), restore_run(str(tmp_path / "resumed"), config)
  assert int(b.step) == 8
  for x, y in zip(jax.tree.leaves(jax.device_get(a.params)), jax.tree.leaves(jax.device_get(b.params))):
    np.testing.assert_array_equal(x, y)
