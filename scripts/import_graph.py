"""Print jaxdiv's import graph between layers and every import that points up a layer.

Layers, lowest first, in the order data flows: shared helpers (jaxdiv.io, jaxdiv.distributed,
jaxdiv.results, jaxdiv.factor) < data, models, optim < train < probe < bound < sweep < report < study, configs
< cli.
A module may import its own layer or lower ones, never a higher one. `python scripts/import_graph.py`
prints the edges and exits 1 when an import points up; tests/test_layers.py runs the same check.
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = [("io", "distributed", "results", "factor"), ("data", "models", "optim"), ("train",), ("probe",),
          ("bound",), ("sweep",), ("report",), ("study", "configs"), ("cli",)]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def component(module: str) -> str | None:
  """`jaxdiv.train.loop` -> "train"; None outside jaxdiv."""
  parts = module.split(".")
  return parts[1] if parts[0] == "jaxdiv" and len(parts) > 1 else None


def imports(path: pathlib.Path) -> set[str]:
  """Every jaxdiv module `path` imports, at the top or inside a function."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found |= {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      found.add(node.module)
      if node.module == "jaxdiv":
        found |= {f"jaxdiv.{alias.name}" for alias in node.names}
  return {m for m in found if m.startswith("jaxdiv.")}


def edges(root: pathlib.Path = ROOT) -> dict[tuple[str, str], set[str]]:
  """{(from component, to component): the importing files}, across components only."""
  out: dict[tuple[str, str], set[str]] = {}
  for path in sorted((root / "jaxdiv").rglob("*.py")):
    relative = path.relative_to(root).with_suffix("")
    source = component(".".join(relative.parts))
    for module in imports(path):
      target = component(module)
      if source and target and target != source and source in RANK and target in RANK:
        out.setdefault((source, target), set()).add(str(path.relative_to(root)))
  return out


def upward(graph: dict) -> list[str]:
  return [f"{a} -> {b} ({', '.join(sorted(files))})" for (a, b), files in sorted(graph.items()) if RANK[b] > RANK[a]]


def main() -> int:
  graph = edges()
  missing = sorted({c for pair in graph for c in pair} - set(RANK))
  for (a, b), files in sorted(graph.items(), key=lambda item: (RANK[item[0][0]], item[0])):
    print(f"{a:12s} -> {b:12s} {'UP ' if RANK[b] > RANK[a] else '   '} {', '.join(sorted(files))}")
  bad = upward(graph)
  print(f"\n{len(graph)} edges, {len(bad)} pointing up" + (f"; unknown components {missing}" if missing else ""))
  return 1 if bad else 0


if __name__ == "__main__":
  sys.exit(main())
