"""Many runs in one program: stacked states over a shared image pool, vmapped or mapped over runs.

Each run has its own parameters, optimiser state, PRNG key and subset (K_i, n_i); runs in a stack share
N = K_i·n_i, hence steps per epoch. Heads are padded to max K_i with masked logits (zero-initialised,
so a padded run trains exactly as an unpadded one). BatchNorm never gets an axis name spanning runs.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.data.clusters import clustered_subset
from jaxdiv.data.pipeline import Subset, draw_subset
from jaxdiv.data.sampler import RunSpec
from jaxdiv.train.step import memory_step, step_kwargs, train_step

STRATEGIES = ("vmap", "map", "unroll")


@dataclasses.dataclass(frozen=True)
class TrainedStack:
  """A trained (or restored) stack: its folder, runs, summary (`summary.json`), model and final state,
  every leaf with a leading axis over the runs (a single run is a stack of one)."""
  workdir: str
  specs: tuple[RunSpec, ...]
  summary: dict
  model: Any
  state: Any

  def variables(self) -> dict:
    return {"params": self.state.params, "batch_stats": self.state.batch_stats}


def run_specs(config) -> list[RunSpec]:
  """The config's `runs` list (each entry may leave out fields, taken from `data`/`seed`)."""
  data = config.data
  return [RunSpec(int(run.get("num_classes", data.num_classes)), int(run.get("per_class", data.per_class)),
                  int(run.get("seed", config.seed)), str(run.get("mode", "class")),
                  float(run.get("imbalance", data.imbalance))) for run in config.runs]


@dataclasses.dataclass(frozen=True)
class Stack:
  """Runs over one pool: `positions[i, j]` is the pool row of run i's j-th example."""
  pool_indices: np.ndarray   # (P,) source indices, each image once
  positions: np.ndarray      # (M, N) int32
  labels: np.ndarray         # (M, N) int32, contiguous per run
  num_classes: np.ndarray    # (M,) int32


def chunk_name(specs: list[RunSpec]) -> str:
  """A readable folder name for a stack, hashed when it would be too long for a file system."""
  import hashlib
  name = "+".join(s.name for s in specs)
  if len(name) <= 120:
    return name
  return f"{specs[0].name}+{len(specs) - 1}more_{hashlib.sha1(name.encode()).hexdigest()[:10]}"


def stack_subsets(subsets: list[Subset]) -> Stack:
  sizes = {len(s.indices) for s in subsets}
  if len(sizes) != 1:
    raise ValueError(f"runs in one stack must share N = K·n (steps per epoch), got sizes {sorted(sizes)}; "
                     "split them into stacks of equal N")
  pool_indices, inverse = np.unique(np.concatenate([s.indices for s in subsets]), return_inverse=True)
  positions = inverse.reshape(len(subsets), -1).astype(np.int32)
  return Stack(pool_indices, positions, np.stack([s.labels for s in subsets]).astype(np.int32),
               np.array([s.num_classes for s in subsets], np.int32))


def draw_run_subset(source, spec: RunSpec, subset_seed: int = -1, featurize=None, sample_classes: int = 0
                    ) -> Subset:
  """A run's subset, drawn with its own seed (nested in K and n) unless `subset_seed` fixes one for all;
  `featurize` is the space the contrast case clusters in (`embed.cluster_featurizer`; None: pixels) and
  `sample_classes` how many classes its sample holds (`cluster.sample_classes`; 0: the whole pool)."""
  seed = spec.seed if subset_seed < 0 else subset_seed
  if spec.mode == "cluster":
    if spec.imbalance:
      raise ValueError("the k-means contrast draws N samples and labels them by cluster: it has no class "
                       "imbalance; use imbalance 0 for mode 'cluster'")
    return clustered_subset(source, spec.num_classes * spec.per_class, spec.num_classes, seed, featurize,
                            sample_classes)
  if spec.mode != "class":
    raise ValueError(f"run mode must be 'class' or 'cluster', got {spec.mode!r}")
  return draw_subset(source, spec.num_classes, spec.per_class, seed, imbalance=spec.imbalance)


def draw_stack(source, specs: list[RunSpec], subset_seed: int = -1, featurize=None, sample_classes: int = 0
               ) -> Stack:
  return stack_subsets([draw_run_subset(source, s, subset_seed, featurize, sample_classes) for s in specs])


def default_strategy(backend: str | None = None) -> str:
  """Picked from bench/multi_run.py's tables. On CPU a vmapped conv lowers to a slow grouped conv
  (0.2× sequential) and convs inside `lax.map`'s loop were 20× slower still, while one traced copy per run,
  one run per single-threaded host device (`jaxdiv.runtime`), ran at 1.5× sequential on 2 cores. On GPU,
  vmap fills the chip with many small runs."""
  return "unroll" if (backend or jax.default_backend()) == "cpu" else "vmap"


def wave_size(strategy: str) -> int:
  """Runs per program for `unroll`: one per device (a wave). Two or more unrolled runs per single-threaded
  device gave back the whole gain of the second core (bench/multi_run.py); 0 for other strategies, whose
  stacks are sized by memory."""
  return len(jax.devices()) if strategy == "unroll" else 0


def resolve_strategy(config) -> str:
  """`multi.strategy`, with "auto" replaced by the backend's default."""
  return config.multi.strategy if config.multi.strategy != "auto" else default_strategy()


def over_runs(fn, strategy: str, spmd_axis_name: str | None = None):
  """`fn` applied to each run's slice of stacked arguments (leading axis), stacked back, by `strategy`:
  vmap batches runs into every op; map loops over them; unroll traces one copy of `fn` per run."""
  if strategy == "vmap":
    return jax.vmap(fn, spmd_axis_name=spmd_axis_name)
  if strategy == "map":
    return lambda *args: jax.lax.map(lambda run: fn(*run), args)
  if strategy != "unroll":
    raise ValueError(f"multi.strategy must be one of {STRATEGIES} or 'auto', got {strategy!r}")

  def unrolled(*args):
    outs = [fn(*jax.tree.map(lambda x, i=i: x[i], args)) for i in range(jax.tree.leaves(args)[0].shape[0])]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)
  return unrolled


def shard_over_runs(mapped, strategy: str, mesh: jax.sharding.Mesh, in_specs, out_specs):
  """`mapped` (already mapped over runs by `over_runs`) inside `shard_map` over the mesh's `runs` axis when
  unroll/map has several devices there, so each device computes only its own runs (one per device in a CPU
  wave); vmap is partitioned by its `spmd_axis_name` instead."""
  if strategy == "vmap" or mesh.shape["runs"] == 1:
    return mapped
  return jax.shard_map(mapped, mesh=mesh, in_specs=in_specs, out_specs=out_specs, axis_names={"runs"},
                       check_vma=False)


@functools.lru_cache(maxsize=32)
def compiled_program(jitted, treedef, avals: tuple):
  """`jitted` lowered and compiled for abstract arguments (shape, dtype, sharding): one executable per
  program and shapes, reused by every wave, seed and stage that matches. Called through `compile_for`."""
  return jitted.lower(*jax.tree.unflatten(treedef, avals)).compile()


def compile_for(jitted, *args):
  """The compiled executable of `jitted` for these arguments' shapes, dtypes and shardings."""
  leaves, treedef = jax.tree.flatten(args)
  avals = tuple(jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)) for x in leaves)
  return compiled_program(jitted, treedef, avals)


def stacked_step(train_config, data_config, model, optimizer, strategy: str, mesh: jax.sharding.Mesh):
  """One jitted step of every run in a stack over a device-resident image pool: states, positions and
  labels sharded over the `runs` axis, each run's batch over `data`."""
  if strategy not in STRATEGIES:
    raise ValueError(f"multi.strategy must be one of {STRATEGIES} or 'auto', got {strategy!r}")
  data_sharding = jax.NamedSharding(mesh, jax.P("data")) if mesh.shape["data"] > 1 else None
  single = functools.partial(memory_step, batch_size=train_config.batch_size, batch_sharding=data_sharding,
                             **step_kwargs(train_config, data_config, model, optimizer))

  def mapped(states, pool, positions, labels, num_classes):
    per_run = lambda state, run_positions, run_labels, k: single(state, pool, run_positions, run_labels, k)
    return over_runs(per_run, strategy, "runs" if strategy == "vmap" else None)(states, positions, labels,
                                                                                   num_classes)
  spec = jax.P("runs")
  step = shard_over_runs(mapped, strategy, mesh, (spec, jax.P(), spec, spec, spec), (spec, spec))
  runs, replicated = jax.NamedSharding(mesh, jax.P("runs")), jax.NamedSharding(mesh, jax.P())
  return jax.jit(step, in_shardings=(runs, replicated, runs, runs, runs), out_shardings=(runs, runs),
                 donate_argnums=0)


def streamed_step(train_config, data_config, model, optimizer, mesh: jax.sharding.Mesh):
  """One jitted step of a stack of one run on a host-fed global batch (Grain), sharded over `data`:
  the streaming input of the same trainer, for subsets too large for device memory."""
  if mesh.shape["runs"] != 1:
    raise ValueError("a streamed stack holds one run; set mesh.runs=1")
  batch = jax.NamedSharding(mesh, jax.P("data"))
  single = functools.partial(train_step, batch_sharding=batch, **step_kwargs(train_config, data_config, model,
                                                                                optimizer))

  def mapped(states, images, labels, num_classes):
    return over_runs(lambda state, k: single(state, images, labels, k), "unroll")(states, num_classes)
  runs = jax.NamedSharding(mesh, jax.P("runs"))
  return jax.jit(mapped, in_shardings=(runs, batch, batch, runs), out_shardings=(runs, runs), donate_argnums=0)


def make_mesh(num_runs: int, runs_axis: int = 0, data_axis: int = 0, devices=None) -> jax.sharding.Mesh:
  """A (runs, data) mesh: as many devices on `runs` as divide the stack, the rest on `data`."""
  devices = list(devices or jax.devices())
  if not runs_axis:
    runs_axis = max(d for d in range(1, len(devices) + 1) if len(devices) % d == 0 and num_runs % d == 0)
  data_axis = data_axis or len(devices) // runs_axis
  if runs_axis * data_axis > len(devices) or num_runs % runs_axis:
    raise ValueError(f"mesh runs={runs_axis} × data={data_axis} does not fit {len(devices)} devices and "
                     f"{num_runs} runs; runs must divide the stack")
  auto = (jax.sharding.AxisType.Auto,) * 2
  return jax.make_mesh((runs_axis, data_axis), ("runs", "data"), axis_types=auto,
                       devices=devices[:runs_axis * data_axis])


def _memory_budget_bytes() -> int:
  device = jax.devices()[0]
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and "bytes_limit" in stats:
    return int(0.7 * stats["bytes_limit"]) * len(jax.local_devices())
  return int(0.4 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def per_run_bytes(single_step, state, pool, positions, labels, num_classes) -> int:
  """One run's footprint from XLA's memory analysis of its compiled step (arguments, outputs, temporaries)."""
  analysis = single_step.lower(state, pool, positions, labels, num_classes).compile().memory_analysis()
  if analysis is None:
    return 0
  pool_bytes = pool.size * pool.dtype.itemsize
  return max(1, int(analysis.argument_size_in_bytes - pool_bytes + analysis.output_size_in_bytes
                    + analysis.temp_size_in_bytes))


def chunk_size(num_runs: int, run_bytes: int, cap: int = 0, budget_bytes: int | None = None) -> int:
  """How many runs one program holds: the config cap, else what fits the memory budget."""
  budget = _memory_budget_bytes() if budget_bytes is None else budget_bytes
  fit = num_runs if run_bytes <= 0 else max(1, budget // run_bytes)
  return max(1, min(num_runs, fit, cap or num_runs))
