import sys

import numpy as np
import pytest

from jaxdiv.data import downstream, fonts, get_source, sources


def test_digits_builder_round_trip():
  train = get_source("jaxdiv_digits", split="train")
  test = get_source("jaxdiv_digits", split="test")
  assert train.num_classes == 10 and len(train) + len(test) == 1797
  images, labels = train.read_batch([0, 5, 9])
  assert images.shape == (3, 32, 32, 1) and images.dtype == np.uint8
  np.testing.assert_array_equal(labels, train.labels[[0, 5, 9]])


def test_fashion_mnist_arrays_from_debian_package():
  train_x, train_y, test_x, test_y, names = downstream.fashion_mnist_arrays(32)
  assert train_x.shape == (60000, 32, 32, 1) and test_x.shape == (10000, 32, 32, 1)
  assert np.bincount(train_y).tolist() == [6000] * 10 and len(names) == 10


def test_letter_faces_are_real_cased_and_split_by_font():
  faces = fonts.find_faces(fonts.LATIN_PATTERNS, fonts.LATIN_PACKAGES)
  usable = downstream.usable_letter_faces(faces[:60], downstream.LATIN, need_case=True)
  assert 10 <= len(usable) < 60
  train, test = downstream.split_faces(usable)
  assert not set(train) & set(test) and len(train) + len(test) == len(usable)


def test_greek_cyrillic_drops_visual_duplicates():
  faces = fonts.find_faces(["**/dejavu/DejaVuSans.ttf", "**/liberation/LiberationSerif-Regular.ttf",
                            "**/freefont/FreeSans.ttf"], fonts.LATIN_PACKAGES)
  chars = downstream.drop_confusable_classes(downstream.GREEK_LOWER + downstream.CYRILLIC_LOWER, faces)
  assert "\u03bf" in chars and "\u043e" not in chars  # Greek omicron kept, Cyrillic o dropped
  assert "\u03b1" in chars and "\u0436" in chars


def test_fit_image_resizes_and_converts_channels():
  rgb = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
  out = sources.fit_image(rgb, 16, 1)
  assert out.shape == (16, 16, 1)
  gray = np.zeros((8, 8, 1), np.uint8)
  assert sources.fit_image(gray, 8, 3).shape == (8, 8, 3)


def test_unknown_tfds_dataset_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match="not prepared"):
    get_source("cifar10", data_dir=str(tmp_path))


def test_prepare_many_builds_tasks_in_parallel_processes_once(tmp_path):
  data_dir = str(tmp_path)
  tasks = ["jaxdiv_digits", "jaxdiv_fashion_mnist"]
  assert downstream.prepare_many(tasks, 8, data_dir, workers=2) == tasks
  assert all(downstream.is_prepared(t, 8, data_dir) for t in tasks)
  assert downstream.prepare_many(tasks, 8, data_dir, workers=2) == []  # built once
  train_x, train_y, _, _, _ = downstream.digits_arrays(8)
  built = get_source("jaxdiv_digits", split="train", resolution=8, data_dir=data_dir)
  images, labels = built.read_batch(np.arange(len(built)))
  # The worker built what a build in this process would (TFDS shuffles the order when it writes).
  def as_set(x, y):
    return sorted(image.tobytes() + bytes([label]) for image, label in zip(x, y))
  assert as_set(images, labels) == as_set(train_x, train_y)


def test_a_failed_task_build_names_the_task_and_its_error(tmp_path, monkeypatch):
  def command(task, resolution, data_dir):  # the digits build succeeds, the Hangul one fails
    code = "pass" if task == "jaxdiv_digits" else f"raise SystemExit('no fonts for {task}')"
    return [sys.executable, "-c", code]
  monkeypatch.setattr(downstream, "_build_command", command)
  with pytest.raises(RuntimeError, match=r"(?s)jaxdiv_hangul at 8 px failed.*no fonts for jaxdiv_hangul"):
    downstream.prepare_many(["jaxdiv_digits", "jaxdiv_hangul"], 8, str(tmp_path), workers=2)
