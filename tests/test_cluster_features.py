"""The contrast case in a feature space: NMI against scikit-learn, the three spaces, and a contrast run that
records how far its cluster labels agree with the true classes."""

import numpy as np
import pytest
from conftest import tiny_train_config
from sklearn.metrics import normalized_mutual_info_score

from jaxdiv.data.clusters import clustered_subset, normalized_mutual_information


def test_nmi_matches_scikit_learn():
  rng = np.random.default_rng(0)
  for _ in range(5):
    a, b = rng.integers(0, 6, 200), rng.integers(0, 4, 200)
    b[:120] = a[:120] % 4  # partly dependent
    assert normalized_mutual_information(a, b) == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-10)
  assert normalized_mutual_information([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)


def test_a_space_that_knows_the_classes_gives_labels_that_match_them(small_pool):
  def oracle(images):  # a feature space in which every class is one tight point, as a perfect network's
    return np.eye(small_pool.num_classes, dtype=np.float32)[small_pool.labels[chosen]] * 10

  total, seed = 60, 3
  chosen = np.sort(np.random.default_rng([seed, 7]).choice(len(small_pool), total, replace=False))
  true = small_pool.labels[chosen]
  k = len(np.unique(true))
  by_oracle = clustered_subset(small_pool, total, k, seed, featurize=oracle)
  by_pixels = clustered_subset(small_pool, total, k, seed)
  np.testing.assert_array_equal(by_oracle.indices, chosen)
  assert normalized_mutual_information(by_oracle.labels, true) > 0.95
  assert normalized_mutual_information(by_pixels.labels, true) < normalized_mutual_information(by_oracle.labels, true)


def test_spaces_and_the_error_for_a_missing_workdir(tmp_path, small_pool):
  from jaxdiv.train import embed
  from jaxdiv.train.config import validate
  config = tiny_train_config()
  images, _ = small_pool.read_batch(np.arange(10))
  pixels = embed.cluster_featurizer(config, small_pool.image_shape)(images)
  np.testing.assert_array_equal(pixels, images.reshape(10, -1).astype(np.float32) / 255)
  config.cluster.features = "random_init"
  features = embed.cluster_featurizer(config, small_pool.image_shape)(images)
  again = embed.cluster_featurizer(config, small_pool.image_shape)(images)
  assert features.shape == (10, 8 * config.model.width)
  np.testing.assert_array_equal(features, again)  # the control is one fixed network (the config's seed)
  config.cluster.features = str(tmp_path / "nowhere")
  with pytest.raises(ValueError, match="the workdir of a finished `jaxdiv pretrain` run"):
    validate(config)


@pytest.mark.slow
def test_contrast_run_in_a_pretrained_space_records_its_agreement(tmp_path, small_pool):
  from jaxdiv.data.sampler import RunSpec
  from jaxdiv.train.pretrain import pretrain, train_stack
  features_run = tmp_path / "features_net"
  pretrain(tiny_train_config(), str(features_run))
  config = tiny_train_config(**{"cluster.features": str(features_run)})
  trained = train_stack(config, small_pool, [RunSpec(4, 8, 0, "cluster")], str(tmp_path / "contrast"),
                                 "unroll")
  run = trained.summary["runs"][0]
  assert run["cluster_features"] == str(features_run)
  for name in ("cluster_nmi", "cluster_nmi_chance", "space_nmi", "space_nmi_chance"):
    assert 0.0 <= run[name] <= 1.0


def test_report_tables_the_agreement_of_contrast_runs():
  from jaxdiv.report.report import contrast_agreement
  from jaxdiv.results import ResultRow
  row = lambda mode, k, seed, error, nmi=None: ResultRow(
      task="average", N=64, K=k, n=64 // k, seed=seed, error=error, probe="ridge", mode=mode, stage="sweep",
      cluster_features="random_init" if nmi is not None else None, cluster_nmi=nmi,
      cluster_nmi_chance=None if nmi is None else nmi / 2, space_nmi=None if nmi is None else 0.5)
  rows = [row("cluster", 8, 0, 0.5, 0.2), row("cluster", 8, 1, 0.6, 0.4), row("class", 8, 0, 0.3)]
  lines = contrast_agreement(rows, rows)
  assert "| 64 | 8 | random_init | 0.30 | 0.15 | 0.50 | – | 0.550 | 0.300 |" in lines
  assert contrast_agreement([row("class", 8, 0, 0.3)], []) == []  # studies before it: no table


def test_chance_nmi_is_the_expected_nmi_of_shuffled_labels():
  """Against scikit-learn's exact expected mutual information under shuffling (the correction of its
  adjusted MI): near-singleton classes give a high NMI by chance alone, grouped classes a low one."""
  from sklearn.metrics.cluster import contingency_matrix
  from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information

  from jaxdiv.data.clusters import chance_nmi
  rng = np.random.default_rng(0)
  for classes, k in ((900, 256), (16, 16)):
    true, labels = rng.integers(0, classes, 1024), rng.integers(0, k, 1024)
    entropy = lambda x: float(-(p := np.bincount(x) / len(x))[p > 0] @ np.log(p[p > 0]))
    expected = expected_mutual_information(contingency_matrix(labels, true, sparse=True), len(true)) / (
        (entropy(labels) + entropy(true)) / 2)
    assert chance_nmi(labels, true, seed=1, draws=20) == pytest.approx(expected, abs=0.01)
  assert chance_nmi(labels, true, seed=1) < 0.05 < normalized_mutual_information(true, true)


def test_space_agreement_tells_a_space_that_groups_classes_from_one_that_does_not():
  from jaxdiv.data.clusters import space_agreement

  class Grey:  # 8 classes of 20 images, each class one grey level with a little noise
    labels = np.repeat(np.arange(8), 20)

    def read_batch(self, indices):
      noise = np.random.default_rng(0).integers(0, 5, (len(indices), 4, 4, 1))
      return (self.labels[indices][:, None, None, None] * 30 + noise).astype(np.uint8), self.labels[indices]

  noise = lambda images: np.random.default_rng(0).normal(size=(len(images), 8)).astype(np.float32)
  pixels = space_agreement(Grey(), None, seed=0, classes=8, per_class=10)
  scrambled = space_agreement(Grey(), noise, seed=0, classes=8, per_class=10)
  assert pixels["space_nmi"] > 0.95 and pixels["space_nmi_chance"] < 0.3
  assert scrambled["space_nmi"] < 0.5


def test_contrast_table_reads_each_space_from_its_workdir(tmp_path):
  """scripts/contrast_table.py: per workdir its space, NMI against chance, errors by K and fit.json's verdict."""
  import importlib.util
  import json
  import pathlib

  from jaxdiv.results import ResultRow, append_rows
  spec = importlib.util.spec_from_file_location(
      "contrast_table", pathlib.Path(__file__).parents[1] / "scripts" / "contrast_table.py")
  contrast_table = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(contrast_table)
  agreement = dict(cluster_features="random_init", cluster_nmi=0.8, cluster_nmi_chance=0.7, space_nmi=0.3,
                   space_nmi_chance=0.1)
  rows = [ResultRow(task=task, N=64, K=k, n=64 // k, seed=seed, error=0.5 - 0.01 * k * (mode == "cluster"),
                    mode=mode, **(agreement if mode == "cluster" else {}))
          for task in ("a", "b") for mode in ("class", "cluster") for k in (4, 8, 16) for seed in (0, 1)]
  append_rows(str(tmp_path), rows)
  (tmp_path / "fit.json").write_text(json.dumps(
      {"average": {"contrast": [{"N": 64, "spearman_per_seed": [-1.0, -1.0], "verdict": "monotone"}]}}))
  summary = contrast_table.space_summary(str(tmp_path))
  assert summary["space"] == ["random_init"] and summary["K"] == [4, 8, 16]
  assert summary["cluster_error"] == pytest.approx([0.46, 0.42, 0.34]) and summary["class_error"] == [0.5] * 3
  line = contrast_table.table([summary])[-1]
  assert line.startswith("| – | random_init | whole pool | 0.80 (0.70) | 0.30 (0.10) | 0.460 / 0.500 |")
  assert line.endswith("| -1.00, -1.00 | monotone |")


def test_a_contrast_sample_from_c_classes_is_the_class_subset_of_that_seed(small_pool):
  """cluster.sample_classes = C: the sample is the class-labelled subset at K = C of the same seed (N/C images
  of each of C classes), whatever the number of clusters; a C that does not divide N is refused."""
  from jaxdiv.data.pipeline import draw_subset
  seed, total = 4, 48
  subset = draw_subset(small_pool, 6, 8, seed)
  for clusters in (3, 12):
    sampled = clustered_subset(small_pool, total, clusters, seed, sample_classes=6)
    np.testing.assert_array_equal(sampled.indices, np.sort(subset.indices))
    assert len(np.unique(small_pool.labels[sampled.indices])) == 6 and sampled.num_classes <= clusters
  with pytest.raises(ValueError, match="must divide N=48"):
    clustered_subset(small_pool, total, 3, seed, sample_classes=5)


def test_a_sample_class_count_that_does_not_divide_the_contrast_budgets_is_refused():
  from jaxdiv.configs import fractals_cpu
  from jaxdiv.train.config import validate
  validate(fractals_cpu.get_config("contrast,classes=64"))
  with pytest.raises(ValueError, match=r"cluster.sample_classes=96: use 0 \(sample the whole pool\) or a C that"):
    validate(fractals_cpu.get_config("contrast,classes=96"))
  single = fractals_cpu.get_config("contrast,classes=64")  # a `jaxdiv pretrain` config: no sweep contrast,
  single.sweep.cluster, single.sweep.budgets, single.sweep.cluster_budgets = False, [2000], []  # its N checked per run
  validate(single)
