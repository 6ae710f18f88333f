"""Throughput of M stacked runs against M sequential runs, per strategy, at the demo model size.

  python bench/multi_run.py [--runs 1 4 8 16] [--width 16] [--resolution 24] [--batch 64]
  python -m bench.multi_run --runs 1 2 12 --width 8 --resolution 20 --strategies sequential unroll unroll/cores
      # the demo's shapes: its old stacks of 12 runs on one device against waves of a run per core
      # (M = 1 under unroll/cores: one run data-parallel over the cores, a partial wave)

Strategies: `sequential` (M separately jitted single-run steps, the peer), `vmap` (one program, runs
batched: XLA lowers the convs to grouped convs), `map` (one program, `lax.map` over runs), and on CPU
`unroll/cores` / `map/cores` (jaxdiv's CPU default: one single-threaded host device per core, the runs
axis of the library's mesh spread over them, leftover devices on the data axis). The others run on one
device with every thread (`JAXDIV_CPU_DEVICES=0`). Each row is the median of `--repeats` timed windows;
the ratio is against sequential in the same process.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def measure(args, strategy: str) -> dict:
  import functools

  import jax
  import jax.numpy as jnp
  import numpy as np

  from jaxdiv.models import build_model
  from jaxdiv.train import multi
  from jaxdiv.train.config import base_config
  from jaxdiv.train.state import create_state, make_optimizer
  from jaxdiv.train.step import memory_step, step_kwargs

  config = base_config()
  config.model.width, config.train.batch_size = args.width, args.batch
  rng = np.random.default_rng(0)
  pool_size, n_examples = 4096, 2048
  pool = rng.integers(0, 255, (pool_size, args.resolution, args.resolution, 1), np.uint8)
  out = {}
  for runs in args.runs:
    model = build_model(config.model, 100)
    optimizer = make_optimizer(config.train, 1000)
    positions = np.stack([rng.choice(pool_size, n_examples, replace=False) for _ in range(runs)]).astype(np.int32)
    labels = rng.integers(0, 100, (runs, n_examples)).astype(np.int32)
    classes = np.full(runs, 100, np.int32)
    keys = jnp.stack([jax.random.key(i) for i in range(runs)])
    create = jax.vmap(functools.partial(create_state, model, optimizer, image_shape=pool.shape[1:]))
    if strategy == "sequential":
      kwargs = step_kwargs(config.train, config.data, model, optimizer)
      single = jax.jit(functools.partial(memory_step, batch_size=args.batch, **kwargs), donate_argnums=0)
      states = [jax.tree.map(lambda x, i=i: x[i], create(keys)) for i in range(runs)]
      device_pool = jnp.asarray(pool)
      def run(steps, states=states):
        for _ in range(steps):
          for i in range(runs):
            states[i], metrics = single(states[i], device_pool, positions[i], labels[i], classes[i])
        jax.block_until_ready(metrics)
    else:
      inner = strategy.split("/")[0]
      # "/cores": the library's own mesh (runs over the devices, leftover devices on data: one run is
      # data-parallel); otherwise one device.
      cores = strategy.endswith("/cores")
      mesh = multi.make_mesh(runs, runs_axis=0 if cores else 1, data_axis=0 if cores else 1)
      step = multi.stacked_step(config.train, config.data, model, optimizer, inner, mesh)
      shard = jax.NamedSharding(mesh, jax.P("runs"))
      state = jax.jit(create, out_shardings=shard)(keys)
      inputs = (jax.device_put(pool, jax.NamedSharding(mesh, jax.P())),
                *(jax.device_put(x, shard) for x in (positions, labels, classes)))
      holder = {"state": state}
      def run(steps):
        s = holder["state"]
        for _ in range(steps):
          s, metrics = step(s, *inputs)
        jax.block_until_ready(metrics)
        holder["state"] = s
    run(2)
    start = time.perf_counter()
    run(1)
    steps = max(1, int(1.5 / (time.perf_counter() - start)))
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      run(steps)
      times.append((time.perf_counter() - start) / steps)
    out[runs] = runs * args.batch / statistics.median(times)
  return out


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--runs", type=int, nargs="+", default=[1, 4, 8, 16])
  parser.add_argument("--width", type=int, default=16)
  parser.add_argument("--resolution", type=int, default=24)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--strategies", nargs="+", default=None)
  parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    print("RESULT " + json.dumps(measure(args, args.child)))
    return
  import jax
  backend = jax.default_backend()
  strategies = args.strategies or (["sequential", "vmap", "map", "unroll"] +
                                   (["unroll/cores"] if backend == "cpu" else []))
  results = {}
  for strategy in strategies:
    env = dict(os.environ)
    if strategy.endswith("/cores"):
      env["XLA_FLAGS"] = (f"--xla_force_host_platform_device_count={len(os.sched_getaffinity(0))} "
                          "--xla_cpu_multi_thread_eigen=false")
    else:  # One device with every thread: what jaxdiv did before one device per core became its CPU default.
      env["JAXDIV_CPU_DEVICES"] = "0"
    command = [sys.executable, "-m", "bench.multi_run", "--child", strategy, "--runs", *map(str, args.runs),
               "--width", str(args.width), "--resolution", str(args.resolution), "--batch", str(args.batch),
               "--repeats", str(args.repeats)]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    results[strategy] = {int(k): v for k, v in json.loads(output.split("RESULT ")[-1]).items()}
    print(f"# {strategy}: " + ", ".join(f"M={m}: {v:,.0f} img/s" for m, v in results[strategy].items()), flush=True)
  device = jax.devices()[0]
  print(f"\n# {backend} {getattr(device, 'device_kind', '')} ({os.cpu_count()} host cores) | width {args.width} | "
        f"{args.resolution} px | batch {args.batch} per run | images/s summed over runs, ratio vs sequential")
  print("| M | " + " | ".join(strategies) + " |")
  print("|---" * (len(strategies) + 1) + "|")
  for m in args.runs:
    base = results["sequential"][m] if "sequential" in results else float("nan")
    print(f"| {m} | " + " | ".join(f"{results[s][m]:,.0f} ({results[s][m] / base:.2f}x)" for s in strategies) + " |")
  cores = len(os.sched_getaffinity(0))
  if {"unroll", "unroll/cores"} <= set(results) and cores in results["unroll/cores"] and len(args.runs) > 1:
    stack = max(args.runs)
    wave, before = results["unroll/cores"][cores], results["unroll"][stack]
    print(f"\nwaves ({cores} runs, one per single-threaded device) {wave:,.0f} img/s vs a stack of {stack} unrolled "
          f"runs on one threaded device {before:,.0f} img/s: {wave / before:.2f}x")


if __name__ == "__main__":
  main()
