"""The `jaxdiv` command line: thin wrappers that assemble the library's functions."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def _grid_image(images: np.ndarray, rows: int, invert: bool):
  from PIL import Image
  count, height, width, channels = images.shape
  cols = int(np.ceil(count / rows))
  canvas = np.full((rows * (height + 2), cols * (width + 2), channels), 255 if invert else 0, np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, cols)
    canvas[r * (height + 2):r * (height + 2) + height, c * (width + 2):c * (width + 2) + width] = \
        255 - image if invert else image
  canvas = canvas[..., 0] if channels == 1 else canvas
  return Image.fromarray(canvas)


def data_show(name: str, out: str, classes: int, per_class: int, seed: int, split: str, resolution: int,
              scale: int = 3) -> str:
  """Write a grid: one row per drawn class, `per_class` samples each."""
  from PIL import Image

  from jaxdiv.data import get_source, sampler
  source = get_source(name, split=split, resolution=resolution)
  indices = sampler.subset_indices(source.labels, min(classes, source.num_classes), per_class, seed)
  images, _ = source.read_batch(indices)
  grid = _grid_image(images, rows=min(classes, source.num_classes), invert=name.startswith("glyphs"))
  grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  grid.save(out)
  return out


def data_info(name: str, split: str, resolution: int) -> dict:
  from jaxdiv.data import get_source, glyphs
  source = get_source(name, split=split, resolution=resolution)
  counts = np.bincount(source.labels, minlength=source.num_classes)
  info = {"name": name, "split": split, "classes": int(source.num_classes), "samples": len(source),
          "samples_per_class": {"min": int(counts.min()), "median": float(np.median(counts)),
                                "max": int(counts.max())},
          "image_shape": list(source.image_shape)}
  if isinstance(source, glyphs.GlyphPool):
    designs = np.array([source.design_count(c) for c in range(source.num_classes)])
    info["designs_per_class"] = {"min": int(designs.min()), "median": float(np.median(designs)),
                                 "max": int(designs.max())}
    info["fonts_faces"] = len(source.faces)
    info["note"] = "samples per class are virtual: rendered on demand from (seed, class, index)"
  return info


def data_prepare(tasks, resolution: int) -> list[dict]:
  from jaxdiv.data import downstream, glyphs
  rows = []
  start = time.perf_counter()
  pool = glyphs.GlyphPool(glyphs.GlyphPoolConfig(resolution=resolution))
  rows.append({"task": "glyphs (design index)", "classes": pool.num_classes,
               "seconds": round(time.perf_counter() - start, 1)})
  for task in tasks:
    start = time.perf_counter()
    builder = downstream.prepare(task, resolution)
    splits = builder.info.splits
    rows.append({"task": task, "classes": builder.info.features["label"].num_classes,
                 "train": splits["train"].num_examples, "test": splits["test"].num_examples,
                 "seconds": round(time.perf_counter() - start, 1)})
    print(json.dumps(rows[-1]), flush=True)
  return rows


def _logging():
  """INFO progress lines; `force` because importing TFDS/absl may already have configured the root logger."""
  import logging
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
  for name in ("absl", "jax._src.xla_bridge", "orbax", "tensorflow_datasets", "matplotlib"):
    logging.getLogger(name).setLevel(logging.WARNING)
  # TFDS warns on every load of a builder config it was given (our resolution configs); not actionable.
  logging.getLogger("absl").addFilter(lambda record: "Using custom data configuration" not in record.getMessage())


def run_study(config, workdir: str, description: str) -> dict:
  from jaxdiv.sweep.study import run_study as study
  _logging()
  return study(config, workdir, description)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="jaxdiv", description=__doc__)
  commands = parser.add_subparsers(dest="command", required=True)

  data = commands.add_parser("data", help="inspect and prepare datasets")
  data_commands = data.add_subparsers(dest="data_command", required=True)
  show = data_commands.add_parser("show", help="write a sample grid PNG")
  show.add_argument("name")
  show.add_argument("--out", required=True)
  show.add_argument("--classes", type=int, default=8)
  show.add_argument("--per-class", type=int, default=12)
  info = data_commands.add_parser("info", help="classes, samples and designs per class, resolution")
  info.add_argument("name")
  prepare = data_commands.add_parser("prepare", help="build the glyph design index and the downstream tasks")
  prepare.add_argument("--tasks", nargs="*", default=None)
  demo_parser = commands.add_parser("demo", help="run the demo study on the embedded data (about 15 min on 2 cores)")
  demo_parser.add_argument("--workdir", default="runs/demo")
  demo_parser.add_argument("--quick", action="store_true", help="a one-minute version for tests")
  sweep = commands.add_parser("sweep", help="the study of a config: grid, probes, fit, validation, report",
                              epilog="Override config fields with --config.FIELD=VALUE")
  sweep.add_argument("--config", required=True)
  sweep.add_argument("--workdir", help="required unless --plan")
  for sub in (sweep, demo_parser):
    sub.add_argument("--plan", action="store_true",
                     help="print every run of the study (stage, mode, N, K, n, seed, steps, images) as JSON lines "
                          "and the total, without training")
  probe = commands.add_parser("probe", help="probe a pretrain workdir's final checkpoint on downstream tasks")
  probe.add_argument("--workdir", required=True)
  probe.add_argument("--tasks", nargs="*", default=None, help="default: the six embedded tasks")
  probe.add_argument("--kinds", nargs="*", default=None, choices=["ridge", "logistic"])
  report = commands.add_parser("report", help="write report.md and figures from a study's results")
  report.add_argument("--workdir", required=True)
  report.add_argument("--probe", default="ridge")
  pretrain = commands.add_parser(
      "pretrain", help="pre-train one run or a stack of runs from a config; resumes from --workdir",
      epilog="Override any config field with --config.FIELD=VALUE, e.g. --config.train.learning_rate=0.05")
  pretrain.add_argument("--config", required=True, help="configs/X.py or configs/X.py:arg")
  pretrain.add_argument("--workdir", required=True)
  for sub in (sweep, pretrain):
    sub.add_argument("--distributed", action="store_true",
                     help="join the other processes first (jax.distributed.initialize): multi-host TPU pods and "
                          "GPU clusters find each other; elsewhere also give the three options below")
    sub.add_argument("--coordinator", default=None, help="host:port of process 0 (implies --distributed)")
    sub.add_argument("--num-processes", type=int, default=None)
    sub.add_argument("--process-id", type=int, default=None)
  fit = commands.add_parser("fit", help="fit the bound model to a study's results")
  fit.add_argument("--workdir", required=True)
  fit.add_argument("--probe", default="ridge")
  fit.add_argument("--max-classes", type=int, default=None)
  fit.add_argument("--replicates", type=int, default=200)
  fit.add_argument("--fit-budgets", type=int, nargs="*", default=None,
                   help="fit the bound model to these N only (default: every sweep N)")
  predict = commands.add_parser("predict", help="predict K*, n* for a larger budget")
  predict.add_argument("--workdir", required=True)
  predict.add_argument("--total", type=int, required=True)
  predict.add_argument("--max-classes", type=int, default=None)
  for sub in (show, info, prepare):
    sub.add_argument("--resolution", type=int, default=32)
  for sub in (show, info):
    sub.add_argument("--split", default="train")
  show.add_argument("--seed", type=int, default=0)
  return parser


def _config(spec: str, overrides: list[str], args):
  """The config file `path[:arg]` with `--config.x=y` overrides; joins the pod first when asked to."""
  from jaxdiv import distributed
  from jaxdiv.train import apply_overrides, load_config
  if args.distributed or args.coordinator:
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  return apply_overrides(load_config(spec), overrides)


def run_pretrain(spec: str, workdir: str, overrides: list[str], args) -> dict:
  from jaxdiv.train import pretrain
  _logging()
  return pretrain(_config(spec, overrides, args), workdir)


def main(argv=None) -> int:
  parser = build_parser()
  args, extra = parser.parse_known_args(argv)
  if extra and args.command not in ("pretrain", "sweep"):
    parser.error(f"unrecognised arguments: {' '.join(extra)}")
  unknown = [e for e in extra if not e.startswith("--config.")]
  if unknown:
    parser.error(f"unrecognised arguments: {' '.join(unknown)} (config overrides look like --config.train.steps=100)")
  if args.command == "sweep" and not (args.plan or args.workdir):
    parser.error("sweep needs --workdir (or --plan to list the runs without training)")
  from jaxdiv.train.loop import NonFiniteLossError, Preempted
  try:
    if args.command == "pretrain":
      summary = run_pretrain(args.config, args.workdir, extra, args)
      print(json.dumps(summary, indent=1))
    elif args.command in ("demo", "sweep"):
      if args.command == "demo":
        from jaxdiv.sweep.demo_config import demo_config
        config, what = demo_config(args.quick), "demo" + (" (quick)" if args.quick else "")
      else:
        config, what = _config(args.config, extra, args), args.config
      if args.plan:
        from jaxdiv.sweep.study import plan_study, plan_total
        plan = plan_study(config)
        for entry in plan:
          print(json.dumps(entry))
        print(json.dumps({"total": plan_total(plan)}))
        return 0
      summary = run_study(config, args.workdir, what)
      prediction = summary.get("prediction") or {}
      print(f"{what}: done in {summary['seconds']:.0f} s. {summary['verdict']['message']}\n"
            f"{prediction.get('message', '')}\nreport: {summary['report']}")
    elif args.command == "probe":
      from jaxdiv.sweep.runner import probe_workdir
      _logging()
      for row in probe_workdir(args.workdir, args.tasks, args.kinds):
        print(f"{row.task:24s} K={row.K:<6d} n={row.n:<6d} seed={row.seed} {row.probe:8s} "
              f"test accuracy {row.accuracy:.4f} (val {row.val_accuracy:.4f}, l2 {row.l2:.2g})")
      print(f"wrote {os.path.join(args.workdir, 'probe.json')}")
    elif args.command == "report":
      from jaxdiv.report import write_report
      print(write_report(args.workdir, args.probe))
    elif args.command == "fit":
      from jaxdiv.bound import study
      fits = study.fit_study(args.workdir, args.probe, args.max_classes, args.replicates, args.fit_budgets)
      for task, a in fits.items():
        print(f"{task:24s} family={a.family:8s} alpha={a.params['alpha']:.3f} beta={a.params['beta']:.3f} "
              f"grad_norm={a.grad_norm:.1e} invariance (bound)={a.invariance['verdict']} "
              f"slope={a.slope.get('verdict')} boundary={a.boundary}")
      print(f"wrote {os.path.join(args.workdir, 'fit.json')}")
    elif args.command == "predict":
      from jaxdiv.bound import study
      for task, p in study.predict_study(args.workdir, args.total, args.max_classes).items():
        if p["status"] == "ok":
          print(f"{task:24s} N={p['N']} K*={p['K_star']:.1f} [{p['K_ci95'][0]:.1f}, {p['K_ci95'][1]:.1f}] "
                f"-> K={p['K']} n={p['n']}" + (" (capped at the classes available)" if p["capped"] else ""))
        else:
          print(f"{task:24s} {p['message']}")
    elif args.command == "data" and args.data_command == "show":
      print(data_show(args.name, args.out, args.classes, args.per_class, args.seed, args.split, args.resolution))
    elif args.command == "data" and args.data_command == "info":
      print(json.dumps(data_info(args.name, args.split, args.resolution), indent=2))
    elif args.command == "data" and args.data_command == "prepare":
      from jaxdiv.data import downstream
      data_prepare(args.tasks or downstream.DEFAULT_TASKS, args.resolution)
  except Preempted as stop:
    print(f"jaxdiv: {stop}", file=sys.stderr)
    return 143
  except (ValueError, FileNotFoundError, RuntimeError, NonFiniteLossError) as error:
    print(f"jaxdiv: error: {error}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
