"""Text pieces every report shares: number and interval formats, the floors, the header lines."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from jaxdiv import io
from jaxdiv.results import AVERAGE, ResultRow, read_rows, with_average


def fmt(value, spec=".3f"):
  return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def fitted_k(value, total: int) -> str:
  """A fitted K*: past N (n < 1) it is not a split of N but a fit with no finite optimum (one budget, say)."""
  if value is not None and np.isfinite(value) and value > total:
    return f"> {total} (no finite optimum)"
  return fmt(value, ".1f")


def points(value):
  return None if value is None else 100 * value


def ci(interval, spec=".3f") -> str:
  return "–" if not interval else f"[{format(interval[0], spec)}, {format(interval[1], spec)}]"


def yes_no(flag) -> str:
  return "yes" if flag else "no"


def as_number(value) -> float:
  """A prior's value: a number, or the mean of its per-budget values."""
  return float(np.mean(list(value.values()))) if isinstance(value, dict) else float(value)


def points_ci(ci) -> str:
  return "–" if ci is None else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def floors(rows: list[ResultRow], probe: str) -> dict:
  """{task: {"chance": error, "random init": error}} from the baseline rows, the average task included."""
  out = defaultdict(dict)
  for r in with_average([r for r in rows if r.probe == probe and r.stage == "baseline"]):
    out[r.task]["chance" if r.mode == "chance" else "random init"] = r.error
  return dict(out)


def time_line(meta: dict) -> str | None:
  """Wall seconds by phase as measured, beside the estimate `--plan` would have printed at the start."""
  measured = meta.get("phases_seconds")
  if not measured:
    return f"- **wall seconds**: {meta['wall_seconds']}" if "wall_seconds" in meta else None
  calls = len(meta.get("calls") or [1])
  where = "in this call" if calls == 1 else f"over the {calls} calls that trained (a resumed study)"
  line = (f"- **wall time**: {meta['wall_seconds']:.0f} s {where} (" +
          ", ".join(f"{name.replace('_', ' and ')} {seconds:.0f} s" for name, seconds in measured.items()) + ")")
  estimate = meta.get("estimate") or {}
  if estimate.get("rates") and not estimate.get("unpriced_shapes"):
    line += (f"; estimated before it started: {estimate['seconds']:.0f} s (" +
             ", ".join(f"{name.replace('_', ' and ')} {seconds:.0f} s"
                       for name, seconds in estimate["phases_seconds"].items()) +
             f"; from rates recorded on this machine; excludes {estimate['excludes']})")
  elif estimate:
    line += "; no estimate before it started (no earlier run of these shapes on this machine; `--plan` times them)"
  return line


def header_lines(meta: dict) -> list[str]:
  """What was run, where, and how long it took, one line each."""
  lines = [f"- **{key.replace('_', ' ')}**: {meta[key]}" for key in ("machine", "devices", "model", "budget")
           if key in meta]
  lines += [line for line in [time_line(meta)] if line]
  lines += [f"- **{key.replace('_', ' ')}**: {meta[key]}" for key in ("sweep_N", "fit_N", "validation_N")
            if key in meta]
  if "standard_K" in meta:
    lines.append(f"- **standard K** (the usual choice, \"all classes\"): K = {meta['standard_K']} at N = "
                 f"{meta.get('validation_N')}, i.e. as many classes as n >= {meta.get('n_min', 'n_min')} allows, "
                 f"capped at sweep.standard_classes = {meta.get('standard_classes')}")
  if meta.get("note"):
    lines.append(f"- **note**: {meta['note']}")
  return lines


def by_task(rows) -> dict[str, list]:
  grouped = defaultdict(list)
  for r in with_average(rows):
    grouped[r.task].append(r)
  return dict(sorted(grouped.items(), key=lambda item: (item[0] != AVERAGE, item[0])))


def _record_text(record: list[dict]) -> str:
  if not record:
    return "not validated on this study"
  held = ", ".join(f"N = {r['N']} ratio {r['ratio']:.2f} {'inside' if r['covered'] else 'outside'} its interval"
                   for r in record)
  return f"validated here: {held}"


def _one_prediction(name: str, p: dict) -> str:
  if p.get("status") != "ok":
    return f"{name}: no prediction ({p.get('message') or p.get('status')})"
  interval = p.get("K_ci95")
  text = (f"{name}: K* = {p['K_star']:.0f}" + (f" [{interval[0]:.0f}, {interval[1]:.0f}]" if interval else "")
          + f" -> K = {p['K']}, n = {p['n']} ({_record_text(p.get('record', []))})")
  return text + (f"; not used: {p['rejected']}" if p.get("rejected") else "")


def prediction_line(prediction: dict, total: int) -> str:
  """`jaxdiv predict`'s answer for one task: both methods side by side, each with its interval and its record
  on this study, then the default and the band of K both allow."""
  bound, free, chosen = prediction["bound"], prediction["model_free"], prediction["recommended"]
  parts = [f"N = {total}", _one_prediction("model-free", free),
           _one_prediction(f"bound model ({bound.get('family')})", bound)]
  if chosen["method"]:
    parts.append(f"recommended: {chosen['method']} ({chosen['why']})")
  band = chosen.get("band_both_allow")
  if band == "disjoint":
    parts.append("the two intervals disagree: no K lies in both")
  elif band:
    parts.append(f"K in [{band[0]:.0f}, {band[1]:.0f}] lies in both intervals")
  return "; ".join(parts)


def study_inputs(workdir: str, probe: str) -> tuple[dict, list[ResultRow], str]:
  """(study.json, the probe's rows, the report folder, made) of a study workdir: what every report reads."""
  meta = io.read_json_if_exists(os.path.join(workdir, "study.json")) or {}
  rows = [r for r in read_rows(workdir) if r.probe == probe]
  if not rows:
    raise FileNotFoundError(f"{workdir} has no results.jsonl rows: run `jaxdiv sweep` into it first")
  out_dir = os.path.join(workdir, "report")
  io.makedirs(out_dir)
  return meta, rows, out_dir
