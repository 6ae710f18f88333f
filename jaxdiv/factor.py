"""A study crossed with one factor: a config field and its levels.

Each level is the config with that field set (`at_level`); every run records the level in its rows (the
glyph pool's designs per class and spread, the network's width, the class-size imbalance), so one results
table holds every level and a resumed study skips what it already has. Seeds are paired across levels: seed s
draws the same subset indices and the same initialisation at every level, so level-to-level differences are
not seed luck.
"""

from __future__ import annotations

import copy

from jaxdiv.results import CONDITION_FIELDS, field

# The factors a study can cross, and the row field that records each.
FACTORS = {"data.imbalance": "imbalance", "data.designs_per_class": "designs_per_class", "data.spread": "spread",
           "model.width": "width"}
SHORT = {"data.designs_per_class": "D", "data.spread": "spread", "model.width": "w"}


def factor_of(config) -> tuple[str, list]:
  """(field, levels) of the config's factor, ("", []) for a study without one. `sweep.imbalances` (the
  imbalance study's older spelling) is the factor `data.imbalance`."""
  sweep = config.sweep
  name = sweep.get("factor") or ""
  if name:
    if name not in FACTORS:
      raise ValueError(f"sweep.factor={name!r}: a factor must be one of {sorted(FACTORS)} (a field every result "
                       "row records)")
    levels = list(sweep.get("levels") or [])
    if len(levels) < 2 or len(set(levels)) != len(levels):
      raise ValueError(f"sweep.levels={levels}: a factor needs two or more distinct levels")
    if sweep.get("imbalances") and name != "data.imbalance":
      raise ValueError("sweep.imbalances crosses the study with data.imbalance; a study has one factor: "
                       "leave sweep.imbalances empty when sweep.factor names another")
    return name, levels
  imbalances = [float(s) for s in sweep.get("imbalances") or []]
  if any(imbalances):
    return "data.imbalance", imbalances
  return "", []


def at_level(config, name: str, level):
  """The config of one level: `name` set to `level` (for the imbalance, the grid's exponents too)."""
  out = copy.deepcopy(config)
  section, key = name.split(".")
  out[section][key] = type(out[section][key])(level)
  if name == "data.imbalance":
    out.sweep.imbalances = [float(level)]
  return out


def value_of(config, name: str):
  """The config's value of the factor `name` ("section.key")."""
  section, key = name.split(".")
  return config[section][key]


def base_level(config, name: str, levels: list):
  """The level the study's other conclusions rest on: the config's own value of the field where the levels
  hold it (the default pool or width), else the first level."""
  own = value_of(config, name)
  return own if own in levels else levels[0]


def condition(config) -> dict:
  """What the rows of a run trained under `config` record of its pool and network (`CONDITION_FIELDS`)."""
  values = {"designs_per_class": int(config.data.get("designs_per_class", 0)),
            "spread": float(config.data.get("spread", 1.0)), "width": int(config.model.width)}
  return {name: values[name] for name in CONDITION_FIELDS}


def level_tag(config) -> str:
  """A suffix that keeps each level's stack folders apart ("" without a factor; the imbalance is already in
  each run's name)."""
  name = config.sweep.get("factor") or ""
  if name not in SHORT:
    return ""
  return f"_{SHORT[name]}{value_of(config, name):g}"


def row_level(row, name: str):
  """The level of factor `name` a row was trained at."""
  return field(row, FACTORS[name])
