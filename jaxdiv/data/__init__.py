"""Data: sources (glyph pool, embedded tasks, TFDS) and the factory that builds one from a config, the K×n
subset sampler, k-means relabelling, input pipelines."""

from jaxdiv.data.clusters import clustered_subset, kmeans
from jaxdiv.data.pipeline import (
                                  Subset,
                                  draw_subset,
                                  materialise,
                                  streaming_dataset,
                                  to_global_array,
)
from jaxdiv.data.sampler import imbalanced_subset_indices, power_law_sizes, relabel, subset_indices
from jaxdiv.data.sources import build_source, get_source

__all__ = [
    "Subset", "build_source", "clustered_subset", "draw_subset", "get_source", "imbalanced_subset_indices", "kmeans",
    "materialise", "power_law_sizes", "relabel", "streaming_dataset", "subset_indices", "to_global_array",
]
