"""``keras.preprocessing.sequence``'s names, as the tutorial imports them (one implementation each)."""
from ..sequence import pad_sequences

__all__ = ["pad_sequences"]
