"""The embedded pre-training pool: Han characters as classes, rendered on demand.

Classes are the characters that have at least `min_designs` visually distinct typeface designs in the
installed CJK fonts. Each class has a virtual `samples_per_class` samples; sample j of a class is
rendered from (pool seed, code point, j), so any subset is reproducible without a preparation step.
A fixed tenth of the qualifying characters (chosen by a hash of the code point) is held out of the
pool for the downstream held-out-Han task, so pre-training and that task never share a class.

Two dials set how varied a class is: `designs_per_class` D keeps the first D designs of each class's own
seeded order (nested: the D = 1 design is among the D = 4 designs; 0 keeps all), and `spread` multiplies
every warp range (`render.Augment.scaled`). At their defaults (0 and 1) every sample is what it always was.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib

import numpy as np

from jaxdiv.data import fonts, render
from jaxdiv.data.rendered import RenderedPool


@dataclasses.dataclass(frozen=True)
class GlyphPoolConfig:
  resolution: int = 32
  samples_per_class: int = 2000
  seed: int = 0
  min_designs: int = 16
  codepoint_range: tuple[int, int] = fonts.HAN_RANGE  # inclusive
  heldout_modulus: int = 10  # one in this many qualifying characters goes to the downstream task
  # Left out of the repr, which keys caches of rendered subsets; `GlyphPool.fingerprint` adds them when set.
  designs_per_class: int = dataclasses.field(default=0, repr=False)  # 0: every design of the class
  spread: float = dataclasses.field(default=1.0, repr=False)  # multiplier on every warp range


# The design-order stream's key [pool seed, code point, 0, 1] has four words; a sample's [seed, code point, j]
# has three, and SeedSequence pads it with a zero, so the two never coincide.
DESIGN_ORDER_KEY = (0, 1)


def is_heldout(codepoint: int, modulus: int) -> bool:
  return zlib.crc32(str(codepoint).encode()) % modulus == 0


def index_candidates(codepoint_range: tuple[int, int], min_designs: int) -> tuple[tuple, list[int]]:
  """(pre-training faces, code points in at least `min_designs` of their cmaps): what the index covers."""
  faces = tuple(fonts.find_faces(fonts.PRETRAIN_PATTERNS, fonts.PRETRAIN_PACKAGES))
  first, last = codepoint_range
  maps = [fonts.cmap(face) for face in faces]
  # Cheap pre-filter: a character in fewer cmaps than `min_designs` can never qualify.
  return faces, [c for c in range(first, last + 1) if sum(c in m for m in maps) >= min_designs]


@functools.lru_cache(maxsize=8)
def qualifying_characters(codepoint_range: tuple[int, int], min_designs: int
                          ) -> tuple[tuple[fonts.Face, ...], tuple[tuple[int, tuple[int, ...]], ...]]:
  """(faces, ((code point, design face indices), ...)) for characters with enough designs."""
  faces, candidates = index_candidates(codepoint_range, min_designs)
  index = fonts.cached_design_index(faces, candidates) if candidates else {}
  chosen = tuple((c, tuple(d)) for c, d in sorted(index.items()) if len(d) >= min_designs)
  return faces, chosen


class GlyphPool(RenderedPool):
  """The rendered Han pool (or its held-out part), a Grain-compatible random-access source."""

  def __init__(self, config: GlyphPoolConfig = GlyphPoolConfig(), heldout: bool = False,
               augment: render.Augment = render.Augment()):
    self.config = config
    self.augment = augment.scaled(config.spread)
    self.faces, chars = qualifying_characters(tuple(config.codepoint_range), config.min_designs)
    chars = [(c, d) for c, d in chars if is_heldout(c, config.heldout_modulus) == heldout]
    self.codepoints = np.array([c for c, _ in chars], np.int64)
    self.designs = [d for _, d in chars]
    self.num_classes = len(chars)
    self.samples_per_class = config.samples_per_class
    self.image_shape = (config.resolution, config.resolution, 1)
    if self.num_classes == 0:
      raise ValueError(f"No character in {config.codepoint_range} has {config.min_designs} distinct "
                       "designs: install the fonts (`make setup`) or lower min_designs.")
    fewest = min(len(d) for d in self.designs)
    if not 0 <= config.designs_per_class <= fewest:
      raise ValueError(f"data.designs_per_class={config.designs_per_class}: every class of this pool has at least "
                       f"{fewest} designs, so D must lie in [1, {fewest}] (or 0 for all of them)")

  def class_designs(self, class_index: int) -> tuple[int, ...]:
    """The designs class `class_index` draws from: all (D = 0), else the first D of the class's seeded order."""
    designs = self.designs[class_index]
    if not self.config.designs_per_class:
      return designs
    code = int(self.codepoints[class_index])
    order = np.random.default_rng([self.config.seed, code, *DESIGN_ORDER_KEY]).permutation(len(designs))
    return tuple(designs[i] for i in order[:self.config.designs_per_class])

  def render(self, class_index: int, sample_index: int) -> np.ndarray:
    """Sample `sample_index` of class `class_index` as (H, W, 1) uint8."""
    code = int(self.codepoints[class_index])
    rng = np.random.default_rng([self.config.seed, code, int(sample_index)])
    designs = self.class_designs(class_index)
    face = self.faces[designs[rng.integers(len(designs))]]
    image = render.render_sample(face, chr(code), self.config.resolution, rng, self.augment)
    return image[..., None]

  def design_count(self, class_index: int) -> int:
    return len(self.designs[class_index])

  def fingerprint(self) -> str:
    """What the cached materialised images depend on."""
    dials = (f":D{self.config.designs_per_class}" if self.config.designs_per_class else "") + (
        f":spread{self.config.spread:g}" if self.config.spread != 1 else "")
    return f"glyphs:{self.config}:{self.augment}:{self.num_classes}{dials}"

  def describe(self) -> dict:
    """What `jaxdiv data info` adds for the pool: distinct designs per class and the fonts behind them."""
    designs = np.array([len(d) for d in self.designs])
    return {"designs_per_class": {"min": int(designs.min()), "median": float(np.median(designs)),
                                  "max": int(designs.max())},
            "font_faces": len(self.faces),
            "designs_used_per_class": self.config.designs_per_class or "all", "spread": self.config.spread,
            "augment": dataclasses.asdict(self.augment),
            "note": "samples per class are virtual: rendered on demand from (seed, class, index)"}


if __name__ == "__main__":
  # Maintainers: rewrite the design index shipped in the package after a font package changes.
  faces, candidates = index_candidates(fonts.HAN_RANGE, GlyphPoolConfig.min_designs)
  fonts.write_shipped_design_index(faces, candidates, fonts.cached_design_index(faces, candidates))
  print(f"wrote {fonts.SHIPPED_INDEX}")
