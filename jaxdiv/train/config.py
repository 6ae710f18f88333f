"""Config files (`configs/X.py[:arg]` with `get_config(arg)`), `--config.a.b=value` overrides, checks."""

from __future__ import annotations

import ast
import importlib.util
import json
import os

import ml_collections

# Fields that may change between a run and its resumption without changing what is trained.
RESUMABLE_FIELDS = ("checkpoint_every", "log_every", "keep_checkpoints", "progress", "mesh", "multi",
                    "data.prefetch_threads", "data.materialise_workers",
                    "data.data_dir", "data.decode_workers", "probe.batch_size", "probe.tasks",
                    "probe.kinds", "probe.pretrain_heldout_per_class", "sweep")


def base_config() -> ml_collections.ConfigDict:
  """Defaults every config file starts from; see configs/*.py for studies."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  # glyph_range: "4E00-4FFF" limits the glyph pool to a code-point range (quick tests); "" is the whole pool.
  # data_dir: where a TFDS `source` is prepared ("" = TFDS's default; probe tasks NAME@DIR name their own).
  # designs_per_class: the glyph pool's first D designs per class (0 = all); spread: a multiplier on every
  # warp range of the glyph pool (1 = the default warps, 0 = the plain design).
  # crop: "center" (fit the shorter side, centre crop) or "random_resized" (ImageNet-style crop + flip on
  # the host; streaming only). decode_workers: Grain worker processes that read, decode and crop batches.
  config.data = dict(source="glyphs", split="train", resolution=32, num_classes=100, per_class=20, glyph_range="",
                     subset_seed=-1, pipeline="auto", memory_limit_examples=200_000, max_shift=2, flip=False,
                     prefetch_threads=2, materialise_workers=2, data_dir="", crop="center", decode_workers=0,
                     imbalance=0.0, designs_per_class=0, spread=1.0)
  # zero_init_last_scale=False: with the zero-initialised head (which the padded-head equivalence of stacked
  # runs needs), also zeroing each block's last BN scale left K = 250, n = 8 at train accuracy 0.02 after
  # 400 steps against 0.11 without it (bench/init_settings.py, bench/results/init_settings_cpu.txt).
  config.model = dict(name="resnet18", stem="small", width=64, dtype="float32", zero_init_last_scale=False)
  # Steps per run: `steps` if set, else max(ceil(epochs·N/batch_size), min_steps) from the run's own N.
  config.train = dict(batch_size=128, epochs=30.0, steps=0, min_steps=0, optimizer="sgd", learning_rate=0.05,
                      momentum=0.9, nesterov=True, adam_b2=0.999, weight_decay=5e-4, warmup_fraction=0.05,
                      label_smoothing=0.0)
  config.runs = []          # Optional list of dicts (num_classes, per_class, seed) trained as one stack.
  config.multi = dict(strategy="auto", max_runs_per_chunk=0)
  config.mesh = dict(runs=0, data=0)  # 0: decide from the device count.
  # The study (jaxdiv sweep / demo): a grid at the sweep budgets, a fit, and validation at a larger N.
  # gate: retrain the smallest, best and largest K of each gated budget at 2x steps (gate_budgets empty:
  # every sweep budget). cluster: the k-means contrast runs at cluster_budgets (empty: every budget).
  # k_values: these K at every budget instead of the anti-diagonal's log-spaced points (each must divide N).
  # factor, levels: cross the grid with one config field at these levels (`jaxdiv.factor`: data.designs_per_class,
  # data.spread, model.width, data.imbalance); every level is trained with paired seeds.
  # imbalances: the grid at each of these Zipf exponents s (class k gets a share ∝ (k + 1)^-s; empty: data.imbalance).
  config.sweep = dict(grid="anti_diagonal", budgets=[2000], points=6, k_min=2, k_max=1_000_000, n_min=2,
                      n_max=1_000_000, seeds=[0], cluster=False, cluster_budgets=[], cluster_seeds=[], gate=True,
                      gate_budgets=[], baselines=True, standard_classes=1000, fit_budgets=[], validation_budget=0,
                      validation_spread=3.0, replicates=200, refine=False, refine_n_min=0, k_values=[],
                      imbalances=[], factor="", levels=[])
  config.probe = dict(tasks=["jaxdiv_han_heldout", "jaxdiv_latin_letters", "jaxdiv_greek_cyrillic",
                             "jaxdiv_hangul", "jaxdiv_fashion_mnist", "jaxdiv_digits"],
                      kinds=["ridge"], max_train=2000, max_test=1000, seed=0, batch_size=500, test_split="test",
                      pretrain_heldout_per_class=16)
  # The space the k-means contrast clusters in (`jaxdiv.train.embed`): "pixels", "random_init", or the workdir
  # of a finished `jaxdiv pretrain` run whose network groups the sample (trained on classes disjoint from it);
  # sample_classes: draw the sample from that many classes, N/C images each (0: from the whole pool).
  config.cluster = dict(features="pixels", sample_classes=0)
  config.checkpoint_every = 200
  config.keep_checkpoints = 2
  config.log_every = 20
  config.progress = True
  return config


def load_workdir_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a `jaxdiv pretrain` or `jaxdiv sweep` workdir was trained with (fields it predates at
  their defaults)."""
  from jaxdiv import io
  path = os.path.join(workdir, "config.json")
  if not io.exists(path):
    raise FileNotFoundError(f"{path} not found: is {workdir} a `jaxdiv pretrain` workdir?")
  config = base_config()
  config.update(ml_collections.ConfigDict(io.read_json(path)))
  return config


def load_config(spec: str) -> ml_collections.ConfigDict:
  """`path/to/config.py` or `path/to/config.py:arg`, big_vision style."""
  path, _, arg = spec.partition(":")
  if not os.path.exists(path):
    raise FileNotFoundError(f"config file {path!r} not found; see the configs/ folder for examples")
  module_spec = importlib.util.spec_from_file_location(f"jaxdiv_config_{abs(hash(path))}", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise ValueError(f"{path} must define get_config(arg=None)")
  return module.get_config(arg or None)


def _parse_value(text: str):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """Apply `a.b=value` (or `--config.a.b=value`) strings; unknown fields and wrong types are errors."""
  for item in overrides:
    item = item.removeprefix("--").removeprefix("config.")
    field, sep, text = item.partition("=")
    if not sep:
      raise ValueError(f"override {item!r} must look like --config.train.learning_rate=0.1")
    *parents, leaf = field.split(".")
    node = config
    for name in parents:
      if name not in node:
        raise ValueError(f"unknown config field {field!r}")
      node = node[name]
    if leaf not in node:
      raise ValueError(f"unknown config field {field!r}; known here: {sorted(node.keys())}")
    value = _parse_value(text)
    if isinstance(node[leaf], str) and not isinstance(value, str):
      value = text
    try:
      node[leaf] = value
    except TypeError as error:
      raise ValueError(f"config field {field!r}: {error}") from None
  return config


def to_dict(config) -> dict:
  return json.loads(config.to_json()) if isinstance(config, ml_collections.ConfigDict) else dict(config)


def _flatten(tree: dict, prefix: str = "") -> dict:
  flat = {}
  for key, value in tree.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      flat.update(_flatten(value, f"{name}."))
    else:
      flat[name] = value
  return flat


def incompatible_fields(saved: dict, current: dict) -> list[str]:
  """Fields that differ between a workdir's saved config and the current one, ignoring resumable ones.
  A field the saved config lacks (written before the field existed) counts as its default."""
  a, b = {**_flatten(to_dict(base_config())), **_flatten(saved)}, _flatten(current)
  def resumable(name):
    return any(name == f or name.startswith(f"{f}.") for f in RESUMABLE_FIELDS)
  return sorted(k for k in set(a) | set(b) if not resumable(k) and a.get(k) != b.get(k))


def cluster_space(config) -> str:
  """The space the k-means contrast clusters in (`cluster.features`; "pixels" for configs saved before it)."""
  return config.get("cluster", {}).get("features", "pixels")


def cluster_sample_classes(config) -> int:
  """How many classes the contrast case's sample is drawn from (`cluster.sample_classes`; 0, the whole pool,
  for configs saved before it)."""
  return int(config.get("cluster", {}).get("sample_classes", 0))


def validate(config) -> None:
  """Errors that name the fix, raised before anything is built (`pretrain.check_stack` has the ones that
  need a stack's N and mesh)."""
  train, data = config.train, config.data
  if train.batch_size <= 0:
    raise ValueError("train.batch_size must be positive")
  if data.num_classes <= 0 or data.per_class <= 0:
    raise ValueError("data.num_classes and data.per_class must be positive")
  imbalances = [data.imbalance, *(config.sweep.get("imbalances") or [])]
  if any(s < 0 for s in imbalances):
    raise ValueError(f"data.imbalance / sweep.imbalances must be >= 0 (0 = balanced classes), got {imbalances}")
  if data.designs_per_class < 0:
    raise ValueError(f"data.designs_per_class must be >= 0 (0 = every design of a class), got {data.designs_per_class}")
  if data.spread < 0:
    raise ValueError(f"data.spread must be >= 0 (0 = the plain design, 1 = the default warps), got {data.spread}")
  if data.designs_per_class != 0 and not data.source.startswith("glyphs"):
    raise ValueError(f"data.designs_per_class is a dial of the glyph pool; source {data.source!r} has none: "
                     "leave it at 0")
  if data.spread != 1 and not data.source.startswith(("glyphs", "fractals", "strokes")):
    raise ValueError(f"data.spread is a dial of the rendered pools (glyphs, fractals, strokes); source "
                     f"{data.source!r} has none: leave it at 1")
  classes = cluster_sample_classes(config)
  budgets = (config.sweep.get("cluster_budgets") or config.sweep.get("budgets") or []) if config.sweep.cluster else []
  if classes < 0 or (classes and any(total % classes for total in budgets)):
    raise ValueError(f"cluster.sample_classes={classes}: use 0 (sample the whole pool) or a C that divides every "
                     f"contrast budget {list(budgets)} (the sample holds N/C images of each of C classes)")
  features = cluster_space(config)
  if features not in ("pixels", "random_init") and not os.path.isfile(os.path.join(features, "summary.json")):
    raise ValueError(f"cluster.features={features!r}: use 'pixels', 'random_init', or the workdir of a finished "
                     "`jaxdiv pretrain` run (a folder with summary.json)")
  if config.model.stem not in ("small", "imagenet"):
    raise ValueError(f"model.stem must be 'small' or 'imagenet', got {config.model.stem!r}")
  if config.model.dtype not in ("float32", "bfloat16"):
    raise ValueError(f"model.dtype must be 'float32' or 'bfloat16', got {config.model.dtype!r}")
  if data.pipeline not in ("auto", "memory", "stream"):
    raise ValueError(f"data.pipeline must be 'auto', 'memory' or 'stream', got {data.pipeline!r}")
  if data.crop not in ("center", "random_resized"):
    raise ValueError(f"data.crop must be 'center' or 'random_resized', got {data.crop!r}")
  if data.crop == "random_resized" and (config.runs or data.pipeline == "memory"):
    raise ValueError("data.crop='random_resized' crops every image anew each step, so it needs the streaming "
                     "pipeline of a single run: set data.pipeline='stream' (or 'auto') and no `runs`")
