"""Datasets built from raw sources: ``npembed.datasets.imdb``."""
from . import imdb

__all__ = ["imdb"]
