"""A pre-training pool of another kind: fractal classes, after FractalDB (Kataoka et al., "Pre-training
without Natural Images", ACCV 2020).

A class is an iterated function system (IFS): 2-8 random contractive affine maps, kept when its attractor
fills enough of the frame. Sample j of a class perturbs every map's six parameters by Gaussian noise of
scale `sigma` (times the `spread` dial) and renders the perturbed attractor with the chaos game, in the
class's own frame, so a sample varies in shape, extent and density around its class. So unlike the glyph
pool, whose classes are characters with a few discrete typeface designs, every class here is one continuous
distribution whose width is a dial.

Everything is deterministic in (pool seed, class, index) and rendered on demand. A fixed tenth of the class
ids (by a hash) is held out of the pool, as the glyph pool holds out a tenth of its characters.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib

import numpy as np

from jaxdiv.data.rendered import RenderedPool

# A class's stream is keyed [seed, class id, 0, 2] (four words); a sample's [seed, class id, j] has three,
# and SeedSequence pads it with a zero, so the two never coincide.
CLASS_KEY = (0, 2)
MAX_ATTEMPTS = 200
FILL_RESOLUTION = 32  # the grid the fill criterion is measured on, whatever the rendering resolution
CONTRACTION_LIMIT = 0.95  # largest singular value a (perturbed) map may have, so every attractor exists


@dataclasses.dataclass(frozen=True)
class FractalPoolConfig:
  resolution: int = 32
  samples_per_class: int = 2000
  seed: int = 0
  class_ids: int = 5000  # candidate systems; a tenth is held out, ~4,500 pre-training classes remain
  heldout_modulus: int = 10
  sigma: float = 0.05  # per-sample noise on each map parameter at spread 1
  min_fill: float = 0.2  # share of a FILL_RESOLUTION grid the class's attractor must cover
  points: int = 4096  # chaos-game points per image (64 chains)
  spread: float = dataclasses.field(default=1.0, repr=False)  # multiplier on sigma; fingerprint adds it


@dataclasses.dataclass(frozen=True)
class System:
  """An IFS: maps x -> A[i] x + b[i], each drawn in proportion to |det A[i]|; `centre` and `half` frame its
  attractor."""
  A: np.ndarray  # (m, 2, 2)
  b: np.ndarray  # (m, 2)
  centre: np.ndarray  # (2,)
  half: float


def is_heldout(class_id: int, modulus: int) -> bool:
  return zlib.crc32(f"fractal{class_id}".encode()) % modulus == 0


def map_probabilities(A: np.ndarray) -> np.ndarray:
  """Each map drawn in proportion to the area it covers (|det A|), so thin maps are still visited."""
  area = np.maximum(np.abs(np.linalg.det(A)), 0.01)
  return area / area.sum()


def limit_contraction(A: np.ndarray) -> np.ndarray:
  """Scale down any map whose largest singular value exceeds CONTRACTION_LIMIT."""
  norms = np.linalg.norm(A, ord=2, axis=(1, 2))
  return A * np.minimum(1.0, CONTRACTION_LIMIT / norms)[:, None, None]


def random_maps(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """2-8 maps A = R(theta) diag(s1, +-s2) R(phi), b in [-1, 1]^2, their total area |det| scaled to
  0.5-1.0: below it the attractor is dust, above it a filled blob (FractalDB's sigma-factor, in area)."""
  m = int(rng.integers(2, 9))
  theta, phi = rng.uniform(0, 2 * np.pi, (2, m))
  s = rng.uniform(0.2, 0.9, (m, 2))
  s[:, 1] *= rng.choice([-1.0, 1.0], m)
  area = rng.uniform(0.5, 1.0)
  s *= np.sqrt(area / np.abs(s[:, 0] * s[:, 1]).sum())
  rot = lambda a: np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], -2)
  A = rot(theta) @ (s[:, :, None] * np.eye(2)) @ rot(phi)
  return limit_contraction(A), rng.uniform(-1, 1, (m, 2))


def chaos_game(A: np.ndarray, b: np.ndarray, rng: np.random.Generator, points: int = 4096,
               chains: int = 64, burn_in: int = 12) -> np.ndarray:
  """`points` (x, y) on the attractor: `chains` walkers in parallel, each applying a random map per step."""
  steps = burn_in + -(-points // chains)
  choice = rng.choice(len(A), size=(steps, chains), p=map_probabilities(A))
  x = rng.uniform(-1, 1, (chains, 2))
  kept = []
  for t in range(steps):
    x = np.einsum("cij,cj->ci", A[choice[t]], x) + b[choice[t]]
    if t >= burn_in:
      kept.append(x)
  return np.concatenate(kept)[:points]


def frame_of(points: np.ndarray) -> tuple[np.ndarray, float]:
  """Centre and half-width of the square that holds the attractor (its 0.5-99.5% extent, 10% margin)."""
  low, high = np.percentile(points, [0.5, 99.5], axis=0)
  return (low + high) / 2, float(max(high - low) / 2 * 1.1 + 1e-6)


def rasterise(points: np.ndarray, centre: np.ndarray, half: float, resolution: int) -> np.ndarray:
  """Point density on a resolution^2 grid over the frame, as (H, W) uint8 (log scale, so thin arms show)."""
  cells = np.floor((points - centre) / half * (resolution / 2) + resolution / 2).astype(np.int64)
  inside = np.all((cells >= 0) & (cells < resolution), axis=1)
  counts = np.bincount(cells[inside, 1] * resolution + cells[inside, 0], minlength=resolution * resolution)
  counts = counts.reshape(resolution, resolution).astype(np.float64)
  if counts.max() == 0:
    return np.zeros((resolution, resolution), np.uint8)
  image = np.log1p(counts) / np.log1p(np.percentile(counts[counts > 0], 95))
  return np.round(255 * np.clip(image, 0, 1)).astype(np.uint8)


def fill(points: np.ndarray, centre: np.ndarray, half: float) -> float:
  return float((rasterise(points, centre, half, FILL_RESOLUTION) > 0).mean())


@functools.lru_cache(maxsize=16384)
def class_system(seed: int, class_id: int, min_fill: float, points: int) -> System:
  """The class's IFS: the first random system of its own stream whose attractor fills `min_fill`."""
  rng = np.random.default_rng([seed, class_id, *CLASS_KEY])
  for _ in range(MAX_ATTEMPTS):
    A, b = random_maps(rng)
    walk = chaos_game(A, b, np.random.default_rng([seed, class_id, *CLASS_KEY, 1]), points)
    centre, half = frame_of(walk)
    if fill(walk, centre, half) >= min_fill:
      return System(A, b, centre, half)
  raise ValueError(f"no system of class {class_id} filled {min_fill:.0%} of the frame in {MAX_ATTEMPTS} "
                   "attempts: lower min_fill")


def perturbed(system: System, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """The class's maps with every parameter moved by N(0, sigma^2), still contractive."""
  A = limit_contraction(system.A + sigma * rng.standard_normal(system.A.shape))
  return A, system.b + sigma * rng.standard_normal(system.b.shape)


class FractalPool(RenderedPool):
  """The fractal classes (or their held-out tenth), a Grain-compatible random-access source."""

  def __init__(self, config: FractalPoolConfig = FractalPoolConfig(), heldout: bool = False):
    if config.spread < 0:
      raise ValueError(f"data.spread={config.spread}: the spread multiplies the per-sample noise; use 0 (every "
                       "sample is its class's own attractor) or more")
    self.config = config
    self.class_ids = np.array([c for c in range(config.class_ids)
                               if is_heldout(c, config.heldout_modulus) == heldout], np.int64)
    self.num_classes = len(self.class_ids)
    self.samples_per_class = config.samples_per_class
    self.image_shape = (config.resolution, config.resolution, 1)

  def system(self, class_index: int) -> System:
    c = self.config
    return class_system(c.seed, int(self.class_ids[class_index]), c.min_fill, c.points)

  def render(self, class_index: int, sample_index: int) -> np.ndarray:
    """Sample `sample_index` of class `class_index` as (H, W, 1) uint8."""
    c = self.config
    system = self.system(class_index)
    rng = np.random.default_rng([c.seed, int(self.class_ids[class_index]), int(sample_index)])
    A, b = perturbed(system, c.sigma * c.spread, rng)
    walk = chaos_game(A, b, rng, c.points)
    return rasterise(walk, system.centre, system.half, c.resolution)[..., None]

  def fingerprint(self) -> str:
    return f"fractals:{self.config}:spread{self.config.spread:g}:{self.num_classes}"

  def describe(self) -> dict:
    c = self.config
    maps = [len(self.system(i).A) for i in range(min(self.num_classes, 200))]
    return {"class_ids": c.class_ids, "heldout_modulus": c.heldout_modulus,
            "sigma": c.sigma, "spread": c.spread, "sample_noise": c.sigma * c.spread, "min_fill": c.min_fill,
            "maps_per_class_first_200": {"min": int(min(maps)), "median": float(np.median(maps)),
                                         "max": int(max(maps))},
            "note": "samples per class are virtual: rendered on demand from (seed, class, index)"}
