"""Host devices per core, the compilation cache, phase times and the wall-time estimate of --plan."""

import json
import os
import subprocess
import sys

import pytest

from jaxdiv import runtime, timing


def test_one_single_threaded_device_per_core_unless_the_user_chose():
  flags = runtime.cpu_device_flags({}, cores=4)
  assert flags == "--xla_force_host_platform_device_count=4 --xla_cpu_multi_thread_eigen=false"
  assert runtime.cpu_device_flags({"XLA_FLAGS": "--xla_dump_to=/tmp/x"}, cores=2).startswith("--xla_dump_to=/tmp/x ")
  assert runtime.cpu_device_flags({"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}, cores=2) is None
  assert runtime.cpu_device_flags({"JAXDIV_CPU_DEVICES": "0"}, cores=2) is None
  assert runtime.cpu_device_flags({"JAXDIV_CPU_DEVICES": "3"}, cores=2).startswith(f"{runtime.COUNT_FLAG}=3 ")
  assert runtime.cpu_device_flags({}, cores=1) is None


def test_importing_jaxdiv_gives_jax_one_device_per_core():
  """In a fresh process: the package sets the flags before JAX starts, and says so; the user's count wins."""
  code = ("import jaxdiv, jax; from jaxdiv.runtime import describe_cpu_devices; "
          "print(len(jax.devices()), describe_cpu_devices())")
  env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAXDIV_CPU_DEVICES")}
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
  cores = runtime.available_cores()
  if cores > 1:
    assert out.startswith(f"{cores} {cores} host devices, single-threaded each (jaxdiv's default")
  env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=3"
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
  assert out.startswith("3 3 host devices, multi-threaded each (set by XLA_FLAGS")


def test_compilation_cache_location_and_switch(tmp_path):
  assert runtime.compilation_cache_dir({"JAXDIV_COMPILATION_CACHE": "off"}) is None
  assert runtime.compilation_cache_dir({"JAXDIV_COMPILATION_CACHE": str(tmp_path)}) == str(tmp_path)
  assert runtime.compilation_cache_dir({}).endswith(os.path.join("", "compile"))


def test_phases_sum_by_name():
  phases = timing.Phases()
  with phases.measure("train"):
    pass
  phases.add("train", 2.0)
  phases.add("custom", 1.0)
  assert phases.seconds["train"] >= 2.0 and list(phases.rounded()) == ["train", "custom"]


def _demo_plan():
  from jaxdiv.configs.demo import get_config
  from jaxdiv.study import plan_study
  config = get_config()
  return config, plan_study(config)


def test_plan_groups_runs_into_waves_and_prices_them_from_recorded_rates():
  import jax

  from jaxdiv.sweep.estimate import estimate_study, programs
  config, plan = _demo_plan()
  waves = programs(config, plan)
  devices = len(jax.devices())
  trained = [p for p in plan if p["stage"] != "baseline"]
  assert sum(w["runs"] for w in waves) == len(trained)
  assert all(w["runs"] <= devices for w in waves)
  for key in {w["key"] for w in waves}:
    timing.record_rate(key, images_per_second=1000.0, compile_seconds=10.0, probe_images_per_second=5000.0)
  estimate = estimate_study(config, plan, measure=False)
  images = sum(p["steps"] * config.train.batch_size for p in trained)
  probed = len(trained) * len(config.probe.tasks) * (config.probe.max_train + config.probe.max_test)
  assert estimate["phases_seconds"]["train"] == pytest.approx(images / 1000.0, rel=1e-3)
  assert estimate["phases_seconds"]["probe"] == pytest.approx(probed / 5000.0, rel=1e-3)
  # One program per (N, step budget, runs per wave): sweep, contrast and validation at one N share theirs.
  programs_expected = {(w["N"], w["steps"], w["runs"]) for w in waves}
  assert estimate["programs"] == len(programs_expected)
  assert estimate["phases_seconds"]["compile"] == pytest.approx(10.0 * len(programs_expected))
  assert set(estimate["rates"].values()) == {"recorded"} and not estimate["unpriced_shapes"]


@pytest.mark.slow  # 20 s on 2 cores: .ci/run runs it
def test_plan_times_a_shape_no_run_recorded(tmp_path, monkeypatch):
  """With an empty cache --plan compiles and times a few steps of each shape instead."""
  from jaxdiv.configs.demo import get_config
  from jaxdiv.study import plan_study
  from jaxdiv.sweep.estimate import estimate_study
  monkeypatch.setenv("JAXDIV_CACHE", str(tmp_path))
  config = get_config("quick")
  config.multi.max_runs_per_chunk = 1  # one-run waves: the cheapest program to compile and time
  estimate = estimate_study(config, plan_study(config))
  assert set(estimate["rates"].values()) == {"timed steps"}
  assert estimate["phases_seconds"]["train"] > 0 and estimate["phases_seconds"]["compile"] > 0
  assert "fit and report" in estimate["excludes"]
  assert not os.path.exists(tmp_path / "rates.json")  # timed steps are not mistaken for a run's rate
  json.dumps(estimate)
