"""Data, raw text to padded id rows: the IMDB reviews (``imdb``: where they come from, reading them,
the tokenized cache), the IMDB tokenizer (``text``), Keras's Tokenizer (``keras_tokenizer``), and
padding id sequences (``sequences``: pad_sequences, Keras's skipgrams)."""


def __getattr__(name):
    # ``npembed.datasets.imdb`` loads on first use: pad_sequences lives here too, and ``import npembed``
    # should not read the archive code to get it
    if name == "imdb":
        import importlib
        return importlib.import_module(".imdb", __name__)
    raise AttributeError(f"module 'npembed.datasets' has no attribute {name!r}")
