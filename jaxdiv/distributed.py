"""Many processes, one study: joining a pod, reading global arrays on every host, one writer, barriers.

On a pod (or several processes on one machine) every process runs the same program on its share of a
global mesh. Values it needs as NumPy (metrics, probe features) are gathered from all hosts first; files
shared by all processes are written by process 0 alone, and `barrier` keeps the others from reading
them before they are there.
"""

from __future__ import annotations

import jax
import numpy as np


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Join the other processes (`jax.distributed.initialize`). Cloud TPU pods and SLURM/GPU clusters
  find each other with no arguments; elsewhere (e.g. two processes on localhost) give all three. CPU
  processes exchange collectives through Gloo, JAX's default for CPU.

  The backend is started at once: its start is a barrier (every process publishes its devices, with a
  two-minute timeout), and leaving it to the first JAX call let one process wait there while another
  was still building data (a glyph design index), until it timed out."""
  jax.distributed.initialize(coordinator, num_processes, process_id)
  jax.devices()


def is_writer() -> bool:
  """True on the process that writes shared files: process 0 (the only one off a pod)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Every process waits here until all reach `name` (e.g. after the writer wrote a file all will read)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def host_value(tree):
  """`tree`'s global arrays as NumPy on every process, gathered from all hosts when they span several."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils

  def gather(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
  return jax.tree.map(gather, tree)
