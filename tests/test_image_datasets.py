"""Real image datasets by name: tiny JPEG (RGB) and PNG (grey) TFDS datasets built with TFDS's own builder
(no TensorFlow), pre-trained on, probed on, across channel counts; random-resized crops in Grain workers."""

import numpy as np
import pytest
from conftest import tiny_train_config

from jaxdiv.data import encoded
from jaxdiv.data.sources import crop_box, get_source


def _images(seed: int, count: int, classes: int, channels: int):
  """Images of random sizes (18-40 px) whose class is their colour (or grey level), with noise."""
  def generate():
    rng = np.random.default_rng(seed)
    for i in range(count):
      label = i % classes
      height, width = rng.integers(18, 41, 2)
      base = np.array([40 + 50 * label, 220 - 50 * label, 60 + 30 * label][:channels], np.uint8)
      image = np.clip(base + rng.normal(0, 12, (height, width, channels)), 0, 255).astype(np.uint8)
      yield encoded.encode(image, "jpeg" if channels == 3 else "png"), label
  return generate


@pytest.fixture(scope="module")
def image_data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("image_tfds"))
  encoded.build_encoded_dataset("tiny_jpeg", root, {"train": _images(0, 96, 4, 3), "test": _images(1, 40, 4, 3)}, 4)
  encoded.build_encoded_dataset("tiny_grey", root, {"train": _images(2, 60, 3, 1), "validation": _images(3, 30, 3, 1)},
                                3, channels=1, image_format="png")
  return root


def test_a_jpeg_dataset_reads_by_name_at_any_size_and_channel_count(image_data_dir):
  source = get_source(f"tiny_jpeg@{image_data_dir}", "train", resolution=16)
  assert (source.image_shape, source.num_classes, len(source), source.encoded) == ((16, 16, 3), 4, 96, True)
  assert np.bincount(source.labels).tolist() == [24] * 4
  images, labels = source.read_batch([0, 5, 7])
  assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
  assert labels.tolist() == source.labels[[0, 5, 7]].tolist()
  grey = get_source(f"tiny_jpeg@{image_data_dir}", "train", resolution=16, channels=1).read_batch([0])[0]
  np.testing.assert_allclose(grey[0, ..., 0], images[0] @ np.array([0.299, 0.587, 0.114]), atol=2)
  # No "test" split: the validation split serves instead; an unknown split or name is an error naming the fix.
  assert get_source(f"tiny_grey@{image_data_dir}", "test", resolution=16).split == "validation"
  with pytest.raises(ValueError, match="no split 'extra'"):
    get_source(f"tiny_grey@{image_data_dir}", "extra", resolution=16)
  with pytest.raises(FileNotFoundError, match="tfds build no_such_set"):
    get_source(f"no_such_set@{image_data_dir}", "train", resolution=16)


def test_random_resized_crops_keep_area_and_aspect_within_the_imagenet_ranges():
  rng = np.random.default_rng(0)
  boxes = [crop_box(400, 300, rng) for _ in range(2000)]
  widths = np.array([r - left for left, _, r, _ in boxes])
  heights = np.array([b - top for _, top, _, b in boxes])
  area = widths * heights / (400 * 300)
  assert all(0 <= left and 0 <= top and r <= 400 and b <= 300 for left, top, r, b in boxes)
  # Area drawn uniformly from [0.08, 1]; large boxes of extreme aspect do not fit and are redrawn.
  assert 0.079 <= area.min() < 0.1 and 0.9 < area.max() <= 1.0
  assert 0.74 <= (widths / heights).min() and (widths / heights).max() <= 1.35


def test_grain_workers_decode_and_crop_the_same_batches_and_resume_exactly(image_data_dir):
  import grain

  from jaxdiv.data.pipeline import draw_subset, streaming_dataset
  source = get_source(f"tiny_jpeg@{image_data_dir}", "train", resolution=16)
  subset = draw_subset(source, 4, 16, seed=0)
  one_host = grain.sharding.ShardOptions(0, 1)

  def dataset(workers):
    return streaming_dataset(source, subset.indices, subset.labels, global_batch=8, num_steps=12, seed=3,
                             shard_options=one_host, workers=workers, random_crop=True, flip=True)
  in_process = [b["image"] for b in dataset(0)]
  iterator = iter(dataset(2))
  first = [next(iterator)["image"] for _ in range(5)]
  state = iterator.get_state()
  rest = [b["image"] for b in iterator]
  np.testing.assert_array_equal(np.stack(first + rest), np.stack(in_process))  # workers change nothing
  resumed = iter(dataset(2))
  resumed.set_state(state)
  np.testing.assert_array_equal(np.stack([b["image"] for b in resumed]), np.stack(rest))
  assert not np.array_equal(in_process[0], in_process[6])  # a new crop every epoch (N = 64, 8 steps each)


def test_pretrain_on_a_jpeg_dataset_and_probe_across_channel_counts(image_data_dir, tmp_path):
  from jaxdiv.probe.runs import probe_workdir
  from jaxdiv.train.pretrain import pretrain
  rgb = tiny_train_config(**{"data.source": "tiny_jpeg", "data.data_dir": image_data_dir, "data.num_classes": 4,
                             "data.per_class": 16, "data.glyph_range": "", "data.crop": "random_resized",
                             "data.flip": True, "data.max_shift": 0, "probe.max_train": 60,
                             "probe.max_test": 40})
  summary = pretrain(rgb, str(tmp_path / "rgb"))
  assert summary["pipeline"] == "stream" and summary["runs"][0]["num_classes"] == 4
  rows = probe_workdir(str(tmp_path / "rgb"), ["tiny_jpeg", f"tiny_grey@{image_data_dir}", "jaxdiv_digits"])
  assert [r.task for r in rows] == ["tiny_jpeg", "tiny_grey", "jaxdiv_digits"]
  assert all(0.0 <= r.error <= 1.0 and r.features == 32 for r in rows)
  assert rows[0].error < 0.5  # colour tells the 4 classes apart: chance is 0.75

  grey = tiny_train_config(**{"probe.max_train": 60, "probe.max_test": 40})
  pretrain(grey, str(tmp_path / "grey"))
  rows = probe_workdir(str(tmp_path / "grey"), [f"tiny_jpeg@{image_data_dir}"])
  assert len(rows) == 1 and rows[0].error < 0.75


def test_a_folder_of_jpegs_packs_into_a_dataset_every_command_reads(tmp_path, capsys):
  from jaxdiv import cli
  rng = np.random.default_rng(0)
  for label, name in enumerate(["cats", "dogs", "owls"]):
    (tmp_path / "photos" / name).mkdir(parents=True)
    for i in range(10):
      image = np.clip(40 + 80 * label + rng.normal(0, 10, (rng.integers(20, 40), 30, 3)), 0, 255).astype(np.uint8)
      (tmp_path / "photos" / name / f"{i}.jpg").write_bytes(encoded.encode(image))
  data_dir = str(tmp_path / "tfds")
  assert cli.main(["data", "pack", str(tmp_path / "photos"), "--name", "photos", "--data-dir", data_dir]) == 0
  assert "3 classes" in capsys.readouterr().out
  train, test = (get_source(f"photos@{data_dir}", split, resolution=16) for split in ("train", "test"))
  assert (len(train), len(test)) == (24, 6) and train.num_classes == 3
  assert np.bincount(test.labels).tolist() == [2, 2, 2]
  images, labels = train.read_batch(np.arange(len(train)))
  assert images.shape == (24, 16, 16, 3)
  means = [images[labels == k].mean() for k in range(3)]
  assert means[0] < means[1] < means[2]  # class ids follow the sorted folder names
  (tmp_path / "one" / "a").mkdir(parents=True)
  assert cli.main(["data", "pack", str(tmp_path / "one"), "--name", "x", "--data-dir", data_dir]) == 2
  assert "two or more class subfolders" in capsys.readouterr().err
