"""No import points up a layer (scripts/import_graph.py): data, models, optim < train < probe < bound < sweep
< report < study < cli, over the shared helpers; and no two modules import each other."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import import_graph  # noqa: E402


def test_no_import_points_up_a_layer():
  graph = import_graph.edges()
  assert ("probe", "train") in graph and ("study", "report") in graph  # the scan sees real edges
  assert import_graph.upward(graph) == []
  assert {c for edge in graph for c in edge} <= set(import_graph.RANK)


def test_no_two_modules_import_each_other():
  assert import_graph.circles(import_graph.module_edges()) == []
  loop = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}  # the check finds a loop of three, not its caller
  assert import_graph.circles(loop) == [["a", "b", "c"]]


def test_every_subpackage_ships_in_the_wheel():
  import pathlib
  import tomllib
  root = pathlib.Path(__file__).resolve().parent.parent
  listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
  found = {".".join(p.parent.relative_to(root).parts) for p in (root / "jaxdiv").rglob("__init__.py")}
  assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
