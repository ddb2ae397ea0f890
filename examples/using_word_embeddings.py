"""Chollet's "Using word embeddings" (Deep Learning with Python, notebook 6.1) on npembed.

    python examples/using_word_embeddings.py --data ../shared/data/aclImdb_v1_labeled.tar.gz \
        [--vectors glove.6B.100d.txt] [--section 1|2|3|all]

1. An Embedding learned with the task: Embedding(10000, 8, input_length=20) -> Flatten ->
   Dense(1, sigmoid), RMSprop, on load_data(num_words=10000) padded to 20 ids (the book: ~75%).
2. From raw text: the aclImdb training reviews, Keras's Tokenizer(num_words=10000), 100 words a
   review, 200 training and 10,000 validation samples, as in the book.
3. Pre-trained vectors: a GloVe / word2vec text file (--vectors) fills a frozen
   Embedding(10000, dim, input_length=100) -> Flatten -> Dense(32, relu) -> Dense(1, sigmoid);
   then the same model trained from scratch; both evaluated on the test reviews. Without
   --vectors (GloVe cannot be downloaded here) only the from-scratch model runs.

The model code is the book's, with npembed's imports. Results go to --out/results.json.
"""
import argparse
import json
import os
from pathlib import Path

import numpy as np

from npembed import scripts
from npembed.atomic import atomic_write
from npembed.datasets import imdb, reading
from npembed.layers import Dense, Embedding, Flatten
from npembed.models import Sequential
from npembed.preprocessing.sequence import pad_sequences
from npembed.preprocessing.text import Tokenizer
from npembed.wordvectors.files import embedding_matrix as fill_embedding_matrix, load_word_vectors


def section_1(args):
    """Embedding + Flatten + Dense on Keras's integer-encoded IMDB, 20 words a review."""
    max_features, maxlen = args.max_words, 20
    (x_train, y_train), (x_test, y_test) = imdb.load_data(args.data, num_words=max_features)
    x_train = pad_sequences(x_train, maxlen=maxlen)
    x_test = pad_sequences(x_test, maxlen=maxlen)

    model = Sequential(seed=args.seed)
    model.add(Embedding(max_features, 8, input_length=maxlen))
    model.add(Flatten())
    model.add(Dense(1, activation='sigmoid'))
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
    model.summary()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.2,
                        verbose=args.verbose)
    return {"val_acc": history.history['val_acc'][-1], "best_val_acc": max(history.history['val_acc'])}


def section_2_data(args, reviews):
    """Tokenize the raw training reviews; 200 training and 10,000 validation samples."""
    texts, labels = reviews["train"]
    maxlen, training_samples, validation_samples, max_words = (args.maxlen, args.training_samples,
                                                                args.validation_samples, args.max_words)
    tokenizer = Tokenizer(num_words=max_words)
    tokenizer.fit_on_texts(texts)
    sequences = tokenizer.texts_to_sequences(texts)
    word_index = tokenizer.word_index
    print('Found %s unique tokens.' % len(word_index))
    data = pad_sequences(sequences, maxlen=maxlen)
    labels = np.asarray(labels)
    print('Shape of data tensor:', data.shape)
    print('Shape of label tensor:', labels.shape)
    indices = np.random.default_rng(args.seed).permutation(data.shape[0])   # the book: np.random.shuffle
    data = data[indices]
    labels = labels[indices]
    x_train = data[:training_samples]
    y_train = labels[:training_samples]
    x_val = data[training_samples: training_samples + validation_samples]
    y_val = labels[training_samples: training_samples + validation_samples]
    return tokenizer, (x_train, y_train), (x_val, y_val)


def dense_model(args, embedding_dim):
    model = Sequential(seed=args.seed)
    model.add(Embedding(args.max_words, embedding_dim, input_length=args.maxlen))
    model.add(Flatten())
    model.add(Dense(32, activation='relu'))
    model.add(Dense(1, activation='sigmoid'))
    return model


def section_2_and_3(args, out):
    """Raw text, then pre-trained vectors (frozen) against an Embedding trained from scratch."""
    # the book walks aclImdb/{train,test}/{neg,pos}; npembed's reader does the same, archive or folder
    reviews = reading.read_reviews(args.data)
    tokenizer, (x_train, y_train), (x_val, y_val) = section_2_data(args, reviews)
    texts, labels = reviews["test"]
    x_test = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=args.maxlen)
    y_test = np.asarray(labels)
    results = {"unique_tokens": len(tokenizer.word_index)}
    runs = {}
    if args.vectors:
        words, vectors = load_word_vectors(args.vectors)
        embedding_dim = vectors.shape[1]
        embedding_matrix, found = fill_embedding_matrix(tokenizer.word_index, words, vectors, args.max_words)
        print(f"Found {len(words)} word vectors; {found} of the {args.max_words - 1} tokenizer words have one.")
        model = dense_model(args, embedding_dim)
        model.summary()
        model.layers[0].set_weights([embedding_matrix])
        model.layers[0].trainable = False
        runs["pre-trained, frozen"] = (model, out / 'pre_trained_model.weights.npz')
        results["vectors"] = {"path": str(args.vectors), "words": len(words), "dim": embedding_dim,
                              "tokenizer_words_found": found}
    else:
        embedding_dim = 100
        print("No --vectors: the pre-trained model is skipped (GloVe cannot be downloaded here).")
    runs["learned from scratch"] = (dense_model(args, embedding_dim), out / 'from_scratch_model.weights.npz')
    for name, (model, weights_file) in runs.items():
        model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
                            validation_data=(x_val, y_val), verbose=args.verbose)
        model.save_weights(weights_file)
        model.load_weights(weights_file)
        test_loss, test_acc = model.evaluate(x_test, y_test)
        results[name] = {"val_acc": history.history['val_acc'][-1], "best_val_acc": max(history.history['val_acc']),
                         "test_acc": test_acc, "test_loss": test_loss}
        print(f"{name}: val_acc {results[name]['val_acc']:.4f} (best {results[name]['best_val_acc']:.4f}), "
              f"test_acc {test_acc:.4f}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="aclImdb .tar.gz or folder")
    parser.add_argument("--vectors", help="GloVe / word2vec text file for section 3")
    parser.add_argument("--out", default="out/using_word_embeddings")
    parser.add_argument("--section", choices=("1", "2", "3", "all"), default="all")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-words", type=int, default=10000)
    parser.add_argument("--maxlen", type=int, default=100, help="words a review in sections 2 and 3")
    parser.add_argument("--training-samples", type=int, default=200)
    parser.add_argument("--validation-samples", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    for name in ("epochs", "max_words", "maxlen", "training_samples", "validation_samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        reading.check_readable(args.data)
        if args.vectors and not Path(args.vectors).is_file():
            raise FileNotFoundError(f"{args.vectors} is not a file")
    except (OSError, ValueError) as error:
        parser.error(str(error))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"settings": vars(args)}
    if args.section in ("1", "all"):
        results["section 1"] = section_1(args)
    if args.section in ("2", "3", "all"):
        results["sections 2 and 3"] = section_2_and_3(args, out)
    with atomic_write(out / "results.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, default=str)
    print(json.dumps({key: value for key, value in results.items() if key != "settings"}, default=str))
    return results


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    scripts.run(main)
