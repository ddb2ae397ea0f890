# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Word embeddings, learned by backpropagation in NumPy
#
# TensorFlow's "Word embeddings" tutorial, step by step, on npembed: the same model and the same
# data, with every layer's forward and backward pass written out in NumPy (and Numba for speed).
# This notebook is the text twin `word_embeddings.py` (jupytext, percent format) run top to bottom.
#
# The reviews come from the aclImdb archive: set `NPEMBED_IMDB` to the `.tar.gz` or an extracted
# folder (e.g. `../shared/data/aclImdb_v1_labeled.tar.gz`); without it, the official archive is
# downloaded once into `~/.cache/npembed`.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import IFrame, display

import npembed
from npembed import layers
from npembed.study import explorer
from npembed.wordvectors import projector
from npembed.callbacks import EmbeddingSnapshots
from npembed.datasets import imdb

DATA = os.environ.get("NPEMBED_IMDB")          # None: npembed finds or downloads the archive
OUT = Path("out/word_embeddings")
OUT.mkdir(parents=True, exist_ok=True)
print("npembed", npembed.__version__, "with", npembed.get_kernels(), "kernels")

# %% [markdown]
# ## An embedding is a lookup table
#
# `Embedding(1000, 5)` holds a 1000 x 5 matrix: row *i* is the vector of word id *i*. Looking
# words up is indexing; learning them is adding each word's share of the gradient back into its row.
# Here three ids go in, three 5-number vectors come out; they start as small random numbers.

# %%
embedding_layer = layers.Embedding(1000, 5)
embedding_layer.build((None, 3), np.random.default_rng(0), "float32")
result = embedding_layer.forward(np.array([[1, 2, 3]]))
print(result.shape)
print(result[0])

# %% [markdown]
# ## The IMDB reviews
#
# 25,000 training and 25,000 test reviews, half positive, half negative. Each review becomes a list
# of word ids: rank 1 is the most frequent word, shifted by 3 because ids 0-3 are reserved
# (`<PAD>`, `<START>`, `<UNK>`, `<UNUSED>`). Only the 10,000 most frequent words keep their own id.

# %%
vocab_size = 10000
(train_data, train_labels), (test_data, test_labels) = imdb.load_data(DATA, num_words=vocab_size)
word_index = imdb.get_word_index(DATA)
print(len(train_data), "training reviews;", train_data[0][:12], "...")
print(imdb.decode_review(train_data[0], word_index)[:300], "...")

# %% [markdown]
# Reviews have different lengths; a batch needs one. `pad_sequences` cuts or fills every review to
# 500 ids, filling with 0 after the words (`padding="post"`).

# %%
maxlen = 500
train_data = npembed.pad_sequences(train_data, maxlen=maxlen, padding="post")
test_data = npembed.pad_sequences(test_data, maxlen=maxlen, padding="post")
print(train_data.shape, train_data[0][-8:])

# %% [markdown]
# ## The model
#
# Embedding (each id -> 16 numbers) -> GlobalAveragePooling1D (the mean of a review's vectors, one
# 16-number summary) -> Dense(16, relu) -> Dense(1, sigmoid), the probability that the review is
# positive. Every parameter of it is in the summary.

# %%
embedding_dim = 16
model = npembed.Sequential([
    layers.Embedding(vocab_size, embedding_dim),
    layers.GlobalAveragePooling1D(),
    layers.Dense(16, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
], seed=0)
model.build((None, maxlen))
model.summary()

# %% [markdown]
# ## Training
#
# Binary cross-entropy, Adam, 30 epochs of batches of 512, 20% of the training reviews held out for
# validation. `EmbeddingSnapshots` keeps the 500 most frequent words' vectors after every epoch
# (epoch 0 is the random start): the explorer below replays them.

# %%
counts = imdb.counts_by_id(vocab_size, path=DATA)
shown = explorer.top_rows(counts, first=imdb.INDEX_FROM + 1)
snapshots = EmbeddingSnapshots(rows=shown)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(train_data, train_labels, epochs=30, batch_size=512, validation_split=0.2,
                    callbacks=[snapshots])

# %%
test_loss, test_accuracy = model.evaluate(test_data, test_labels, batch_size=512)
print(f"test accuracy {test_accuracy:.4f}")

# %% [markdown]
# Training accuracy keeps climbing while validation accuracy levels off near 0.89: after about ten
# epochs the model mostly memorises the training reviews.

# %%
logs = history.history
epochs = range(1, len(logs["accuracy"]) + 1)
plt.plot(epochs, logs["accuracy"], "bo", label="Training acc")
plt.plot(epochs, logs["val_accuracy"], "b", label="Validation acc")
plt.title("Training and validation accuracy")
plt.xlabel("Epochs")
plt.ylabel("Accuracy")
plt.legend(loc="lower right")
plt.show()

# %% [markdown]
# ## The learned vectors
#
# The Embedding's matrix is the result: one 16-number vector per word id. `export_projector` writes
# `vecs.tsv` and `meta.tsv` for <https://projector.tensorflow.org> (and a config for TensorBoard).

# %%
weights = model.layers[0].get_weights()[0]
words = imdb.words_by_id(vocab_size, word_index)
print(weights.shape)
projector.export_projector(weights, words, OUT)
print(sorted(path.name for path in OUT.iterdir()))

# %% [markdown]
# Neighbours by cosine similarity. A model trained only to tell positive from negative puts words of
# the same sentiment together, whatever they mean: "beautiful" lands beside other praise, not beside
# its synonyms. (Embeddings learned from context, word2vec, give synonyms: see
# `examples/word2vec_imdb.py`.)

# %%
for word in ("beautiful", "awful", "boring"):
    print(f"{word:>10}:", ", ".join(w for w, _ in projector.nearest_neighbors(weights, words, word, topn=8)))

# %% [markdown]
# ## Watch them move
#
# The explorer is one HTML file with everything inline: drag the slider or press Play to replay the
# 31 snapshots, type a word into the search box to see its neighbours at that epoch, click a dot to
# draw its path. Colour is each word's score along the direction the trained classifier reads as
# "positive".

# %%
page = explorer.write_sentiment_html(model, np.stack(snapshots.snapshots), [words[i] for i in shown],
                                     OUT / "explorer.html", counts=counts[shown], epochs=snapshots.epochs)
print(f"{page} ({page.stat().st_size / 2**20:.1f} MB)")
display(IFrame(str(page), width=1240, height=820))

# %% [markdown]
# ## Next steps
#
# - `examples/using_word_embeddings.py`: Chollet's notebook, with Flatten, RMSprop and pre-trained vectors.
# - `examples/word2vec_imdb.py`: embeddings learned from context (skip-gram), against gensim.
# - `examples/pretrained_embeddings.py`: pre-trained or learned from scratch, with 200 to 20,000 labels.
