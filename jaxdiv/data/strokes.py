"""A pre-training pool of stroke-perturbed characters, after Omniglot's handwriting as strokes.

A class is one character of KanjiVG (the `kanjivg` package on PyPI, CC BY-SA 3.0: about 6,700 characters,
each a list of strokes drawn as cubic Bezier paths in a 109 x 109 box). Sample j of a class moves every
stroke by a random offset and every control point by Gaussian noise of scale `sigma` (box units), varies
the stroke width, applies a random global affine, and draws the strokes anti-aliased. The `spread` dial
multiplies all of it, so a class is one continuous distribution around its character, like a hand
writing it again. Deterministic in (pool seed, code point, index) and rendered on demand.

Only kana and CJK ideographs are classes (KanjiVG's Latin letters and digits are downstream tasks' classes),
and the held-out tenth is the glyph pool's own (`glyphs.is_heldout`), so no class is shared with the
held-out Han task either.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import re
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image, ImageDraw

from jaxdiv.data.glyphs import is_heldout
from jaxdiv.data.rendered import RenderedPool

BOX = 109.0  # KanjiVG's viewBox
SUPERSAMPLE = 4
POINTS_PER_SEGMENT = 10
SVG_NS = "{http://www.w3.org/2000/svg}"


@dataclasses.dataclass(frozen=True)
class StrokePoolConfig:
  resolution: int = 32
  samples_per_class: int = 2000
  seed: int = 0
  heldout_modulus: int = 10
  sigma: float = 2.0  # per-control-point noise in box units (of 109) at spread 1
  stroke_shift: float = 2.0  # per-stroke offset, box units, at spread 1
  width: float = 6.0  # mean stroke width, box units
  width_jitter: float = 0.25  # SD of log stroke width at spread 1
  rotate_degrees: float = 6.0  # SD of the global rotation at spread 1
  log_scale: float = 0.08  # SD of the global log scale at spread 1
  shear: float = 0.1  # SD of the global shear at spread 1
  shift: float = 4.0  # SD of the global shift, box units, at spread 1
  spread: float = dataclasses.field(default=1.0, repr=False)  # multiplier on every random range above


def kanjivg_folder() -> str:
  """Where the `kanjivg` wheel put its SVGs (a top-level `kanji/` folder in site-packages)."""
  spec = importlib.util.find_spec("kanji")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError("the stroke pool needs KanjiVG's SVGs: `pip install kanjivg` (make setup installs it)")
  return list(spec.submodule_search_locations)[0]


CLASS_RANGES = ((0x3040, 0x30FF), (0x4E00, 0x9FFF))  # kana, CJK unified ideographs


@functools.lru_cache(maxsize=2)
def characters(folder: str) -> tuple[int, ...]:
  """Kana and ideographs with a main (non-variant) SVG, sorted."""
  codes = (int(name[:-4], 16) for name in os.listdir(folder) if name.endswith(".svg") and "-" not in name)
  return tuple(sorted(c for c in codes if any(lo <= c <= hi for lo, hi in CLASS_RANGES)))


TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def straight(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """The line from a to b as a cubic segment (4, 2)."""
  return np.stack([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b])


def parse_path(d: str) -> np.ndarray:
  """An SVG path (M, C, S, L, H, V, Z, absolute or relative) as cubic segments, (S, 4, 2) absolute."""
  tokens = TOKEN.findall(d)
  segments, i, command = [], 0, None
  current = start = np.zeros(2)
  last_control = None
  def take(count):
    nonlocal i
    values = [float(t) for t in tokens[i:i + count]]
    i += count
    return np.array(values).reshape(-1, 2) if count > 1 else values[0]
  while i < len(tokens):
    if tokens[i].isalpha():
      command, i = tokens[i], i + 1
      if command in "Zz":
        if not np.allclose(current, start):
          segments.append(straight(current, start))
        current, last_control = start, None
        continue
    relative = command.islower()
    base = current if relative else np.zeros(2)
    kind = command.upper()
    if kind == "M":
      current = start = base + take(2)[0]
      command = "l" if relative else "L"  # further pairs after M are lines
      last_control = None
    elif kind == "C":
      p1, p2, p3 = base + take(6)
      segments.append(np.stack([current, p1, p2, p3]))
      current, last_control = p3, p2
    elif kind == "S":
      p2, p3 = base + take(4)
      p1 = 2 * current - last_control if last_control is not None else current
      segments.append(np.stack([current, p1, p2, p3]))
      current, last_control = p3, p2
    elif kind in "LHV":
      if kind == "L":
        end = base + take(2)[0]
      elif kind == "H":
        x = take(1)
        end = np.array([x + (current[0] if relative else 0.0), current[1]])
      else:
        y = take(1)
        end = np.array([current[0], y + (current[1] if relative else 0.0)])
      segments.append(straight(current, end))
      current, last_control = end, None
    else:
      raise ValueError(f"unsupported SVG path command {command!r} in {d[:40]!r}")
  return np.array(segments, np.float64).reshape(-1, 4, 2)


@functools.lru_cache(maxsize=8192)
def character_strokes(folder: str, codepoint: int) -> tuple[np.ndarray, ...]:
  """The character's strokes in drawing order, each (S, 4, 2) cubic segments in box units."""
  tree = ET.parse(os.path.join(folder, f"{codepoint:05x}.svg"))
  paths = [p for p in tree.iter(f"{SVG_NS}path") if p.get("d")]
  return tuple(parse_path(p.get("d")) for p in paths)


def bezier_points(segments: np.ndarray) -> np.ndarray:
  """Points along cubic segments (S, 4, 2) -> (S·POINTS_PER_SEGMENT, 2)."""
  t = np.linspace(0.0, 1.0, POINTS_PER_SEGMENT)[:, None]
  basis = np.stack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3], 0)  # (4, T, 1)
  return np.einsum("ktx,skd->std", basis, segments).reshape(-1, 2)


def random_affine(config: StrokePoolConfig, rng: np.random.Generator) -> np.ndarray:
  """A 2x3 map in box units about the box's centre: rotation, scale, shear, shift, each scaled by spread."""
  s = config.spread
  angle = np.deg2rad(rng.normal(0, config.rotate_degrees * s))
  scale = np.exp(rng.normal(0, config.log_scale * s))
  shear = rng.normal(0, config.shear * s)
  rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
  linear = scale * rotation @ np.array([[1.0, shear], [0.0, 1.0]])
  centre = np.full(2, BOX / 2)
  offset = centre - linear @ centre + rng.normal(0, config.shift * s, 2)
  return np.column_stack([linear, offset])


def render_strokes(strokes, config: StrokePoolConfig, rng: np.random.Generator) -> np.ndarray:
  """One perturbed rendering of a character as (H, W) uint8, white strokes on black."""
  s, size = config.spread, config.resolution * SUPERSAMPLE
  affine = random_affine(config, rng)
  canvas = Image.new("L", (size, size), 0)
  draw = ImageDraw.Draw(canvas)
  to_pixels = size / BOX
  width = config.width * np.exp(rng.normal(0, config.width_jitter * s)) * to_pixels
  for segments in strokes:
    moved = segments + rng.normal(0, config.stroke_shift * s, 2) + rng.normal(0, config.sigma * s, segments.shape)
    points = bezier_points(moved) @ affine[:, :2].T + affine[:, 2]
    xy = [tuple(p) for p in points * to_pixels]
    draw.line(xy, fill=255, width=max(1, int(round(width))), joint="curve")
    radius = width / 2
    for x, y in (xy[0], xy[-1]):  # round caps
      draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
  return np.asarray(canvas.resize((config.resolution, config.resolution), Image.BOX), np.uint8)


class StrokePool(RenderedPool):
  """The stroke-perturbed characters (or their held-out tenth), a Grain-compatible random-access source."""

  def __init__(self, config: StrokePoolConfig = StrokePoolConfig(), heldout: bool = False):
    if config.spread < 0:
      raise ValueError(f"data.spread={config.spread}: the spread multiplies every perturbation; use 0 (each "
                       "character as KanjiVG draws it) or more")
    self.config = config
    self.folder = kanjivg_folder()
    self.codepoints = np.array([c for c in characters(self.folder)
                                if is_heldout(c, config.heldout_modulus) == heldout], np.int64)
    self.num_classes = len(self.codepoints)
    self.samples_per_class = config.samples_per_class
    self.image_shape = (config.resolution, config.resolution, 1)

  def render(self, class_index: int, sample_index: int) -> np.ndarray:
    code = int(self.codepoints[class_index])
    rng = np.random.default_rng([self.config.seed, code, int(sample_index)])
    return render_strokes(character_strokes(self.folder, code), self.config, rng)[..., None]

  def fingerprint(self) -> str:
    return f"strokes:{self.config}:spread{self.config.spread:g}:{self.num_classes}"

  def describe(self) -> dict:
    strokes = [len(character_strokes(self.folder, int(c))) for c in self.codepoints[:200]]
    return {"source": "KanjiVG (pip package kanjivg, CC BY-SA 3.0)", "spread": self.config.spread,
            "strokes_per_class_first_200": {"min": int(min(strokes)), "median": float(np.median(strokes)),
                                            "max": int(max(strokes))},
            "perturbation": {k: v for k, v in dataclasses.asdict(self.config).items()
                             if k not in ("resolution", "samples_per_class", "seed", "heldout_modulus")},
            "note": "samples per class are virtual: rendered on demand from (seed, class, index)"}
