"""Train-step throughput: jaxdiv ResNet-18 against the same network in PyTorch eager, plus MFU.

  python bench/train_resnet.py [--widths 64 16] [--batch 128] [--resolution 32] [--repeats 5]

Both train the same topology (small stem, 1 channel, SGD + Nesterov + weight decay) on the same
fixed batch; each number is the median of `--repeats` timed windows. MFU = XLA's cost-analysis FLOPs
per step / step time / a measured float32 matmul peak on the same machine.
"""

import argparse
import functools
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.models import ResNet18, count_params
from jaxdiv.train.config import base_config
from jaxdiv.train.state import create_state, make_optimizer
from jaxdiv.train.step import train_step


def median_time(fn, repeats: int, steps: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn(steps)
    times.append((time.perf_counter() - start) / steps)
  return statistics.median(times)


def matmul_peak_flops(size: int | None = None, dtype=jnp.float32) -> float:
  size = size or (2048 if jax.default_backend() == "cpu" else 8192)
  a = jnp.ones((size, size), dtype)
  dot = jax.jit(lambda x, y: x @ y)
  dot(a, a).block_until_ready()
  def run(steps):
    for _ in range(steps):
      out = dot(a, a)
    out.block_until_ready()
  return 2 * size ** 3 / median_time(run, 5, 4)


def jax_step_time(width, batch, resolution, repeats, classes=100, dtype=jnp.float32):
  config = base_config()
  config.data.max_shift = 0
  model = ResNet18(classes, stem="small", width=width, dtype=dtype)
  optimizer = make_optimizer(config.train, 1000)
  state = create_state(model, optimizer, jax.random.key(0), (resolution, resolution, 1))
  images = jnp.asarray(np.random.default_rng(0).integers(0, 255, (batch, resolution, resolution, 1), np.uint8))
  labels = jnp.asarray(np.random.default_rng(1).integers(0, classes, batch), jnp.int32)
  step = jax.jit(functools.partial(train_step, model=model, optimizer=optimizer), donate_argnums=0)
  compiled = step.lower(state, images, labels, classes).compile()
  flops = compiled.cost_analysis()
  flops = (flops[0] if isinstance(flops, list) else flops).get("flops", float("nan"))
  holder = {"state": state}
  def run(steps):
    s = holder["state"]
    for _ in range(steps):
      s, metrics = step(s, images, labels, classes)
    metrics["loss"].block_until_ready()
    holder["state"] = s
  run(2)
  steps = max(1, int(2.0 / max(1e-3, median_time(run, 1, 1))))
  return median_time(run, repeats, steps), flops, count_params(state.params)


def torch_step_time(width, batch, resolution, repeats, classes=100):
  import torch

  from bench.torch_resnet import TorchResNet18
  device = "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"
  torch.backends.cudnn.benchmark = True
  torch.manual_seed(0)
  model = TorchResNet18(classes, 1, width).to(device)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
  images = torch.randn(batch, 1, resolution, resolution, device=device)
  labels = torch.randint(0, classes, (batch,), device=device)
  loss_fn = torch.nn.CrossEntropyLoss()
  def run(steps):
    for _ in range(steps):
      optimizer.zero_grad(set_to_none=True)
      loss = loss_fn(model(images), labels)
      loss.backward()
      optimizer.step()
    if device == "cuda":
      torch.cuda.synchronize()
  run(2)
  steps = max(1, int(2.0 / max(1e-3, median_time(run, 1, 1))))
  return median_time(run, repeats, steps), sum(p.numel() for p in model.parameters())


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--widths", type=int, nargs="+", default=[64, 16])
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--resolution", type=int, default=32)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--no-torch", action="store_true")
  parser.add_argument("--bf16", action="store_true", help="also time bfloat16 compute (GPU/TPU)")
  args = parser.parse_args()
  device = jax.devices()[0]
  peak = matmul_peak_flops()
  print(f"# {device.platform} {getattr(device, 'device_kind', '')} | {platform.processor() or platform.machine()} | "
        f"jax {jax.__version__} | batch {args.batch} | {args.resolution} px | matmul peak {peak / 1e9:.1f} GFLOP/s")
  print("| width | params | jaxdiv img/s | torch img/s | jaxdiv / torch | GFLOP/step | MFU |")
  print("|---|---|---|---|---|---|---|")
  for width in args.widths:
    jax_time, flops, params = jax_step_time(width, args.batch, args.resolution, args.repeats)
    torch_ips = ratio = float("nan")
    if not args.no_torch:
      torch_time, torch_params = torch_step_time(width, args.batch, args.resolution, args.repeats)
      assert torch_params == params, (torch_params, params)
      torch_ips, ratio = args.batch / torch_time, torch_time / jax_time
    print(f"| {width} | {params:,} | {args.batch / jax_time:,.0f} | {torch_ips:,.0f} | {ratio:.2f}x | "
          f"{flops / 1e9:.1f} | {flops / jax_time / peak:.0%} |", flush=True)
    if args.bf16:
      bf_time, bf_flops, _ = jax_step_time(width, args.batch, args.resolution, args.repeats, dtype=jnp.bfloat16)
      bf_peak = matmul_peak_flops(dtype=jnp.bfloat16)
      print(f"| {width} bf16 | {params:,} | {args.batch / bf_time:,.0f} | | | {bf_flops / 1e9:.1f} | "
            f"{bf_flops / bf_time / bf_peak:.0%} of bf16 peak {bf_peak / 1e12:.0f} TFLOP/s |", flush=True)


if __name__ == "__main__":
  main()
