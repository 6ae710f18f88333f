"""Where a study's wall time goes, and how fast this machine trains a given shape.

`Phases` sums wall seconds by phase (data, compile, train, probe, fit_report) for study.json and the report.
The rates store (`rates.json` in the jaxdiv cache) keeps the images/s, compile seconds and probe images/s
that finished stacks measured, keyed by what sets them (backend, devices, model, resolution, batch, runs
per program), so `--plan` can estimate a study's wall time before it starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import time

PHASES = ("data", "compile", "train", "probe", "fit_report")


@dataclasses.dataclass
class Phases:
  """Wall seconds by phase, summed over every measured block; pass one through a study's calls."""
  seconds: dict = dataclasses.field(default_factory=dict)

  @contextlib.contextmanager
  def measure(self, phase: str):
    start = time.perf_counter()
    try:
      yield
    finally:
      self.add(phase, time.perf_counter() - start)

  def add(self, phase: str, seconds: float) -> None:
    self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

  def rounded(self) -> dict:
    return {name: round(self.seconds[name], 1) for name in PHASES + tuple(sorted(set(self.seconds) - set(PHASES)))
            if name in self.seconds}


def shape_key(config, runs: int, mesh_shape: dict, image_shape) -> str:
  """What a training step's speed depends on: backend and devices, the model, the input, the batch, how
  many runs one program holds and how they sit on the mesh. N and K are left out (pool rows and head
  columns cost next to nothing)."""
  import jax
  device = jax.devices()[0]
  model = config.model
  return (f"{jax.default_backend()}:{device.device_kind}x{len(jax.devices())}|{model.name} {model.stem} "
          f"w{model.width} {model.dtype}|{'x'.join(map(str, image_shape))}|b{config.train.batch_size}|"
          f"runs{runs} mesh{mesh_shape.get('runs', 1)}x{mesh_shape.get('data', 1)}")


def _rates_path() -> str:
  from jaxdiv.io import default_cache_dir
  return os.path.join(default_cache_dir(), "rates.json")


def read_rates() -> dict:
  from jaxdiv import io
  try:
    return io.read_json_if_exists(_rates_path()) or {}
  except ValueError:  # A torn or hand-edited file only costs the estimate its history.
    return {}


def record_rate(key: str, **measured: float) -> None:
  """Append this stack's measurements under `key` (the last 20 are kept; estimates use their median)."""
  from jaxdiv import io
  with io.file_lock(_rates_path() + ".lock"):  # Read, add and write as one step: studies may run side by side.
    rates = read_rates()
    entry = rates.setdefault(key, {})
    for name, value in measured.items():
      if value is not None and value > 0:
        entry[name] = (entry.get(name, []) + [round(float(value), 3)])[-20:]
    io.write_json_atomic(_rates_path(), rates)


def recorded(key: str, name: str) -> float | None:
  """The median of what earlier stacks of this shape measured for `name`, or None."""
  values = read_rates().get(key, {}).get(name)
  return statistics.median(values) if values else None
