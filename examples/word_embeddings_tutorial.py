"""TensorFlow's "Word embeddings" tutorial, cell for cell, on npembed: only the imports changed (and
``path=`` where the data is loaded, since there may be no network).

    python examples/word_embeddings_tutorial.py --data ../shared/data/aclImdb_v1_labeled.tar.gz

Every line between the "tutorial" markers is the tutorial's own code, in its order; the lines
marked "npembed:" are the only changes. It writes vecs.tsv, meta.tsv and accuracy.png into --out.
"""
import argparse
import os
import sys
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--data", required=True, help="aclImdb .tar.gz or folder")
parser.add_argument("--out", default="out/word_embeddings_tutorial", help="output folder")
options = parser.parse_args()
DATA = str(Path(options.data).resolve())
Path(options.out).mkdir(parents=True, exist_ok=True)
os.chdir(options.out)                            # the tutorial writes vecs.tsv and meta.tsv here
os.environ.setdefault("MPLBACKEND", "Agg")       # plt.show() has no window to open

# ---- tutorial ----------------------------------------------------------------------------------
import npembed as tf                             # npembed: was `import tensorflow as tf`
import npembed as keras                          # npembed: was `from tensorflow import keras`
from npembed import layers                       # npembed: was `from tensorflow.keras import layers`

# The Embedding layer takes at least two arguments:
# the number of possible words in the vocabulary, here 1000 (1 + maximum word index),
# and the dimensionality of the embeddings, here 32.
embedding_layer = layers.Embedding(1000, 32)

vocab_size = 10000
imdb = keras.datasets.imdb
(train_data, train_labels), (test_data, test_labels) = imdb.load_data(path=DATA, num_words=vocab_size)  # npembed: path=

print(train_data[0])

# A dictionary mapping words to an integer index
word_index = imdb.get_word_index(path=DATA)      # npembed: path=

# The first indices are reserved
word_index = {k:(v+3) for k,v in word_index.items()}
word_index["<PAD>"] = 0
word_index["<START>"] = 1
word_index["<UNK>"] = 2  # unknown
word_index["<UNUSED>"] = 3

reverse_word_index = dict([(value, key) for (key, value) in word_index.items()])

def decode_review(text):
    return ' '.join([reverse_word_index.get(i, '?') for i in text])

print(decode_review(train_data[0]))

maxlen = 500

train_data = keras.preprocessing.sequence.pad_sequences(train_data,
                                                        value=word_index["<PAD>"],
                                                        padding='post',
                                                        maxlen=maxlen)

test_data = keras.preprocessing.sequence.pad_sequences(test_data,
                                                       value=word_index["<PAD>"],
                                                       padding='post',
                                                       maxlen=maxlen)

print(train_data[0])

embedding_dim=16

model = keras.Sequential([
  layers.Embedding(vocab_size, embedding_dim, input_length=maxlen),
  layers.GlobalAveragePooling1D(),
  layers.Dense(16, activation='relu'),
  layers.Dense(1, activation='sigmoid')
])

model.summary()

model.compile(optimizer='adam',
              loss='binary_crossentropy',
              metrics=['accuracy'])

history = model.fit(
    train_data,
    train_labels,
    epochs=30,
    batch_size=512,
    validation_split=0.2)

import matplotlib.pyplot as plt

acc = history.history['accuracy']
val_acc = history.history['val_accuracy']

epochs = range(1, len(acc) + 1)

plt.plot(epochs, acc, 'bo', label='Training acc')
plt.plot(epochs, val_acc, 'b', label='Validation acc')
plt.title('Training and validation accuracy')
plt.xlabel('Epochs')
plt.ylabel('Accuracy')
plt.legend(loc='lower right')
plt.savefig('accuracy.png')                      # npembed: added, so that the picture is kept
plt.figure(figsize=(16,9))

plt.show()

e = model.layers[0]
weights = e.get_weights()[0]
print(weights.shape) # shape: (vocab_size, embedding_dim)

out_v = open('vecs.tsv', 'w')
out_m = open('meta.tsv', 'w')
for word_num in range(vocab_size):
  word = reverse_word_index[word_num]
  embeddings = weights[word_num]
  out_m.write(word + "\n")
  out_v.write('\t'.join([str(x) for x in embeddings]) + "\n")
out_v.close()
out_m.close()
# ---- end of the tutorial -------------------------------------------------------------------------

print(f"final val_accuracy {val_acc[-1]:.4f}; wrote vecs.tsv, meta.tsv, accuracy.png to {Path.cwd()}")
sys.exit(0)
