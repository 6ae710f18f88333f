"""The study's results table, `results.jsonl`: one JSON row per (task, N, K, n, seed, probe, stage).

Kept free of the trainer so that `jaxdiv fit` and `jaxdiv report` read it without importing JAX models.
"""

from __future__ import annotations

import json
import os

from jaxdiv.data.fonts import write_text_atomic

RESULTS = "results.jsonl"


def results_path(workdir: str) -> str:
  return os.path.join(workdir, RESULTS)


def read_rows(workdir: str) -> list[dict]:
  path = results_path(workdir)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def append_rows(workdir: str, rows: list[dict]) -> None:
  """Rewrite the table with the new rows through a temporary file, so a kill never leaves half a table."""
  path = results_path(workdir)
  existing = open(path).read() if os.path.exists(path) else ""
  write_text_atomic(path, existing + "".join(json.dumps(r) + "\n" for r in rows))
