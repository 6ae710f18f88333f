"""The six embedded downstream tasks, prepared once as TFDS datasets (array_record, no TensorFlow).

Each task has train and test splits of `Tensor(uint8, (R, R, 1))` images and `ClassLabel` labels,
built from Debian packages or scikit-learn's bundled data, and read back with `tfds.data_source`.
Font-rendered tasks split by typeface: test images come from fonts (or designs) never seen in train,
so a probe measures how well features transfer to unseen styles, not memorised renders.
"""

from __future__ import annotations

import gzip
import logging
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow_datasets as tfds
from etils import epath
from PIL import Image

from jaxdiv import io
from jaxdiv.data import fonts, glyphs, render

log = logging.getLogger(__name__)

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
TRAIN_PER_CLASS = 60
TEST_PER_CLASS = 20
SPLIT_SEED = 1234

LATIN = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
GREEK_LOWER = [chr(c) for c in range(0x03B1, 0x03CA) if c != 0x03C2]  # alpha..omega, no final sigma
CYRILLIC_LOWER = [chr(c) for c in range(0x0430, 0x0450)]
CASE_PAIRS = "abdeghnqrt"  # letters whose lower case differs clearly from the capital


class MissingDataError(RuntimeError):
  """Raised when a Debian data package a task needs is missing."""


def resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
  """(N, H, W) or (N, H, W, 1) uint8 -> (N, R, R, 1) uint8, bilinear."""
  images = images[..., 0] if images.ndim == 4 else images
  if images.shape[1:] == (resolution, resolution):
    return images[..., None]
  out = [np.asarray(Image.fromarray(im).resize((resolution, resolution), Image.BILINEAR)) for im in images]
  return np.stack(out)[..., None]


def _read_idx(path: str) -> np.ndarray:
  with gzip.open(path, "rb") as f:
    data = f.read()
  ndim = data[3]
  shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
  return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist_arrays(resolution: int):
  files = {k: os.path.join(FASHION_MNIST_DIR, f"{k}-idx{3 if 'images' in k else 1}-ubyte.gz")
           for k in ("train-images", "train-labels", "t10k-images", "t10k-labels")}
  missing = [p for p in files.values() if not os.path.exists(p)]
  if missing:
    raise MissingDataError(f"Fashion-MNIST files missing ({missing[0]}). Install them with:\n"
                           "  sudo apt-get install -y dataset-fashion-mnist")
  names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]
  return (resize_images(_read_idx(files["train-images"]), resolution), _read_idx(files["train-labels"]),
          resize_images(_read_idx(files["t10k-images"]), resolution), _read_idx(files["t10k-labels"]), names)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  rng = np.random.default_rng(seed)
  train, test = [], []
  for c in np.unique(labels):
    members = rng.permutation(np.flatnonzero(labels == c))
    cut = int(round(len(members) * test_fraction))
    test.append(members[:cut])
    train.append(members[cut:])
  return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits_arrays(resolution: int):
  from sklearn.datasets import load_digits
  digits = load_digits()
  images = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
  labels = digits.target.astype(np.int64)
  train, test = stratified_split(labels, 1.0 / 3.0, SPLIT_SEED)
  images = resize_images(images, resolution)
  return images[train], labels[train], images[test], labels[test], [str(d) for d in range(10)]


def _render_set(chars: Sequence[str], faces_per_class: Sequence[Sequence[fonts.Face]], per_class: int,
                resolution: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """`per_class` mildly augmented renders of each class from that class's faces."""
  images, labels = [], []
  aug = render.Augment.mild()
  for label, (char, faces) in enumerate(zip(chars, faces_per_class)):
    for j in range(per_class):
      rng = np.random.default_rng([seed, ord(char), j])
      face = faces[rng.integers(len(faces))]
      images.append(render.render_sample(face, char, resolution, rng, aug))
      labels.append(label)
  return np.stack(images)[..., None], np.array(labels, np.int64)


def _renders(face: fonts.Face, chars: Sequence[str]) -> list[np.ndarray] | None:
  """Normalised renders of every char, or None if the face lacks one (cmap or ink)."""
  try:
    covered = fonts.cmap(face)
  except Exception:  # unreadable font file: skip it like a font without the glyphs
    return None
  if any(ord(c) not in covered for c in chars):
    return None
  out = []
  for char in chars:
    r = fonts.normalised_render(face, char)
    if r is None:
      return None
    out.append(r)
  return out


def _distance(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.abs(a - b).mean())


def usable_letter_faces(faces: Sequence[fonts.Face], chars: Sequence[str], need_case: bool
                        ) -> list[fonts.Face]:
  """Faces that draw every char with ink, distinctly, and (if `need_case`) with real lower case."""
  kept, kept_renders = [], []
  for face in faces:
    renders = _renders(face, chars)
    if renders is None:
      continue
    by_char = dict(zip(chars, renders))
    if need_case:
      same_case = sum(_distance(by_char[c], by_char[c.upper()]) < fonts.DEDUP_THRESHOLD for c in CASE_PAIRS)
      if same_case >= len(CASE_PAIRS) // 2:
        continue  # a caps-only (or small-caps) face
    sample = renders[:: max(1, len(renders) // 8)]
    if any(_distance(a, b) < 0.02 for i, a in enumerate(sample) for b in sample[i + 1:]):
      continue  # a symbol face drawing one shape for many letters
    stacked = np.stack(renders)
    if any(np.abs(stacked - other).mean() < 0.03 for other in kept_renders):
      continue  # a near-duplicate of a face already kept (same design, another file)
    kept.append(face)
    kept_renders.append(stacked)
  return kept


def drop_confusable_classes(chars: Sequence[str], faces: Sequence[fonts.Face]) -> list[str]:
  """Drop a class whose glyph matches an earlier class's in most faces (Greek ο vs Cyrillic о)."""
  renders = np.stack([np.stack(_renders(face, chars)) for face in faces])  # (F, C, S, S)
  keep = []
  for j in range(len(chars)):
    if all(np.mean([_distance(renders[f, i], renders[f, j]) < fonts.DEDUP_THRESHOLD
                    for f in range(len(faces))]) <= 0.5 for i in keep):
      keep.append(j)
  return [chars[j] for j in keep]


def split_faces(faces: Sequence[fonts.Face], test_modulus: int = 4) -> tuple[list, list]:
  """A stable split of faces into train and test by a hash of the file name."""
  test = [f for f in faces if zlib.crc32(os.path.basename(f.path).encode()) % test_modulus == 0]
  train = [f for f in faces if f not in test]
  if not test or not train:
    raise ValueError(f"Need fonts for both splits, got {len(train)} train and {len(test)} test")
  return train, test


def font_task_arrays(chars: Sequence[str], faces: Sequence[fonts.Face], resolution: int, seed: int):
  train_faces, test_faces = split_faces(faces)
  train = _render_set(chars, [train_faces] * len(chars), TRAIN_PER_CLASS, resolution, seed)
  test = _render_set(chars, [test_faces] * len(chars), TEST_PER_CLASS, resolution, seed + 1)
  return (*train, *test, list(chars))


def latin_letters_arrays(resolution: int):
  faces = fonts.find_faces(fonts.LATIN_PATTERNS, fonts.LATIN_PACKAGES)
  return font_task_arrays(LATIN, usable_letter_faces(faces, LATIN, need_case=True), resolution, 11)


def greek_cyrillic_arrays(resolution: int):
  faces = fonts.find_faces(fonts.LATIN_PATTERNS, fonts.LATIN_PACKAGES)
  candidates = GREEK_LOWER + CYRILLIC_LOWER
  usable = usable_letter_faces(faces, candidates, need_case=False)
  chars = drop_confusable_classes(candidates, usable)
  return font_task_arrays(chars, usable, resolution, 12)


def hangul_arrays(resolution: int, num_classes: int = 100):
  codes = np.sort(np.random.default_rng(SPLIT_SEED).choice(0xD7A4 - 0xAC00, num_classes, replace=False))
  chars = [chr(0xAC00 + int(c)) for c in codes]
  faces = fonts.find_faces(fonts.HANGUL_PATTERNS, fonts.HANGUL_PACKAGES)
  return font_task_arrays(chars, usable_letter_faces(faces, chars, need_case=False), resolution, 13)


def han_heldout_arrays(resolution: int, num_classes: int = 100):
  """Held-out Han characters (never pre-training classes); test uses designs unseen in train."""
  pool = glyphs.GlyphPool(glyphs.GlyphPoolConfig(resolution=resolution), heldout=True)
  chosen = np.sort(np.random.default_rng(SPLIT_SEED).permutation(pool.num_classes)[:num_classes])
  chars = [chr(int(pool.codepoints[c])) for c in chosen]
  train_faces, test_faces = [], []
  for c in chosen:
    designs = [pool.faces[d] for d in pool.designs[c]]
    cut = (3 * len(designs)) // 4
    train_faces.append(designs[:cut])
    test_faces.append(designs[cut:])
  train = _render_set(chars, train_faces, TRAIN_PER_CLASS, resolution, 14)
  test = _render_set(chars, test_faces, TEST_PER_CLASS, resolution, 15)
  return (*train, *test, chars)


def _make_builder(task_name: str, arrays_fn: Callable, description: str):
  """A TFDS builder class (registered under `task_name`) whose configs are resolutions `rNN`."""

  class Builder(tfds.core.GeneratorBasedBuilder):
    name = task_name
    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="r32", description="32×32 grayscale")]

    @property
    def resolution(self) -> int:
      return int(self.builder_config.name[1:])

    def _class_names(self) -> list[str]:
      # A prepared dataset keeps its names beside the data: reuse them instead of re-rendering.
      saved = os.path.join(self.data_dir, "label.labels.txt")
      if os.path.exists(saved):
        with open(saved, encoding="utf-8") as f:
          return f.read().splitlines()
      return self._arrays()[4]

    def _info(self):
      names = self._class_names()
      return tfds.core.DatasetInfo(
          builder=self, description=description,
          features=tfds.features.FeaturesDict({
              "image": tfds.features.Tensor(shape=(self.resolution, self.resolution, 1), dtype=np.uint8),
              "label": tfds.features.ClassLabel(names=[str(n) for n in names]),
          }),
          supervised_keys=("image", "label"))

    def _arrays(self):
      if not hasattr(self, "_cached_arrays"):
        self._cached_arrays = arrays_fn(self.resolution)
      return self._cached_arrays

    def _split_generators(self, dl_manager):
      train_x, train_y, test_x, test_y, _ = self._arrays()
      return {"train": self._generate_examples(train_x, train_y),
              "test": self._generate_examples(test_x, test_y)}

    def _generate_examples(self, images, labels):
      for i, (image, label) in enumerate(zip(images, labels)):
        yield i, {"image": image, "label": int(label)}

  Builder.__name__ = Builder.__qualname__ = "".join(p.title() for p in task_name.split("_"))
  return Builder


TASKS = {
    "jaxdiv_fashion_mnist": (fashion_mnist_arrays, "Fashion-MNIST (Debian dataset-fashion-mnist)."),
    "jaxdiv_digits": (digits_arrays, "scikit-learn's 8×8 handwritten digits, upscaled."),
    "jaxdiv_latin_letters": (latin_letters_arrays, "52 case-sensitive Latin letters; test fonts unseen."),
    "jaxdiv_greek_cyrillic": (greek_cyrillic_arrays, "Greek and Cyrillic lower case; test fonts unseen."),
    "jaxdiv_han_heldout": (han_heldout_arrays, "100 Han characters outside the pool; test designs unseen."),
    "jaxdiv_hangul": (hangul_arrays, "100 Hangul syllables; test fonts unseen."),
}
BUILDERS = {name: _make_builder(name, fn, doc) for name, (fn, doc) in TASKS.items()}
DEFAULT_TASKS = tuple(TASKS)


def default_data_dir() -> str:
  return os.environ.get("JAXDIV_DATA_DIR", os.path.join(io.default_cache_dir(), "tfds"))


def _prepared(builder) -> bool:
  """`builder.is_prepared()`, asked only once its folder has a dataset_info.json: TFDS warns "Variant folder
  ... has no dataset_info.json" when asked about a dataset that was never built, which every first run is."""
  return (epath.Path(builder.data_dir) / "dataset_info.json").exists() and builder.is_prepared()


def prepare(task: str, resolution: int = 32, data_dir: str | None = None) -> tfds.core.DatasetBuilder:
  """Build (once) and return the TFDS builder of an embedded task at a resolution."""
  if task not in BUILDERS:
    raise ValueError(f"Unknown embedded task {task!r}; choose one of {sorted(BUILDERS)}")
  name = f"r{resolution}"
  config = name if name == "r32" else tfds.core.BuilderConfig(name=name)
  data_dir = data_dir or default_data_dir()
  def make():
    return BUILDERS[task](data_dir=data_dir, config=config, file_format="array_record")
  builder = make()
  if not _prepared(builder):
    # Processes sharing this data_dir (a pod's hosts on one disk, the two-process test) take turns: the
    # first builds, the others then find it prepared. TFDS alone races on renaming the finished folder.
    # The same builder is asked again under the lock: a new one would render the task a second time.
    with io.file_lock(os.path.join(data_dir, f".{task}_{name}.lock")):
      if not _prepared(builder):
        builder.download_and_prepare()
      builder = make()  # reads the prepared info (names from disk), whoever prepared it
  return builder


def is_prepared(task: str, resolution: int, data_dir: str | None = None) -> bool:
  """Whether `prepare` would find the task built, asked without making its builder (which renders the task
  when it is not built: its class names come from the renders)."""
  data_dir = data_dir or default_data_dir()
  version = str(BUILDERS[task].VERSION)
  return os.path.exists(os.path.join(data_dir, task, f"r{resolution}", version, "dataset_info.json"))


def _build_command(task: str, resolution: int, data_dir: str) -> list[str]:
  """A fresh interpreter that runs `prepare` without TFDS's progress bars. A subprocess, not
  multiprocessing: spawned workers re-import the caller's main module, which a script without a
  `__main__` guard cannot survive, and forking a parent that runs XLA's threads is unsafe."""
  code = ("import logging, tensorflow_datasets as tfds; from jaxdiv.data import downstream; "
          "logging.getLogger('absl').setLevel(logging.ERROR); tfds.disable_progress_bar(); "
          f"downstream.prepare({task!r}, {resolution}, {data_dir!r})")
  return [sys.executable, "-c", code]


def prepare_many(tasks: Sequence[str], resolution: int, data_dir: str | None = None,
                 workers: int | None = None) -> list[str]:
  """Build the embedded `tasks` not built yet, one process per core at a time; returns those built.

  A first run spends most of its data time here, rendering fonts in pure Python and NumPy on one core
  per task; the tasks are independent, so two cores build them in about half the time. Each build takes
  `prepare`'s file lock, so processes sharing the folder (a pod's hosts) still build each task once."""
  data_dir = data_dir or default_data_dir()
  todo = [t for t in dict.fromkeys(tasks) if t in BUILDERS and not is_prepared(t, resolution, data_dir)]
  workers = min(len(todo), workers or len(os.sched_getaffinity(0)))
  if workers <= 1:
    for task in todo:
      prepare(task, resolution, data_dir)
    return todo
  log.info("building %d embedded tasks at %d px, %d at a time: %s", len(todo), resolution, workers,
           ", ".join(todo))
  pending, running = list(todo), {}
  while pending or running:
    while pending and len(running) < workers:
      task = pending.pop(0)
      errors = tempfile.TemporaryFile(mode="w+")  # not a pipe: a full pipe would stall a chatty child
      running[task] = (subprocess.Popen(_build_command(task, resolution, data_dir), stdout=subprocess.DEVNULL,
                                        stderr=errors, text=True), errors, time.perf_counter())
    time.sleep(0.2)
    for task, (process, stderr, started) in list(running.items()):
      if process.poll() is None:
        continue
      del running[task]
      stderr.seek(0)
      errors = stderr.read()
      stderr.close()
      if process.returncode:
        for other, _, _ in running.values():
          other.kill()
        raise RuntimeError(f"building the embedded task {task} at {resolution} px failed "
                           f"(exit {process.returncode}):\n{errors.strip()[-3000:]}")
      log.info("built %s in %.0f s", task, time.perf_counter() - started)
  return todo
