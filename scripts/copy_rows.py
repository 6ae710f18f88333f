"""Copy a finished study's rows into another study's workdir, so runs trained under the same config, head and
seeds are not trained twice (a sweep treats a run whose rows cover every task and probe as done).

  .venv/bin/python scripts/copy_rows.py --source docs/studies/fractals_pilot \
      --target docs/studies/fractals_contrast_pixels --stages baseline sweep --modes class chance random_init

Only rows at the budgets named (`--budgets`, baselines always) and of the stages and modes named are copied;
a row the target already holds (same cell, task and probe) is skipped, so running it twice changes nothing.
It is the caller's word that the two configs train those runs alike: the copied rows keep their own steps,
which `--budgets` and a look at both config.json files should confirm.
"""

import argparse

from jaxdiv.results import append_rows, read_rows


def row_key(row) -> tuple:
  return (*row.cell, row.task)


def rows_to_copy(source_rows, target_rows, stages, modes, budgets) -> list:
  """The source's rows of those stages, modes and budgets that the target lacks, in the source's order."""
  have = {row_key(r) for r in target_rows}
  wanted = [r for r in source_rows if r.stage in stages and r.mode in modes
            and (r.stage == "baseline" or not budgets or r.N in budgets)]
  return [r for r in wanted if row_key(r) not in have]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--source", required=True, help="a study workdir with results.jsonl")
  parser.add_argument("--target", required=True, help="the study workdir the rows join (created if missing)")
  parser.add_argument("--stages", nargs="+", default=["baseline", "sweep"])
  parser.add_argument("--modes", nargs="+", default=["class", "chance", "random_init"])
  parser.add_argument("--budgets", type=int, nargs="*", default=[], help="N's to copy (default: every N)")
  args = parser.parse_args()
  source = read_rows(args.source)
  if not source:
    parser.error(f"{args.source} has no results.jsonl rows: name a finished study's workdir")
  rows = rows_to_copy(source, read_rows(args.target), set(args.stages), set(args.modes), set(args.budgets))
  if rows:
    append_rows(args.target, rows)
  print(f"copied {len(rows)} rows from {args.source} to {args.target}")


if __name__ == "__main__":
  main()
