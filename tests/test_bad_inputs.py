"""Bad input a newcomer meets on the command line: each is refused with a message that names the fix, before
anything is written."""

import os

import pytest

from jaxdiv import cli

QUICK = os.path.join(os.path.dirname(__file__), "..", "configs", "demo.py") + ":quick"


def test_plan_refuses_what_the_run_refuses(capsys):
  assert cli.main(["sweep", "--config", QUICK, "--plan", "--no-estimate", "--config.sweep.imbalances=[-1.0]"]) == 2
  assert "sweep.imbalances must be >= 0" in capsys.readouterr().err
  assert cli.main(["sweep", "--config", QUICK, "--plan", "--no-estimate", "--config.data.spread=-1.0"]) == 2
  assert "data.spread must be >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("override, message", [("--config.sweep.imbalances=[-1.0]", "must be >= 0"),
                                               ("--config.sweep.k_values=[7]", "each K must divide N")])
def test_a_refused_run_writes_nothing(tmp_path, capsys, override, message):
  workdir = tmp_path / "study"
  assert cli.main(["sweep", "--config", QUICK, "--workdir", str(workdir), override]) == 2
  assert message in capsys.readouterr().err
  assert not workdir.exists()


def test_a_missing_prior_folder_is_named(tmp_path, capsys):
  missing = str(tmp_path / "no_such_study")
  assert cli.main(["sweep", "--config", QUICK, "--plan", "--no-estimate", "--power", "--prior", missing]) == 2
  assert f"--prior {missing} does not exist" in capsys.readouterr().err
  (tmp_path / "empty").mkdir()
  assert cli.main(["sweep", "--config", QUICK, "--plan", "--no-estimate", "--power", "--prior",
                   str(tmp_path / "empty")]) == 2
  assert "has no results.jsonl" in capsys.readouterr().err
