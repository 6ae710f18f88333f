"""The stacked multi-run trainer: each run of a stack equals the same run trained alone."""

import json
import os

import jax
import numpy as np
import pytest
from conftest import restore_run, tiny_train_config

from jaxdiv.data.sampler import RunSpec
from jaxdiv.train import multi, pretrain

RUNS = [{"num_classes": 4, "per_class": 8, "seed": 0}, {"num_classes": 8, "per_class": 4, "seed": 1},
        {"num_classes": 4, "per_class": 8, "seed": 2}, {"num_classes": 8, "per_class": 4, "seed": 3}]
# The runs alone train on one device and the stacks data-parallel over 8, so float reduction order
# differs. With each block's last BN scale at 1 (the default) 20 steps of this tiny net amplify that
# rounding to ~1e-2 even on one unpadded run (on one device the stack still matches alone to 1e-7);
# zero-initialised scales keep the trajectory well-conditioned, so 1e-5 tests the stacking algebra.
WELL_CONDITIONED = {"model.zero_init_last_scale": True}


def _alone(tmp_path_factory, run):
  workdir = str(tmp_path_factory.mktemp(f"alone{run['seed']}"))
  config = tiny_train_config(**{"train.steps": 20, "data.num_classes": run["num_classes"],
                                "data.per_class": run["per_class"], "seed": run["seed"], **WELL_CONDITIONED})
  pretrain(config, workdir)
  return restore_run(workdir, config, run["num_classes"])


@pytest.fixture(scope="module")
def alone_runs(tmp_path_factory):
  return [_alone(tmp_path_factory, run) for run in RUNS]


def _assert_matches(alone, stacked, index, num_classes):
  params = jax.tree.map(lambda x: x[index], stacked.params)
  params["head"] = {"kernel": params["head"]["kernel"][:, :num_classes], "bias": params["head"]["bias"][:num_classes]}
  for a, b in zip(jax.tree.leaves(alone.params), jax.tree.leaves(params)):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
  for a, b in zip(jax.tree.leaves(alone.batch_stats), jax.tree.leaves(jax.tree.map(lambda x: x[index],
                                                                                  stacked.batch_stats))):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strategy,mesh_runs", [("unroll", 1),
                                               pytest.param("vmap", 2, marks=pytest.mark.slow),
                                               pytest.param("vmap", 1, marks=pytest.mark.slow),
                                               pytest.param("map", 1, marks=pytest.mark.slow),
                                               pytest.param("unroll", 4, marks=pytest.mark.slow),
                                               pytest.param("map", 4, marks=pytest.mark.slow)])
def test_stacked_runs_equal_runs_trained_alone(tmp_path, alone_runs, strategy, mesh_runs):
  config = tiny_train_config(**{"train.steps": 20, "multi.strategy": strategy, "mesh.runs": mesh_runs,
                                "mesh.data": 8 // mesh_runs, "multi.max_runs_per_chunk": 4, **WELL_CONDITIONED})
  config.runs = RUNS
  summary = pretrain(config, str(tmp_path))
  assert [r["num_classes"] for r in summary["runs"]] == [4, 8, 4, 8]
  chunk = summary["chunks"][0]
  assert json.load(open(os.path.join(chunk, "summary.json")))["mesh"] == {"runs": mesh_runs, "data": 8 // mesh_runs}
  stacked = restore_run(chunk, config, 8, stacked=4)
  assert int(stacked.step[0]) == 20
  for i, run in enumerate(RUNS):
    _assert_matches(alone_runs[i], stacked, i, run["num_classes"])


@pytest.mark.slow  # 28 s on 2 cores: .ci/run runs it
def test_chunks_group_by_budget_and_resume(tmp_path):
  config = tiny_train_config(**{"train.steps": 4, "multi.max_runs_per_chunk": 2})
  config.runs = [{"num_classes": 4, "per_class": 8, "seed": s} for s in range(3)]
  summary = pretrain(config, str(tmp_path))
  assert len(summary["chunks"]) == 2  # chunks of 2 and 1
  marker = os.path.join(summary["chunks"][0], "summary.json")
  before = os.path.getmtime(marker)
  again = pretrain(config, str(tmp_path))
  assert again["runs"] == summary["runs"] and os.path.getmtime(marker) == before


def test_stack_shares_one_pool_and_chunk_size_follows_memory():
  from jaxdiv.data.pipeline import Subset
  a = Subset(np.array([5, 6, 7, 8]), np.array([0, 0, 1, 1]), 2, 2)
  b = Subset(np.array([7, 8, 9, 10]), np.array([0, 1, 2, 3]), 4, 1)
  stack = multi.stack_subsets([a, b])
  np.testing.assert_array_equal(stack.pool_indices, [5, 6, 7, 8, 9, 10])
  np.testing.assert_array_equal(stack.pool_indices[stack.positions], [[5, 6, 7, 8], [7, 8, 9, 10]])
  with pytest.raises(ValueError, match="share N"):
    multi.stack_subsets([a, Subset(np.arange(3), np.zeros(3, int), 1, 3)])
  assert multi.chunk_size(16, run_bytes=100, budget_bytes=450) == 4
  assert multi.chunk_size(16, run_bytes=100, budget_bytes=10_000, cap=6) == 6
  assert multi.chunk_size(16, run_bytes=10_000, budget_bytes=10) == 1


def test_memory_estimate_from_abstract_shapes_plans_the_chunks(monkeypatch):
  from jaxdiv.data import build_source
  from jaxdiv.train.pretrain import _one_run_bytes, plan_chunks
  config = tiny_train_config()
  source = build_source(config)
  specs = [RunSpec(4, 8, 0), RunSpec(8, 4, 1), RunSpec(4, 8, 2)]
  run_bytes = _one_run_bytes(config, source, specs)
  assert 0 < run_bytes < _one_run_bytes(tiny_train_config(**{"train.batch_size": 32}), source, specs)
  monkeypatch.setattr(multi, "_memory_budget_bytes", lambda: 2 * run_bytes)
  assert [len(chunk) for chunk in plan_chunks(config, source, specs, "vmap")] == [2, 1]
  # On CPU (unroll) a chunk is a wave: one run per device, whatever fits memory.
  assert [len(chunk) for chunk in plan_chunks(config, source, specs * 3, "unroll")] == [len(jax.devices()), 1]


@pytest.mark.slow  # 20 s on 2 cores: .ci/run runs it
def test_waves_of_one_budget_share_one_compiled_program(tmp_path):
  """Two waves with the same N, head and step budget compile once: the pool is padded to M·N rows whatever
  the runs' overlap, and the jitted step is shared between stacks."""
  config = tiny_train_config(**{"train.steps": 4, "multi.max_runs_per_chunk": 2, "mesh.data": 0})
  config.runs = [{"num_classes": 4, "per_class": 8, "seed": 0}, {"num_classes": 8, "per_class": 4, "seed": 1},
                 {"num_classes": 8, "per_class": 4, "seed": 2}, {"num_classes": 2, "per_class": 16, "seed": 3}]
  before = multi.compiled_program.cache_info().misses
  summary = pretrain(config, str(tmp_path))
  assert multi.compiled_program.cache_info().misses == before + 1
  first, second = (json.load(open(os.path.join(c, "summary.json"))) for c in summary["chunks"])
  assert first["head_classes"] == second["head_classes"] == 8 and first["mesh"] == {"runs": 2, "data": 4}
  assert first["compile_seconds"] > 0 and second["compile_seconds"] == 0.0


def test_pool_padding_keeps_rows_and_fixes_the_shape():
  from jaxdiv.train.pretrain import pad_pool
  images = np.arange(3 * 2 * 2 * 1, dtype=np.uint8).reshape(3, 2, 2, 1)
  padded = pad_pool(images, 5)
  assert padded.shape == (5, 2, 2, 1) and not padded[3:].any()
  np.testing.assert_array_equal(padded[:3], images)
  assert pad_pool(images, 3) is images


def test_an_imbalanced_run_stacks_with_balanced_runs_of_its_n(small_pool):
  """A stack holds runs of one N whatever their class sizes: the imbalanced run's labels follow the power law
  (class k has n_k images, in the seed's class order), s = 0 draws today's subset, and the run records K_eff."""
  from jaxdiv.data import sampler
  specs = [RunSpec(8, 6, 0), RunSpec(8, 6, 0, imbalance=1.0), RunSpec(4, 12, 1, imbalance=1.5)]
  stack = multi.draw_stack(small_pool, specs)
  assert stack.positions.shape == (3, 48)
  np.testing.assert_array_equal(np.bincount(stack.labels[1]), sampler.power_law_sizes(8, 48, 1.0))
  np.testing.assert_array_equal(np.bincount(stack.labels[2]), sampler.power_law_sizes(4, 48, 1.5))
  balanced = sampler.subset_indices(small_pool.labels, 8, 6, 0)
  np.testing.assert_array_equal(stack.pool_indices[stack.positions[0]], balanced)
  subset = multi.draw_run_subset(small_pool, specs[1])
  assert subset.effective_classes < 8
  assert multi.draw_run_subset(small_pool, specs[0]).effective_classes == pytest.approx(8)
  assert specs[1].name == "K8_n6_s0_z1" and specs[0].name == "K8_n6_s0"
  with pytest.raises(ValueError, match="no class imbalance"):
    multi.draw_run_subset(small_pool, RunSpec(8, 6, 0, "cluster", imbalance=1.0))
