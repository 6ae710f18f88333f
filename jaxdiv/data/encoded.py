"""Package already-encoded images (JPEG or PNG bytes, any size) as a TFDS dataset, without TensorFlow.

TFDS's `ImageFolder` and encoding NumPy images need TensorFlow; an `Image` feature given encoded bytes
(a file object) does not. The result is an ordinary prepared TFDS dataset (array_record) that jaxdiv
reads by name like any other: `--config.data.source=NAME --config.data.data_dir=DIR`, or a probe task
`NAME@DIR`. The tests and the JPEG benchmark build theirs with it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image


def encode(image: np.ndarray, image_format: str = "jpeg", quality: int = 90) -> bytes:
  """(H, W) or (H, W, C) uint8 -> encoded bytes (PIL)."""
  buffer = io.BytesIO()
  array = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
  options = {"quality": quality} if image_format == "jpeg" else {}
  Image.fromarray(array).save(buffer, format=image_format.upper(), **options)
  return buffer.getvalue()


def build_encoded_dataset(name: str, data_dir: str, splits: dict[str, Callable[[], Iterable[tuple[bytes, int]]]],
                          num_classes: int, channels: int = 3, image_format: str = "jpeg",
                          version: str = "1.0.0") -> tfds.core.DatasetBuilder:
  """Prepare `name` in `data_dir` from `splits`: {split: a function yielding (encoded bytes, label)}.
  Returns the prepared builder; a dataset already prepared there is left as it is."""

  class Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    VERSION = tfds.core.Version(version)

    def _info(self):
      return tfds.core.DatasetInfo(
          builder=self, description=f"{name}: encoded {image_format} images packaged by jaxdiv.",
          features=tfds.features.FeaturesDict({
              "image": tfds.features.Image(shape=(None, None, channels), encoding_format=image_format),
              "label": tfds.features.ClassLabel(num_classes=num_classes)}),
          supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
      return {split: self._generate_examples(make) for split, make in splits.items()}

    def _generate_examples(self, make):
      for i, (data, label) in enumerate(make()):
        yield i, {"image": io.BytesIO(data), "label": int(label)}

  Builder.name = name
  builder = Builder(data_dir=data_dir, file_format="array_record")
  builder.download_and_prepare()
  return builder


IMAGE_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}


def pack_folder(folder: str, name: str, data_dir: str, test_fraction: float = 0.2, seed: int = 0
                ) -> tfds.core.DatasetBuilder:
  """A folder of images, one subfolder per class (`FOLDER/CLASS/*.jpg`), packaged as the TFDS dataset `name`
  in `data_dir` with a "train" and a "test" split: each class's files in a seeded order, the first
  `test_fraction` of them (at least one) for the test split. Class ids follow the sorted subfolder names;
  every image keeps its bytes (JPEG or PNG, one format per dataset)."""
  import pathlib
  root = pathlib.Path(folder)
  if not root.is_dir():
    raise FileNotFoundError(f"{folder} is not a folder: give a folder with one subfolder of images per class")
  classes = sorted(p for p in root.iterdir() if p.is_dir())
  files = {c.name: sorted(f for f in c.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) for c in classes}
  empty = [c for c, found in files.items() if len(found) < 2]
  if len(classes) < 2 or empty:
    what = "too few classes" if len(classes) < 2 else f"too few images in {empty}"
    raise ValueError(f"{folder}: needs two or more class subfolders with at least two images each "
                     f"(.jpg, .jpeg or .png); {what}")
  formats = {IMAGE_SUFFIXES[f.suffix.lower()] for found in files.values() for f in found}
  if len(formats) != 1:
    raise ValueError(f"{folder} mixes JPEG and PNG files; convert them to one format first")
  if not 0 < test_fraction < 1:
    raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
  rng = np.random.default_rng(seed)
  split_of: dict[str, list] = {"train": [], "test": []}
  for label, (_, found) in enumerate(sorted(files.items())):
    order = [found[i] for i in rng.permutation(len(found))]
    cut = max(1, int(round(test_fraction * len(order))))
    split_of["test"] += [(path, label) for path in order[:cut]]
    split_of["train"] += [(path, label) for path in order[cut:]]
  first = Image.open(split_of["train"][0][0])
  channels = 1 if first.mode in ("L", "I;16", "1") else 3

  def reader(pairs):
    return lambda: ((path.read_bytes(), label) for path, label in pairs)
  return build_encoded_dataset(name, data_dir, {split: reader(pairs) for split, pairs in split_of.items()},
                               num_classes=len(classes), channels=channels, image_format=formats.pop())
