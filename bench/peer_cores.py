"""A fair CPU peer for a jaxdiv wave: PyTorch eager with one process per core, one run each.

  python -m bench.peer_cores [--width 8] [--resolution 20] [--batch 64] [--repeats 5] [--seconds 3]

Both sides train one ResNet-18 per core at the same shapes (the demo's by default) and the images/s are
summed over runs. PyTorch: one process per core, `torch.set_num_threads(1)`, every process timing the same
windows (a barrier starts each); the row is the median over windows of their sum. jaxdiv: one wave (a run
per single-threaded XLA host device, jaxdiv's CPU default) timed by `bench/multi_run.py` in a child process.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time


def torch_worker(args, barrier, results):
  """One run in one single-threaded process; puts its images/s of each window."""
  import torch

  from bench.torch_resnet import TorchResNet18
  torch.set_num_threads(1)
  torch.manual_seed(0)
  model = TorchResNet18(100, 1, args.width)
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
  images = torch.randn(args.batch, 1, args.resolution, args.resolution)
  labels = torch.randint(0, 100, (args.batch,))
  loss_fn = torch.nn.CrossEntropyLoss()

  def step():
    optimizer.zero_grad(set_to_none=True)
    loss_fn(model(images), labels).backward()
    optimizer.step()
  for _ in range(3):
    step()
  rates = []
  for _ in range(args.repeats):
    barrier.wait()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < args.seconds:
      step()
      steps += 1
    rates.append(steps * args.batch / (time.perf_counter() - start))
  results.put(rates)


def torch_processes(args, cores: int) -> float:
  """Median over windows of the images/s summed over `cores` single-threaded processes."""
  context = multiprocessing.get_context("spawn")
  barrier, results = context.Barrier(cores), context.Queue()
  workers = [context.Process(target=torch_worker, args=(args, barrier, results)) for _ in range(cores)]
  for worker in workers:
    worker.start()
  per_worker = [results.get() for _ in workers]
  for worker in workers:
    worker.join()
  return statistics.median(sum(window) for window in zip(*per_worker))


def jaxdiv_wave(args, cores: int) -> float:
  """Images/s of one jaxdiv wave (`cores` runs, one per single-threaded host device)."""
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={cores} --xla_cpu_multi_thread_eigen=false")
  command = [sys.executable, "-m", "bench.multi_run", "--child", "unroll/cores", "--runs", str(cores),
             "--width", str(args.width), "--resolution", str(args.resolution), "--batch", str(args.batch),
             "--repeats", str(args.repeats)]
  output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
  return float(json.loads(output.split("RESULT ")[-1])[str(cores)])


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--width", type=int, default=8)
  parser.add_argument("--resolution", type=int, default=20)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--seconds", type=float, default=3.0)
  args = parser.parse_args()
  import torch

  from jaxdiv.runtime import cpu_model
  cores = len(os.sched_getaffinity(0))
  wave = jaxdiv_wave(args, cores)
  peer = torch_processes(args, cores)
  print(f"# cpu {cpu_model()} ({cores} cores) | torch {torch.__version__} | width "
        f"{args.width} | {args.resolution} px | batch {args.batch} per run | {cores} runs, one per core | "
        f"images/s summed over runs, median of {args.repeats} windows")
  print("| jaxdiv wave (a run per host device) | PyTorch eager (a process per core, 1 thread) | jaxdiv / PyTorch |")
  print("|---|---|---|")
  print(f"| {wave:,.0f} | {peer:,.0f} | {wave / peer:.2f}x |")


if __name__ == "__main__":
  main()
