"""``keras.preprocessing.sequence``'s names, as the tutorial imports them (one implementation each)."""
from ..datasets.sequences import make_sampling_table, pad_sequences, skipgrams

__all__ = ["pad_sequences", "make_sampling_table", "skipgrams"]
