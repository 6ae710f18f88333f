"""How this process uses its CPU cores and compiler: one XLA host device per core, and a persistent
compilation cache. Both must be decided before JAX starts its backends, so the package calls
`configure_cpu_devices` on import; GPU and TPU backends ignore the host-device flags.

Why one device per core: XLA:CPU spreads a small ResNet's convolutions poorly over threads, while one
single-threaded device per core, each training its own run, gave 1.54x the images/s of one threaded
device on 2 cores (bench/multi_run.py). `JAXDIV_CPU_DEVICES=0` keeps JAX's default (one device, all
threads); `JAXDIV_CPU_DEVICES=N` asks for N devices; an `XLA_FLAGS` that already sets
`--xla_force_host_platform_device_count` wins over both.
"""

from __future__ import annotations

import logging
import os
import re

COUNT_FLAG = "--xla_force_host_platform_device_count"
EIGEN_FLAG = "--xla_cpu_multi_thread_eigen"
log = logging.getLogger("jaxdiv")


def available_cores() -> int:
  """Cores this process may run on (the affinity mask, which containers and `taskset` narrow)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # Not Linux.
    return os.cpu_count() or 1


def cpu_model() -> str:
  """The processor's model name (Linux /proc/cpuinfo), else what `platform` knows: benchmarks and reports
  name the hardware they ran on."""
  import platform
  try:
    with open("/proc/cpuinfo") as info:
      for line in info:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def _backends_started() -> bool:
  import sys
  if "jax" not in sys.modules:
    return False
  from jax._src import xla_bridge
  return xla_bridge.backends_are_initialized()


def cpu_device_flags(environ: dict, cores: int) -> str | None:
  """The XLA_FLAGS value that gives one single-threaded host device per core, or None to leave them be
  (the user set a device count, asked for JAX's default, or there is one core)."""
  flags = environ.get("XLA_FLAGS", "")
  if COUNT_FLAG in flags:
    return None
  wanted = environ.get("JAXDIV_CPU_DEVICES", "").strip().lower()
  if wanted in ("0", "off", "false", "no"):
    return None
  count = int(wanted) if wanted else cores
  if count <= 1:
    return None
  return f"{flags} {COUNT_FLAG}={count} {EIGEN_FLAG}=false".strip()


def configure_cpu_devices(environ: dict | None = None) -> None:
  """Set `XLA_FLAGS` for one single-threaded host device per core, unless JAX has started already (then
  nothing can change, and `describe_cpu_devices` says what it got) or the user chose otherwise."""
  environ = os.environ if environ is None else environ
  flags = cpu_device_flags(environ, available_cores())
  if flags is not None and not _backends_started():
    environ["XLA_FLAGS"] = flags


def describe_cpu_devices(environ: dict | None = None) -> str:
  """One line for logs and study.json: how many host devices XLA was given, by whom, and with how many
  threads each."""
  flags = (os.environ if environ is None else environ).get("XLA_FLAGS", "")
  match = re.search(rf"{COUNT_FLAG}=(\d+)", flags)
  threaded = f"{EIGEN_FLAG}=false" not in flags
  if match is None:
    return f"one host device using all {available_cores()} cores (JAX's default; JAXDIV_CPU_DEVICES=0 or one core)"
  count = int(match.group(1))
  who = ("jaxdiv's default: one per core" if not threaded and count == available_cores()
         else "set by XLA_FLAGS / JAXDIV_CPU_DEVICES")
  return f"{count} host devices, {'multi' if threaded else 'single'}-threaded each ({who})"


def compilation_cache_dir(environ: dict | None = None) -> str | None:
  """Where compiled programs persist: `$JAXDIV_COMPILATION_CACHE`, else `compile/` under the jaxdiv
  cache; None when that variable is 0/off."""
  from jaxdiv.io import default_cache_dir
  environ = os.environ if environ is None else environ
  chosen = environ.get("JAXDIV_COMPILATION_CACHE", "").strip()
  if chosen.lower() in ("0", "off", "false", "no"):
    return None
  return chosen or os.path.join(default_cache_dir(), "compile")


def enable_compilation_cache(environ: dict | None = None) -> str | None:
  """Turn on JAX's persistent compilation cache (programs that took over a second to compile), so a
  resumed or repeated study does not compile again. A directory the user gave JAX already wins.
  Returns the directory in use, or None when it is off."""
  import jax
  current = jax.config.jax_compilation_cache_dir
  if current:
    return current
  path = compilation_cache_dir(environ)
  if path is None:
    return None
  os.makedirs(path, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
  return path
