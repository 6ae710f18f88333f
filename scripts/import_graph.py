"""Print jaxdiv's import graph between layers and every import that points up a layer.

Layers, lowest first, in the order data flows: shared helpers (jaxdiv.io, jaxdiv.distributed,
jaxdiv.results, jaxdiv.factor, jaxdiv.runtime, jaxdiv.timing) < data, models, optim < train < probe < stats
< bound < sweep < report < study, configs < cli.
A module may import its own layer or lower ones, never a higher one, and no two modules may import each
other, directly or round a loop. `python scripts/import_graph.py` prints the edges and any circle and exits 1
when an import points up or a circle exists; tests/test_layers.py runs the same checks.
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = [("io", "distributed", "results", "factor", "runtime", "timing"), ("data", "models", "optim"), ("train",),
          ("probe",), ("stats",), ("bound",), ("sweep",), ("report",), ("study", "configs"), ("cli",)]
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


def module_name(path: pathlib.Path, root: pathlib.Path = ROOT) -> str:
  parts = path.relative_to(root).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_edges(root: pathlib.Path = ROOT) -> dict[str, set[str]]:
  """{module: the jaxdiv modules it imports}, imports inside functions included; `from jaxdiv.x import y`
  counts as importing the module `jaxdiv.x.y` where that is a module, else `jaxdiv.x`."""
  paths = sorted((root / "jaxdiv").rglob("*.py"))
  known = {module_name(p, root) for p in paths}
  out: dict[str, set[str]] = {}
  for path in paths:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        found |= {a.name for a in node.names}
      elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names}
    name = module_name(path, root)
    out[name] = {m for m in found if m in known and m != name}
  return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
  """Groups of modules that import each other, directly or round a loop (strongly connected components of
  more than one module, Tarjan's algorithm). A package importing its own modules from `__init__` is a loop
  only when one of them imports the package back."""
  index, low, stack, on_stack, out = {}, {}, [], set(), []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for nxt in graph.get(node, ()):
      if nxt not in index:
        visit(nxt)
        low[node] = min(low[node], low[nxt])
      elif nxt in on_stack:
        low[node] = min(low[node], index[nxt])
    if low[node] == index[node]:
      group = []
      while True:
        member = stack.pop()
        on_stack.discard(member)
        group.append(member)
        if member == node:
          break
      if len(group) > 1:
        out.append(sorted(group))

  for node in sorted(graph):
    if node not in index:
      visit(node)
  return out


def upward(graph: dict) -> list[str]:
  return [f"{a} -> {b} ({', '.join(sorted(files))})" for (a, b), files in sorted(graph.items()) if RANK[b] > RANK[a]]


def main() -> int:
  graph = edges()
  missing = sorted({c for pair in graph for c in pair} - set(RANK))
  for (a, b), files in sorted(graph.items(), key=lambda item: (RANK[item[0][0]], item[0])):
    print(f"{a:12s} -> {b:12s} {'UP ' if RANK[b] > RANK[a] else '   '} {', '.join(sorted(files))}")
  bad = upward(graph)
  loops = circles(module_edges())
  for loop in loops:
    print("circle: " + " <-> ".join(loop))
  print(f"\n{len(graph)} edges, {len(bad)} pointing up, {len(loops)} circles"
        + (f"; unknown components {missing}" if missing else ""))
  return 1 if bad or loops else 0


if __name__ == "__main__":
  sys.exit(main())
