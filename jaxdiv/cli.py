"""The `jaxdiv` command line: parse, set up logging once, then one library call per verb (flax's
examples/imagenet/main.py shape). Everything it runs is importable: see the README's Library sections."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _logging():
  """INFO progress lines; `force` because importing TFDS/absl may already have configured the root logger."""
  import logging
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
  for name in ("absl", "jax._src.xla_bridge", "orbax", "tensorflow_datasets", "matplotlib"):
    logging.getLogger(name).setLevel(logging.WARNING)
  # TFDS warns on every load of a builder config it was given (our resolution configs); not actionable.
  logging.getLogger("absl").addFilter(lambda record: "Using custom data configuration" not in record.getMessage())


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
  variety = data_commands.add_parser("variety", help="a pool's coverage curve: how much each class's next "
                                                     "sample adds, d(n) for n = 1 ... 64")
  variety.add_argument("name")
  variety.add_argument("--classes", type=int, default=32)
  pack = data_commands.add_parser("pack", help="package a folder of images (one subfolder per class) as a TFDS "
                                              "dataset that every command reads by name")
  pack.add_argument("folder")
  pack.add_argument("--name", required=True, help="the dataset's name (then --config.data.source=NAME)")
  pack.add_argument("--data-dir", required=True, help="where to write it (then --config.data.data_dir=DIR)")
  pack.add_argument("--test-fraction", type=float, default=0.2)
  prepare = data_commands.add_parser("prepare", help="build the glyph design index and the downstream tasks")
  prepare.add_argument("--tasks", nargs="*", default=None)
  demo_parser = commands.add_parser("demo", help="run the demo study on the embedded data (about 8 min on 2 "
                                                 "cores; --plan prices it)")
  demo_parser.add_argument("--workdir", default="runs/demo")
  demo_parser.add_argument("--quick", action="store_true", help="a one-minute version for tests")
  sweep = commands.add_parser("sweep", help="the study of a config: grid, probes, fit, validation, report",
                              epilog="Override config fields with --config.FIELD=VALUE")
  sweep.add_argument("--config", required=True)
  sweep.add_argument("--workdir", help="required unless --plan")
  for sub in (sweep, demo_parser):
    sub.add_argument("--plan", action="store_true",
                     help="print every run of the study (stage, mode, N, K, n, seed, steps, images) as JSON lines, "
                          "the total and the wall time it will take on this machine, without training")
    sub.add_argument("--no-estimate", action="store_true",
                     help="with --plan: skip the wall-time estimate (it may time a few steps of each shape)")
    sub.add_argument("--power", action="store_true",
                     help="with --plan: simulate the design's verdicts under known truths (K* ∝ N^0.5, N^0.7, N)")
    sub.add_argument("--prior", default=None,
                     help="with --power: an earlier study's workdir whose seed SD and curvature the simulation uses")
    sub.add_argument("--noise", type=float, default=None, help="with --power: seed SD of the error (0.016 = 1.6 pt)")
    sub.add_argument("--curvature", type=float, default=None,
                     help="with --power: error per (ln K)^2 near the optimum")
  probe = commands.add_parser("probe", help="probe a pretrain workdir's final checkpoint on downstream tasks, or "
                                            "add tasks to a finished study (or one stack folder of it)")
  probe.add_argument("--workdir", required=True)
  probe.add_argument("--tasks", nargs="*", default=None, help="default: the tasks of the workdir's config")
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
  fit.add_argument("--replicates", type=int, default=None, help="default: the study's sweep.replicates, else 200")
  fit.add_argument("--fit-budgets", type=int, nargs="*", default=None,
                   help="fit the bound model to these N only (default: the study's sweep.fit_budgets, else every N)")
  validate = commands.add_parser("validate", help="check every prediction method out of sample on a finished "
                                                 "study: each budget held out in turn, predicted from the others")
  validate.add_argument("--workdir", required=True)
  validate.add_argument("--probe", default="ridge")
  validate.add_argument("--replicates", type=int, default=200)
  predict = commands.add_parser("predict", help="predict K*, n* for a larger budget")
  predict.add_argument("--workdir", required=True)
  predict.add_argument("--total", type=int, required=True)
  predict.add_argument("--max-classes", type=int, default=None)
  for sub in (show, info, prepare):
    sub.add_argument("--resolution", type=int, default=32)
  for sub in (show, info):
    sub.add_argument("--split", default="train")
  show.add_argument("--seed", type=int, default=0)
  variety.add_argument("--resolution", type=int, default=20)
  for sub in (show, info, variety):
    sub.add_argument("--designs-per-class", type=int, default=None,
                     help="glyph pool: the first D designs of each class (0 = all)")
    sub.add_argument("--spread", type=float, default=None,
                     help="glyph pool: a multiplier on every warp range (1 = default, 0 = the plain design); "
                          "fractal and stroke pools: a multiplier on every per-sample perturbation")
  return parser


def _config(args, overrides: list[str]):
  """The config file `path[:arg]` (or the demo's) with `--config.x=y` overrides; joins the other
  processes first when asked to."""
  from jaxdiv import distributed
  from jaxdiv.train import apply_overrides, load_config
  if getattr(args, "distributed", False) or getattr(args, "coordinator", None):
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
  if args.command == "demo":
    from jaxdiv.configs import demo
    return demo.get_config("quick" if args.quick else None)
  return apply_overrides(load_config(args.config), overrides)


def _pretrain(args, overrides):
  from jaxdiv.runtime import enable_compilation_cache
  from jaxdiv.train import pretrain
  enable_compilation_cache()
  print(json.dumps(pretrain(_config(args, overrides), args.workdir), indent=1))


def _power(args, plan) -> dict:
  """`--power`: the design's simulated verdicts, with the prior from `--prior` and/or `--noise`/`--curvature`."""
  from jaxdiv.bound import power
  prior = power.prior_from_results(args.prior) if args.prior else {}
  prior.update({k: v for k, v in (("seed_sd", args.noise), ("curvature", args.curvature)) if v is not None})
  return power.preview(power.design_from_plan(plan), prior)


def _study(args, overrides):
  from jaxdiv import factor, study
  from jaxdiv.train.config import validate
  config = _config(args, overrides)
  validate(config)  # the plan is refused exactly where the run would be
  what = "demo" + (" (quick)" if args.quick else "") if args.command == "demo" else args.config
  crossed = bool(factor.factor_of(config)[0])
  if crossed:
    study.level_configs(config)  # every level validated
  if args.plan:
    from jaxdiv.runtime import enable_compilation_cache
    from jaxdiv.sweep.estimate import estimate_line, estimate_study
    plan = study.mark_finished(config, study.plan(config), args.workdir)  # with --workdir: what is left
    total = study.plan_total(plan)
    todo = [p for p in plan if not p.get("done")]
    if "to_do" in total:
      what += f" ({total['to_do']['runs']} of {total['runs']} runs left in {args.workdir})"
    if not todo:
      args.no_estimate = True
      print(f"{what}: nothing left to train; rerun without --plan to write the report", file=sys.stderr)
    if not args.no_estimate:
      enable_compilation_cache()
      total["estimate"] = (study.estimate_factor if crossed else estimate_study)(config, todo)
    if args.power and not crossed:
      total["power"] = _power(args, plan)
    print("\n".join(json.dumps(entry) for entry in plan + [{"total": total}]), flush=True)
    if not args.no_estimate:
      print(estimate_line(what, total["estimate"]), file=sys.stderr)
    if args.power and not crossed:
      from jaxdiv.bound.power import preview_lines
      print("\n".join(preview_lines(total["power"])), file=sys.stderr)
    return
  if crossed:
    summary = study.run_factor_study(config, args.workdir, what)
    print(f"{what}: done in {summary['seconds']:.0f} s.\nreport: {summary['report']}")
    return
  summary = study.run_study(config, args.workdir, what)
  print(f"{what}: done in {summary['seconds']:.0f} s. {summary['verdict']['message']}\n"
        f"{(summary.get('prediction') or {}).get('message', '')}\nreport: {summary['report']}")


def _probe(args, _):
  from jaxdiv.probe.runs import probe_workdir
  from jaxdiv.sweep.runner import probe_study, study_root
  root = study_root(args.workdir)
  if root:
    rows = probe_study(args.workdir, args.tasks, args.kinds)
    print(f"appended {len(rows)} rows ({', '.join(sorted({r.task for r in rows})) or 'none missing'}) to "
          f"{os.path.join(root, 'results.jsonl')}; `jaxdiv report --workdir {root}` includes them")
    return
  for row in probe_workdir(args.workdir, args.tasks, args.kinds):
    print(f"{row.task:24s} K={row.K:<6d} n={row.n:<6d} seed={row.seed} {row.probe:8s} "
          f"test accuracy {row.accuracy:.4f} (val {row.val_accuracy:.4f}, l2 {row.l2:.2g})")
  print(f"wrote {os.path.join(args.workdir, 'probe.json')}")


def _report(args, _):
  from jaxdiv import factor, io
  from jaxdiv.report import write_report
  from jaxdiv.train.config import load_workdir_config
  if io.exists(os.path.join(args.workdir, "config.json")) and factor.factor_of(load_workdir_config(args.workdir))[0]:
    from jaxdiv.report.factor import write_factor_report
    print(write_factor_report(args.workdir, args.probe))
    return
  print(write_report(args.workdir, args.probe))


def _fit(args, _):
  from jaxdiv import io
  from jaxdiv.results import AVERAGE
  from jaxdiv.study.files import fit_study, refresh_prediction
  from jaxdiv.train.config import load_workdir_config
  config = load_workdir_config(args.workdir) if io.exists(os.path.join(args.workdir, "config.json")) else None
  # A study's own fit budgets and replicates unless given: a refit answers as the study did.
  budgets = args.fit_budgets if args.fit_budgets is not None else (list(config.sweep.fit_budgets) if config else None)
  replicates = args.replicates or (config.sweep.replicates if config else 200)
  fits = fit_study(args.workdir, args.probe, args.max_classes, replicates, budgets or None)
  for task, a in fits.items():
    print(f"{task:24s} family={a.family:8s} alpha={a.params['alpha']:.3f} beta={a.params['beta']:.3f} "
          f"grad_norm={a.grad_norm:.1e} invariance (bound)={a.invariance['verdict']} "
          f"slope={a.slope.get('verdict')} boundary={a.boundary} ({a.family_rule})")
  print(f"wrote {os.path.join(args.workdir, 'fit.json')}")
  if config and AVERAGE in fits and refresh_prediction(args.workdir, fits[AVERAGE], config.sweep.n_min):
    print(f"updated the prediction in {os.path.join(args.workdir, 'study.json')}")


def _predict(args, _):
  from jaxdiv.report.text import prediction_line
  from jaxdiv.study.files import predict_study
  for task, p in predict_study(args.workdir, args.total, args.max_classes).items():
    print(f"{task}: " + prediction_line(p, args.total))


def _data(args, _):
  from jaxdiv.data import downstream, preview
  if args.data_command == "show":
    dials = {"designs_per_class": args.designs_per_class, "spread": args.spread}
    print(preview.show(args.name, args.out, args.classes, args.per_class, args.seed, args.split, args.resolution,
                       **dials))
  elif args.data_command == "info":
    dials = {"designs_per_class": args.designs_per_class, "spread": args.spread}
    print(json.dumps(preview.describe(args.name, args.split, args.resolution, **dials), indent=2))
  elif args.data_command == "variety":
    dials = {"designs_per_class": args.designs_per_class, "spread": args.spread}
    print(json.dumps(preview.variety(args.name, args.resolution, args.classes, **dials)))
  elif args.data_command == "pack":
    from jaxdiv.data.encoded import pack_folder
    builder = pack_folder(args.folder, args.name, args.data_dir, args.test_fraction)
    splits = {name: split.num_examples for name, split in builder.info.splits.items()}
    print(f"{args.name} in {args.data_dir}: {builder.info.features['label'].num_classes} classes, {splits}; use "
          f"--config.data.source={args.name} --config.data.data_dir={args.data_dir} or a probe task "
          f"{args.name}@{args.data_dir}")
  else:
    preview.prepare(args.tasks or downstream.DEFAULT_TASKS, args.resolution)


def _validate(args, _):
  from jaxdiv.report.report import validation_lines
  from jaxdiv.study.validate import validate_study
  table = validate_study(args.workdir, args.probe, args.replicates)
  print("\n".join(validation_lines(table)))
  print(f"wrote {os.path.join(args.workdir, 'validation.json')}")


VERBS = {"pretrain": _pretrain, "validate": _validate,
         "demo": _study, "sweep": _study, "probe": _probe, "report": _report, "fit": _fit,
         "predict": _predict, "data": _data}


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
  _logging()
  from jaxdiv.train.loop import NonFiniteLossError, Preempted
  try:
    VERBS[args.command](args, extra)
  except Preempted as stop:
    print(f"jaxdiv: {stop}", file=sys.stderr)
    return 143
  except (ValueError, FileNotFoundError, RuntimeError, NonFiniteLossError) as error:
    print(f"jaxdiv: error: {error}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
