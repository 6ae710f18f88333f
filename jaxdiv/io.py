"""Files of a workdir, on a local disk or a cloud bucket alike; local caches; forked worker pools.

Every workdir read and write goes through `etils.epath` (what Orbax and TFDS use), so a workdir
`gs://bucket/runs` reaches the bucket: `os.makedirs`/`open` on such a string would silently create a
local folder named `gs:` and lose the results with the VM. Writes replace whole files: on a local disk a
temporary file is flushed, fsync'd and renamed over the target (atomic); on an object store, where
rename is a copy, the temporary object is written whole and then renamed, so a reader sees the old or
the new file, never half of one.

On a pod only process 0 writes shared files (`jaxdiv.distributed.is_writer`).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid

from etils import epath

CLOUD_PREFIXES = ("gs://", "s3://", "az://", "hf://")


def is_cloud(path) -> bool:
  return str(path).startswith(CLOUD_PREFIXES)


def exists(path) -> bool:
  return epath.Path(path).exists()


def list_dirs(path) -> list[str]:
  """The sub-folders of `path` (local or bucket), sorted; [] when it does not exist."""
  folder = epath.Path(path)
  return sorted(str(child) for child in folder.iterdir() if child.is_dir()) if folder.exists() else []


def makedirs(path) -> None:
  epath.Path(path).mkdir(parents=True, exist_ok=True)


def read_text(path) -> str:
  return epath.Path(path).read_text()


def read_json(path):
  return json.loads(read_text(path))


def read_json_if_exists(path):
  """The JSON at `path`, or None when there is no such file."""
  return read_json(path) if exists(path) else None


def write_text_atomic(path, text: str) -> None:
  """Replace `path` with `text` so that a crash or a reader never sees half a file (see the module doc)."""
  path = epath.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  if not is_cloud(path):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
    return
  tmp = path.parent / f".{path.name}.tmp.{uuid.uuid4().hex[:8]}"
  tmp.write_text(text)
  tmp.replace(path)


def write_json_atomic(path, payload) -> None:
  write_text_atomic(path, json.dumps(payload))


def append_text(path, text: str) -> None:
  """Append to a log file: in place on a local disk; on an object store (no append) by rewriting it."""
  if not is_cloud(path):
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with open(path, "a") as f:
      f.write(text)
    return
  write_text_atomic(path, (read_text(path) if exists(path) else "") + text)


def save_figure(fig, path, dpi: int = 110) -> str:
  """A matplotlib figure written as PNG through epath (matplotlib itself only knows local paths)."""
  import io as _io
  buffer = _io.BytesIO()
  fig.savefig(buffer, format="png", dpi=dpi)
  path = epath.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(buffer.getvalue())
  return os.fspath(path)


# --- Local caches and worker pools -------------------------------------------------------------------


def default_cache_dir() -> str:
  """This machine's cache (design index, prepared tasks, materialised subsets): `$JAXDIV_CACHE` or ~/.cache."""
  return os.environ.get("JAXDIV_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxdiv"))


def save_npy_atomic(path: str, array) -> None:
  """A local cache file, written under a temporary name and renamed, so concurrent writers never collide."""
  import numpy as np
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}.npy"
  np.save(tmp, array)
  os.replace(tmp, path)


@contextlib.contextmanager
def file_lock(path: str):
  """An exclusive lock on a local file, held for the `with` block (processes on one machine take turns)."""
  import fcntl
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "a") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def fork_map(fn, items: list, workers: int, progress: str | None = None) -> list:
  """`Pool.imap` (results in order) over forked workers that only render or read files and never touch
  JAX; JAX's "os.fork() was called" warning (about JAX's own threads in the child) is silenced for that
  reason. `progress` names a progress bar over the items."""
  import multiprocessing
  import warnings

  from tqdm.auto import tqdm
  with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
      return list(tqdm(pool.imap(fn, items), total=len(items), desc=progress, disable=progress is None))
