"""Determinism of the train step on this backend, on synthetic data (no fonts needed).

Reports whether two runs with the same seed end bitwise equal, and whether a run checkpointed with
Orbax at the midpoint, restored into a fresh process state and continued ends bitwise equal to an
uninterrupted run (max |difference| otherwise).
"""

import tempfile

import jax
import numpy as np

from jaxdiv.models import build_model
from jaxdiv.train import checkpoint, multi
from jaxdiv.train.config import base_config
from jaxdiv.train.state import create_state, make_optimizer


def main(steps: int = 40):
  config = base_config()
  config.model.width = 16
  mesh = multi.make_mesh(1, 1, 1)  # the trainer's single run: a stack of one on one device
  rng = np.random.default_rng(0)
  pool = rng.integers(0, 255, (2048, 24, 24, 1), np.uint8)
  args = (pool, np.arange(2048, dtype=np.int32)[None], rng.integers(0, 100, (1, 2048)).astype(np.int32),
          np.array([100], np.int32))
  model = build_model(config.model, 100)
  optimizer = make_optimizer(config.train, steps)
  step = multi.stacked_step(config.train, config.data, model, optimizer, "unroll", mesh)
  fresh = lambda: jax.tree.map(lambda x: x[None], create_state(model, optimizer, jax.random.key(0), pool.shape[1:]))

  def train(state, count):
    for _ in range(count):
      state, _ = step(state, *args)
    return jax.device_get(state.params)

  a, b = train(fresh(), steps), train(fresh(), steps)
  with tempfile.TemporaryDirectory() as workdir:
    manager = checkpoint.open_manager(workdir, 2)
    state = fresh()
    for _ in range(steps // 2):
      state, _ = step(state, *args)
    checkpoint.save(manager, state)
    manager.wait_until_finished()
    restored = checkpoint.restore_latest(manager, fresh())
    manager.close()
    c = train(restored, steps - steps // 2)
  diff = lambda x, y: max(float(np.max(np.abs(p - q))) for p, q in zip(jax.tree.leaves(x), jax.tree.leaves(y)))
  print(f"# {jax.default_backend()} {jax.devices()[0].device_kind}, jax {jax.__version__}, {steps} steps, width 16")
  print(f"same seed twice: bitwise equal = {diff(a, b) == 0.0} (max |diff| {diff(a, b):.3g})")
  print(f"checkpoint at {steps // 2} + resume vs uninterrupted: bitwise equal = {diff(a, c) == 0.0} "
        f"(max |diff| {diff(a, c):.3g})")


if __name__ == "__main__":
  main()
