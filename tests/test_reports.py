"""Every committed study's report regenerates from its committed results unchanged (report.md and its JSON
tables), so a change to the statistics or the report code shows up as a diff here first."""

import pathlib
import shutil

import pytest

from jaxdiv import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
STUDIES = sorted(p.parent.parent for p in (ROOT / "docs" / "studies").glob("*/report/report.md"))


@pytest.mark.slow  # ~35 s on 2 cores for the five studies: .ci/run runs it
@pytest.mark.parametrize("study", STUDIES, ids=[p.name for p in STUDIES])
def test_committed_report_regenerates_unchanged(study, tmp_path):
  copy = tmp_path / study.name
  shutil.copytree(study, copy, ignore=shutil.ignore_patterns("runs", "*.png"))
  assert cli.main(["report", "--workdir", str(copy)]) == 0
  for name in ("report.md", "table.json", "summary.json"):
    if (study / "report" / name).exists():
      assert (copy / "report" / name).read_text() == (study / "report" / name).read_text(), name
