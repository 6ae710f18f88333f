"""The pool's dials (designs per class, spread), the factor study runner, and the slope of ln n* on ln level."""

import numpy as np
import pytest
from conftest import SMALL_RANGE

from jaxdiv import factor
from jaxdiv.bound import power
from jaxdiv.data import glyphs, render
from jaxdiv.results import read_rows
from jaxdiv.stats import measured


def dialled_pool(**dials):
  return glyphs.GlyphPool(glyphs.GlyphPoolConfig(codepoint_range=SMALL_RANGE, samples_per_class=50, **dials))


def test_default_dials_render_todays_samples_index_for_index(small_pool):
  """D = 0 and spread 1 draw exactly as the pool did before it had dials: a design uniformly from all of the
  class's designs, then the default warps, both from the generator seeded by (pool seed, code point, index)."""
  pool = dialled_pool(designs_per_class=0, spread=1.0)
  for class_index, sample in [(0, 0), (3, 17), (11, 49), (pool.num_classes - 1, 5)]:
    code = int(pool.codepoints[class_index])
    rng = np.random.default_rng([0, code, sample])
    designs = pool.designs[class_index]
    face = pool.faces[designs[rng.integers(len(designs))]]
    before = render.render_sample(face, chr(code), pool.config.resolution, rng, render.Augment())[..., None]
    np.testing.assert_array_equal(pool.render(class_index, sample), before)
    np.testing.assert_array_equal(small_pool.render(class_index, sample), before)
  assert pool.fingerprint() == small_pool.fingerprint()


def test_designs_per_class_are_nested_and_change_the_images():
  one, four = dialled_pool(designs_per_class=1), dialled_pool(designs_per_class=4)
  for c in range(one.num_classes):
    assert len(one.class_designs(c)) == 1 and len(four.class_designs(c)) == 4
    assert one.class_designs(c)[0] in four.class_designs(c)
    assert set(four.class_designs(c)) <= set(one.designs[c])
  # With one design a class's samples differ only by their warps: the plain renderings are all equal.
  plain = dialled_pool(designs_per_class=1, spread=0.0)
  images = [plain.render(2, j) for j in range(6)]
  assert all(np.array_equal(images[0], image) for image in images[1:])
  assert len({one.fingerprint(), four.fingerprint(), dialled_pool().fingerprint()}) == 3


def test_spread_scales_every_warp_range():
  base = render.Augment()
  assert base.scaled(1.0) is base
  double, none = base.scaled(2.0), base.scaled(0.0)
  assert double.rotate_deg == 2 * base.rotate_deg and double.elastic == 2 * base.elastic
  assert double.scale == pytest.approx((0.6, 1.0)) and none.scale == pytest.approx((0.8, 0.8))
  assert none.rotate_deg == none.shear == none.shift == none.elastic == none.bolder_prob == 0
  assert base.scaled(10.0).bolder_prob + base.scaled(10.0).thinner_prob == pytest.approx(1.0)
  plain = dialled_pool(spread=0.0)
  assert plain.augment == none and plain.fingerprint() != dialled_pool().fingerprint()


def test_bad_dials_name_the_fix():
  fewest = min(len(d) for d in dialled_pool().designs)
  with pytest.raises(ValueError, match=rf"at least {fewest} designs, so D must lie in \[1, {fewest}\]"):
    dialled_pool(designs_per_class=fewest + 1)
  with pytest.raises(ValueError, match="data.spread must be >= 0"):
    dialled_pool(spread=-0.5)
  from jaxdiv.configs.demo import get_config
  from jaxdiv.train.config import validate
  for field, value, message in [("spread", -1.0, "data.spread must be >= 0"),
                                ("designs_per_class", -2, "data.designs_per_class must be >= 0")]:
    config = get_config("quick")
    config.data[field] = value
    with pytest.raises(ValueError, match=message):
      validate(config)
  config = get_config("quick")
  config.data.source, config.data.spread = "jaxdiv_digits", 2.0
  with pytest.raises(ValueError, match="data.spread is a dial of the rendered pools"):
    validate(config)
  config.data.source, config.data.spread, config.data.designs_per_class = "fractals", 2.0, 4
  with pytest.raises(ValueError, match="designs_per_class is a dial of the glyph pool"):
    validate(config)


def test_factor_levels_configs_and_tags():
  from jaxdiv.configs.what_sets_n import get_config
  config = get_config("spread,spread0")
  name, levels = factor.factor_of(config)
  assert (name, levels) == ("data.spread", [0.0, 0.5, 1.0, 2.0])
  assert factor.base_level(config, name, levels) == 1.0
  level = factor.at_level(config, name, 2.0)
  assert level.data.spread == 2.0 and config.data.spread == 1.0 and factor.level_tag(level) == "_spread2"
  assert factor.condition(level) == {"designs_per_class": 0, "spread": 2.0, "width": 8}
  assert config.sweep.k_values == [512, 256, 128, 64, 32, 16]
  designs = get_config("designs")
  assert factor.factor_of(designs) == ("data.designs_per_class", [1, 4, 0])
  assert factor.factor_of(get_config("width"))[1] == [4, 8, 16]
  larger = get_config("spread,N=4096,levels=1/2,n_min=4")  # the follow-up of a level that moved n*
  assert factor.factor_of(larger) == ("data.spread", [1.0, 2.0])
  assert larger.sweep.budgets == [4096] and larger.sweep.k_values == [1024, 512, 256, 128, 64]
  assert larger.sweep.n_min == 2  # the head every run shares stays the CPU study v3's (4096 / 2 classes)
  assert factor.base_level(designs, *factor.factor_of(designs)) == 0
  config.sweep.factor = "train.learning_rate"
  with pytest.raises(ValueError, match="a factor must be one of"):
    factor.factor_of(config)
  from jaxdiv.configs.imbalance_cpu import get_config as imbalance_config
  assert factor.factor_of(imbalance_config("long")) == ("data.imbalance", [0.0, 1.5])
  with pytest.raises(ValueError, match="name one factor"):
    get_config(None)


def factor_slope_of(rows, levels):
  best = [measured.best_k(measured.curves(rows, where={"spread": level})[1024], 400, seed=i)
          for i, level in enumerate(levels)]
  return measured.factor_slope(best, levels, "data.spread")


@pytest.mark.parametrize("gamma", [0.0, 0.6])
def test_factor_slope_interval_covers_a_known_slope(gamma):
  """n* = 12·level^γ at spread 0.5 / 1 / 2, three paired seeds, the report's own path (curves -> best_k ->
  factor_slope): the 95% interval covers γ in about 95% of 150 simulated studies (v3's noise at N = 1024)."""
  rng = np.random.default_rng(7)
  levels = [0.5, 1.0, 2.0]
  covered = []
  for _ in range(150):
    result = factor_slope_of(power.factor_rows({s: 12 * s ** gamma for s in levels}, rng), levels)
    low, high = result["slope_ci95"]
    covered.append(low <= gamma <= high)
  assert 0.90 <= np.mean(covered) <= 0.995


def test_factor_verdicts():
  assert measured.factor_verdict([0.2, 0.8], "x")[0] == "n* moves with x"
  assert measured.factor_verdict([-0.1, 0.12], "x")[0] == "n* does not depend on x (within ±0.15)"
  assert measured.factor_verdict([0.02, 0.1], "x")[0] == "n* moves with x, but within ±0.15"
  assert measured.factor_verdict([-0.3, 0.4], "x")[0] == "inconclusive"


@pytest.mark.slow  # ~75 s on 2 cores (ten runs at two levels, a resume, a probe): .ci/run runs it
def test_factor_study_runs_gates_resumes_and_probes_each_level(tmp_path):
  """A factor study end to end on the quick config: rows record each level, the gate retrains every K at the
  last level and the base level's best K, a second call trains nothing, and a task added afterwards is
  probed under each stack's own level."""
  from test_study import quick_sweep_config

  from jaxdiv import study
  from jaxdiv.sweep.runner import probe_study
  config = quick_sweep_config()
  config.sweep.factor, config.sweep.levels = "data.designs_per_class", [0, 1]
  config.sweep.k_values, config.sweep.gate = [8, 32, 64], True
  workdir = str(tmp_path)
  study.run_factor_study(config, workdir, "test")
  rows = read_rows(workdir)
  sweep = [r for r in rows if r.stage == "sweep"]
  assert sorted({(r.designs_per_class, r.K) for r in sweep}) == [(d, k) for d in (0, 1) for k in (8, 32, 64)]
  assert all(r.width == config.model.width for r in rows)
  gate = sorted({(r.designs_per_class, r.K) for r in rows if r.stage == "gate"})
  assert [k for d, k in gate if d == 1] == [8, 32, 64] and len([k for d, k in gate if d == 0]) == 1
  assert len([r for r in rows if r.stage == "baseline"]) == 2  # chance and random init, once for one width
  report = (tmp_path / "report" / "report.md").read_text()
  assert "slope of ln n* on ln data.designs_per_class" in report and "| all | 256 |" in report
  assert (tmp_path / "report" / "factor_N256.png").exists()
  study.run_factor_study(config, workdir, "test")
  assert read_rows(workdir) == rows  # resumed: nothing retrained
  added = probe_study(workdir, ["jaxdiv_greek_cyrillic"])
  assert {(r.stage, r.designs_per_class, r.K) for r in added if r.stage != "baseline"} == \
      {(r.stage, r.designs_per_class, r.K) for r in rows if r.stage != "baseline"}
  # Each level's stack restored from its own pool: the D = 1 rows differ from a probe of the D = 0 ones.
  one = {(r.K, r.seed): r for r in added if r.stage == "sweep" and r.designs_per_class == 1}
  assert all(r.pretrain_heldout_error is not None for r in one.values())
  assert read_rows(workdir)[:len(rows)] == rows  # appended, nothing rewritten


def test_plan_of_a_resumed_factor_study_prices_only_what_is_left(tmp_path):
  from jaxdiv import study
  from jaxdiv.configs.what_sets_n import get_config
  from jaxdiv.results import ResultRow, append_rows
  config = get_config("spread,N=4096,levels=1/2,n_min=4")
  plan = study.plan(config)
  assert study.mark_finished(config, plan, str(tmp_path / "empty")) == plan  # no workdir yet: nothing marked

  def rows_of(stage, spread, k, seed, steps):
    return [ResultRow(task=task, N=4096, K=k, n=4096 // k, seed=seed, error=0.3, probe=probe, stage=stage,
                      steps=steps, spread=spread, width=8)
            for task in config.probe.tasks for probe in config.probe.kinds]
  finished = [row for k in (1024, 512, 256, 128, 64) for seed in (0, 1, 2)
              for row in rows_of("sweep", 1.0, k, seed, 6400)]
  finished += rows_of("gate", 1.0, 256, 0, 12800) + rows_of("sweep", 2.0, 64, 0, 6400)[:-1]  # one task short
  append_rows(str(tmp_path), finished)
  marked = study.mark_finished(config, plan, str(tmp_path))
  done = [p for p in marked if p["done"]]
  assert len(done) == 16  # spread 1's 15 grid runs and its best-K gate (null K); not the run one task short
  assert all(p["level"] == 1.0 for p in done)
  total = study.plan_total(marked)
  assert total["runs"] == len(plan) and total["to_do"]["runs"] == len(plan) - 16
  left = study.left_to_train(config, plan, str(tmp_path))  # what a resumed run's own estimate prices
  assert len(left) == len(plan) - 16 and not any(p["done"] for p in left)


def test_fractal_edge_check_trains_v4s_runs_alike_and_adds_only_n_64():
  """`fractals_cpu.py:edge` reuses v4's N = 4096 rows (copied, not retrained): that holds only if each run
  there gets v4's head, model and training, and the only new K is the one beyond v4's low-K edge."""
  from jaxdiv.configs import fractals_cpu
  from jaxdiv.sweep import grid
  from jaxdiv.sweep.runner import head_classes
  v4, edge = fractals_cpu.get_config(None), fractals_cpu.get_config("edge")
  classes = 4508 - 492  # the fractal pool's pre-training classes
  assert head_classes(edge.sweep, 4096, classes) == head_classes(v4.sweep, 4096, classes) == 2048
  assert edge.train == v4.train and edge.model == v4.model and edge.data == v4.data and edge.probe == v4.probe
  v4_ks = {s.num_classes for s in grid.design(v4.sweep, classes, 2000) if s.num_classes * s.per_class == 4096}
  edge_ks = {s.num_classes for s in grid.design(edge.sweep, classes, 2000)}
  assert edge_ks - v4_ks == {64} and v4_ks <= edge_ks
