"""``keras.preprocessing.text``'s names, as Chollet's notebook imports them: Keras's Tokenizer and
text_to_word_sequence (implemented in npembed.datasets.keras_tokenizer)."""
from ..datasets.keras_tokenizer import FILTERS, Tokenizer, text_to_word_sequence

__all__ = ["Tokenizer", "text_to_word_sequence", "FILTERS"]
