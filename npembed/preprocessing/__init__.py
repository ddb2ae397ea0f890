"""Keras's import paths for what the tutorial and Chollet's notebooks use: thin aliases.

``npembed.preprocessing.sequence.pad_sequences`` is ``npembed.pad_sequences``;
``npembed.preprocessing.text.Tokenizer`` is Keras's word-index tokenizer.
"""
from . import sequence, text

__all__ = ["sequence", "text"]
