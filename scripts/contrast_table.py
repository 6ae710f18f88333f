"""The contrast case across feature spaces: one markdown table from several finished contrast studies (one
workdir per `cluster.features`, as `configs/fractals_cpu.py:contrast` runs them).

  .venv/bin/python scripts/contrast_table.py docs/studies/fractals_contrast_pixels \
      docs/studies/fractals_contrast_random_init docs/studies/fractals_contrast_glyph_net

Per workdir (average task, means over seeds): the pool, the space, the NMI of the sample's cluster labels
with its true classes beside its chance level, the NMI k-means reaches on a labelled probe of the pool in that space
beside its chance level, the error with cluster labels and with class labels at each K, and the Spearman
correlation of error with ln K per seed with the study's verdict (fit.json: "monotone" when every seed's
rho <= -0.8, i.e. more clusters always helped).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from jaxdiv.results import AVERAGE, read_rows, with_average
from jaxdiv.train.config import load_workdir_config


def space_summary(workdir: str) -> dict:
  """One feature space's contrast numbers from a finished contrast study's rows and fit.json."""
  rows = [r for r in with_average(read_rows(workdir)) if r.stage == "sweep" and r.probe == "ridge"]
  cluster = [r for r in rows if r.mode == "cluster"]
  if not cluster:
    raise ValueError(f"{workdir} has no contrast (mode 'cluster') rows: run it with sweep.cluster on")
  average = [r for r in rows if r.task == AVERAGE]
  ks = sorted({r.K for r in average if r.mode == "cluster"})
  mean = lambda values: float(np.mean(values)) if values else float("nan")
  field = lambda name: mean([getattr(r, name) for r in cluster if getattr(r, name) is not None])
  with open(os.path.join(workdir, "fit.json")) as f:
    contrast = (json.load(f).get(AVERAGE, {}).get("contrast") or [{}])[0]
  has_config = os.path.exists(os.path.join(workdir, "config.json"))
  pool = load_workdir_config(workdir).data.source if has_config else "–"
  classes = sorted({r.cluster_sample_classes or 0 for r in cluster})
  return {"pool": pool, "space": sorted({r.cluster_features or "pixels" for r in cluster}), "K": ks,
          "sample": "whole pool" if classes == [0] else ", ".join(f"{c} classes" for c in classes),
          "cluster_error": [mean([r.error for r in average if r.mode == "cluster" and r.K == k]) for k in ks],
          "class_error": [mean([r.error for r in average if r.mode == "class" and r.K == k]) for k in ks],
          "nmi": field("cluster_nmi"), "nmi_chance": field("cluster_nmi_chance"),
          "space_nmi": field("space_nmi"), "space_nmi_chance": field("space_nmi_chance"),
          "spearman": contrast.get("spearman_per_seed", []), "verdict": contrast.get("verdict", "–")}


def table(summaries: list[dict]) -> list[str]:
  ks = summaries[0]["K"]
  lines = ["| pool | space | sample from | NMI, sample (chance) | NMI, labelled probe (chance) | "
           + " | ".join(f"K = {k}: cluster / class" for k in ks) + " | Spearman per seed | verdict |",
           "|---" * (7 + len(ks)) + "|"]
  for s in summaries:
    errors = " | ".join(f"{a:.3f} / {b:.3f}" for a, b in zip(s["cluster_error"], s["class_error"]))
    rho = ", ".join(f"{x:+.2f}" for x in s["spearman"])
    lines.append(f"| {s['pool']} | {', '.join(s['space'])} | {s['sample']} | "
                 f"{s['nmi']:.2f} ({s['nmi_chance']:.2f}) | "
                 f"{s['space_nmi']:.2f} ({s['space_nmi_chance']:.2f}) | {errors} | {rho} | {s['verdict']} |")
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("workdirs", nargs="+", help="finished contrast studies, one per feature space")
  args = parser.parse_args()
  print("\n".join(table([space_summary(w) for w in args.workdirs])))


if __name__ == "__main__":
  main()
