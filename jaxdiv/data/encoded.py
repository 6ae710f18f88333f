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
