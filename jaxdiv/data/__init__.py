"""Data: sources (glyph pool, embedded tasks, TFDS), the K×n subset sampler, input pipelines."""

from jaxdiv.data.clusters import clustered_subset, kmeans
from jaxdiv.data.pipeline import (
                                  Subset,
                                  draw_subset,
                                  materialise,
                                  streaming_dataset,
                                  to_global_array,
)
from jaxdiv.data.sampler import imbalanced_subset_indices, power_law_sizes, relabel, subset_indices
from jaxdiv.data.sources import get_source

__all__ = [
    "Subset", "clustered_subset", "draw_subset", "get_source", "imbalanced_subset_indices", "kmeans", "materialise",
    "power_law_sizes", "relabel", "streaming_dataset", "subset_indices", "to_global_array",
]
