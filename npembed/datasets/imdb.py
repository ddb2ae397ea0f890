"""The IMDB movie-review dataset, built from the raw aclImdb archive with Keras's id conventions.

``load_data`` gives what ``keras.datasets.imdb.load_data`` gives, but rebuilt from the review texts
(see npembed.text for the tokenizer), so every step can be read and changed.

Where the reviews come from, first match wins:
1. ``path``: an aclImdb .tar.gz (the official aclImdb_v1.tar.gz or a copy holding only the labeled
   reviews), or an extracted aclImdb folder (or the folder that contains it);
2. the environment variable ``NPEMBED_IMDB``, same forms;
3. ``aclImdb_v1.tar.gz`` in the cache folder (``NPEMBED_CACHE``, else ``$XDG_CACHE_HOME/npembed``,
   else ``~/.cache/npembed``);
4. otherwise the official archive is downloaded there, verified by SHA-256, and moved into place.

The tokenized result is cached in the same folder as one .npz (no pickle), keyed by the source's
content hash and the tokenizer's version: a second load takes a fraction of a second.

Canonical order, before shuffling: train then test; in each, negative reviews then positive
ones; in each, by the review number of the file name (``<number>_<rating>.txt``).
"""
import hashlib
import os
import pickle
import re
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np

from .. import _checks, text
from .._io import atomic_write

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
SPLITS = ("train", "test")
LABELS = ("neg", "pos")                  # label 0, label 1
MAX_REVIEW_BYTES = 1 << 20               # the longest real review has ~14 KB; refuse anything huge
MAX_TOTAL_BYTES = 1 << 30                # all labeled reviews take ~130 MB; bounds a decompression bomb
CACHE_FORMAT = 1

_REVIEW_PATH = re.compile(r"(?:^|/)(train|test)/(pos|neg)/([^/]+)\.txt$")


# ------------------------------------------------------------------------------------------------
# Where the data lives
# ------------------------------------------------------------------------------------------------

def cache_dir():
    """The per-user folder for the downloaded archive and the processed cache."""
    if os.environ.get("NPEMBED_CACHE"):
        return Path(os.environ["NPEMBED_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "npembed"


def locate(path=None, download_if_missing=True):
    """The archive or folder to read, following the order in the module docstring."""
    for candidate, origin in ((path, "path"), (os.environ.get("NPEMBED_IMDB") or None, "NPEMBED_IMDB")):
        if candidate is not None:
            candidate = Path(candidate).expanduser()
            if not candidate.exists():
                raise FileNotFoundError(f"IMDB data not found: {origin} points to {candidate}, "
                                        "which does not exist")
            return candidate
    cached = cache_dir() / ARCHIVE_NAME
    if cached.exists():
        return cached
    if not download_if_missing:
        raise FileNotFoundError(f"no IMDB archive at {cached}")
    return download(cached)


def download(destination=None, url=None, sha256=None, progress=True):
    """Download the official archive to destination, verify its SHA-256, move it into place."""
    destination = Path(destination or cache_dir() / ARCHIVE_NAME)
    url, sha256 = url or URL, sha256 or SHA256
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, \
                atomic_write(destination) as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, f"Downloading {destination.name}", progress)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
            bar.close()
            if digest.hexdigest() != sha256:
                raise ValueError(f"the download from {url} has SHA-256 {digest.hexdigest()}, "
                                 f"expected {sha256}; the file was not kept")
    except (urllib.error.URLError, OSError) as error:
        if isinstance(error, FileNotFoundError) and not str(url).startswith("file:"):
            raise
        raise ConnectionError(
            f"could not download the IMDB archive from {url} ({error}). Without network access, "
            "pass the path of an aclImdb .tar.gz or folder: load_data(path=...), --data PATH, or "
            "the environment variable NPEMBED_IMDB.") from None
    return destination


def _progress_bar(total, description, enabled):
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, desc=description, disable=not enabled)


# ------------------------------------------------------------------------------------------------
# Reading raw reviews
# ------------------------------------------------------------------------------------------------

def _review_key(match):
    split, label, stem = match.groups()
    number = stem.split("_", 1)[0]
    return split, label, (int(number) if number.isdigit() else float("inf"), stem)


def read_reviews(path):
    """{split: (texts, labels)} from an archive or folder, in canonical order.

    Reviews with invalid UTF-8 are decoded with replacement characters and counted in a warning.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IMDB data not found at {path}")
    found = []                                           # (split, label, sort key, bytes)
    if path.is_dir():
        root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
        for split in SPLITS:
            for label in LABELS:
                folder = root / split / label
                if folder.is_dir():
                    for entry in os.scandir(folder):
                        match = _REVIEW_PATH.search(f"{split}/{label}/{entry.name}")
                        if match and entry.is_file() and entry.stat().st_size <= MAX_REVIEW_BYTES:
                            found.append((*_review_key(match), Path(entry.path).read_bytes()))
    else:
        found = _read_archive(path)
    groups = {(split, label): 0 for split in SPLITS for label in LABELS}
    for split, label, _, _ in found:
        groups[split, label] += 1
    missing = [f"{split}/{label}" for (split, label), count in groups.items() if count == 0]
    if missing:
        raise ValueError(f"{path} is not an aclImdb archive or folder: it has no reviews in "
                         f"{', '.join(missing)} (expected aclImdb/{{train,test}}/{{pos,neg}}/*.txt)")
    found.sort(key=lambda item: (SPLITS.index(item[0]), LABELS.index(item[1]), item[2]))
    invalid = 0
    result = {split: ([], []) for split in SPLITS}
    for split, label, _, raw in found:
        try:
            review = raw.decode("utf-8")
        except UnicodeDecodeError:
            review = raw.decode("utf-8", errors="replace")
            invalid += 1
        result[split][0].append(review)
        result[split][1].append(LABELS.index(label))
    if invalid:
        warnings.warn(f"{invalid} reviews in {path} were not valid UTF-8; their bad bytes were "
                      "replaced by U+FFFD", UnicodeWarning, stacklevel=3)
    return {split: (texts, np.array(labels, dtype=np.int64)) for split, (texts, labels) in result.items()}


def _read_archive(path):
    try:
        archive = tarfile.open(path, "r:*")
    except (tarfile.ReadError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"{path} is not a gzip/tar archive ({error})") from None
    found, total = [], 0
    try:
        with archive:
            for member in archive:
                match = _REVIEW_PATH.search(member.name)
                # only regular files are read, into memory: links, devices and odd paths never
                # touch the file system
                if not match or not member.isfile():
                    continue
                if member.size > MAX_REVIEW_BYTES:
                    raise ValueError(f"{path}: member {member.name} declares {member.size} bytes, "
                                     "far more than any review")
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    raise ValueError(f"{path}: its reviews add up to more than {MAX_TOTAL_BYTES} bytes, "
                                     "far more than the aclImdb archive holds")
                found.append((*_review_key(match), archive.extractfile(member).read()))
            # read to the end of a compressed stream, so that its checksum (gzip's CRC-32) is
            # verified: a corrupt byte inside a review must not pass silently
            while archive.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ValueError(f"{path} is a truncated or corrupt archive ({type(error).__name__}: "
                         f"{error})") from None
    return found


# ------------------------------------------------------------------------------------------------
# The processed cache
# ------------------------------------------------------------------------------------------------

def source_fingerprint(path):
    """SHA-256 of an archive's bytes; for a folder, of its review files' names, sizes and mtimes."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*.txt") if _REVIEW_PATH.search(p.as_posix())):
            stat = file.stat()
            digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                          .encode())
        return "dir-" + digest.hexdigest()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(fingerprint):
    return f"{fingerprint}|tokenizer-{text.TOKENIZER_VERSION}|format-{CACHE_FORMAT}"


def processed(path=None, words_only=False):
    """Tokenized reviews (from the cache, or built and cached): a dict of arrays.

    words: list of words by rank; counts; and for each split, ``{split}_ranks`` (flat int32),
    ``{split}_lengths`` (int64 per review) and ``{split}_labels`` (int64). words_only=True reads
    just words and counts from an existing cache.
    """
    source = locate(path)
    key = _cache_key(source_fingerprint(source))
    cache_file = cache_dir() / f"imdb-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    data = _read_cache(cache_file, key, words_only)
    if data is None:
        data = _build(source)
        arrays = dict(data, key=np.array(key),
                      words=np.frombuffer("\n".join(data["words"]).encode("utf-8"), dtype=np.uint8))
        try:
            with atomic_write(cache_file) as handle:
                np.savez(handle, **arrays)
        except OSError as error:            # a read-only cache folder only costs speed
            warnings.warn(f"could not write the IMDB cache {cache_file}: {error}", stacklevel=2)
    return data


def _read_cache(cache_file, key, words_only=False):
    if not cache_file.exists():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as archive:
            if str(archive["key"]) != key:
                raise ValueError("stale key")
            names = ["counts"] if words_only else [n for n in archive.files if n not in ("key", "words")]
            data = {name: archive[name] for name in names}
            data["words"] = bytes(archive["words"]).decode("utf-8").split("\n")
        for split in () if words_only else SPLITS:
            lengths = data[f"{split}_lengths"]
            if lengths.sum() != len(data[f"{split}_ranks"]) or len(lengths) != len(data[f"{split}_labels"]):
                raise ValueError("inconsistent lengths")
        if len(data["words"]) != len(data["counts"]):
            raise ValueError("inconsistent vocabulary")
        return data
    except Exception as error:              # any unreadable cache is rebuilt, never trusted
        warnings.warn(f"rebuilding the IMDB cache {cache_file}: it was stale or corrupt ({error})",
                      stacklevel=3)
        return None


PARALLEL_FROM_BYTES = 4 << 20      # smaller sources are tokenized in this process alone


def _build(source):
    # A second Python process (started first, so that its imports overlap the reading) numbers
    # the test reviews while this one numbers the training reviews: ~2 s less on two cores.
    size = source.stat().st_size if source.is_file() else PARALLEL_FROM_BYTES
    worker = _NumberingWorker() if size >= PARALLEL_FROM_BYTES else None
    try:
        reviews = read_reviews(source)
        words, counts, encoded = text.encode({split: reviews[split][0] for split in SPLITS},
                                             executor=worker)
    finally:
        if worker is not None:
            worker.close()
    data = {"words": words, "counts": counts}
    for split in SPLITS:
        data[f"{split}_ranks"], data[f"{split}_lengths"] = encoded[split]
        data[f"{split}_labels"] = reviews[split][1]
    return data


class _NumberingWorker:
    """``python -m npembed.text`` in a subprocess, used as a one-task executor by text.encode.

    A plain subprocess rather than multiprocessing, so the user's main script is never imported
    again. Texts go in and results come back pickled over the pipes between this process and the
    child it started (nothing from outside is unpickled). If anything fails, the work is done here.
    """

    def __init__(self):
        try:
            package_parent = str(Path(__file__).resolve().parents[2])     # the same npembed as here
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(
                filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
            self.process = subprocess.Popen([sys.executable, "-m", "npembed.text"], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError:
            self.process = None

    def submit(self, function, texts):
        if self.process is not None:
            try:
                pickle.dump(texts, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.close()
            except OSError:
                self.close()
        return _Pending(self, function, texts)

    def result(self, function, texts):
        if self.process is not None:
            try:
                result = pickle.load(self.process.stdout)
                if self.process.wait(timeout=60) == 0:
                    return result
            except (OSError, EOFError, pickle.UnpicklingError, subprocess.TimeoutExpired):
                pass
            self.close()
        return function(texts)

    def close(self):
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                pipe.close()
            self.process = None


class _Pending:
    def __init__(self, worker, function, texts):
        self.worker, self.function, self.texts = worker, function, texts

    def result(self):
        return self.worker.result(self.function, self.texts)


# ------------------------------------------------------------------------------------------------
# The Keras-compatible API
# ------------------------------------------------------------------------------------------------

MAX_ID = _checks.MAX_ID


def _optional_id(name, value):
    return None if value is None else _checks.positive_int(name, value, minimum=0, maximum=MAX_ID)


def load_data(path=None, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3):
    """IMDB reviews as id sequences and 0/1 labels: ``(x_train, y_train), (x_test, y_test)``.

    Keras's conventions: each review is ``[start_char] + [rank + index_from for each word]``
    (rank 1 = most frequent training word); ids 0 (padding), 1 (start) and 2 (out of vocabulary)
    are reserved and 3 is never used. An id outside ``skip_top <= id < num_words`` becomes
    ``oov_char`` (or is dropped when oov_char is None); like Keras, this applies to start_char too.
    Both splits are shuffled by one ``numpy.random.RandomState(seed)``: first the training set,
    then the test set.

    Differences from keras.datasets.imdb, on purpose:
    - the vocabulary comes from the training reviews only, so a word seen only in the test
      reviews becomes ``oov_char`` (Keras's file silently deletes such words);
    - num_words=None keeps every id (Keras makes the single largest id out-of-vocabulary).

    maxlen follows Keras: reviews whose sequence (start_char included) is not shorter than maxlen
    are DROPPED, not truncated; use pad_sequences(maxlen=...) to truncate.

    x_* are object arrays holding one int32 array per review (Keras holds lists); y_* are int64.
    """
    num_words = None if num_words is None else _checks.positive_int("num_words", num_words, 1, MAX_ID)
    skip_top = _checks.positive_int("skip_top", skip_top, 0, MAX_ID)
    maxlen = None if maxlen is None else _checks.positive_int("maxlen", maxlen)
    seed = _checks.positive_int("seed", seed, 0, 2**32 - 1)           # numpy.random.RandomState's range
    start_char, oov_char = _optional_id("start_char", start_char), _optional_id("oov_char", oov_char)
    index_from = _checks.positive_int("index_from", index_from, 0, MAX_ID // 2)
    if num_words is not None and num_words <= index_from:
        raise ValueError(f"num_words={num_words} keeps no word: word ids start at "
                         f"index_from + 1 = {index_from + 1}")
    data = processed(path)
    rng = np.random.RandomState(seed)
    out = []
    for split in SPLITS:
        # popped: the ranks are turned into ids in place and freed, split after split
        ranks, lengths = data.pop(f"{split}_ranks"), data[f"{split}_lengths"]
        labels = data[f"{split}_labels"]
        order = np.arange(len(lengths))
        rng.shuffle(order)
        ids, lengths = _keras_ids(ranks, lengths, num_words, skip_top, start_char, oov_char, index_from)
        sequences = _split(ids, lengths)[order]
        labels, lengths = labels[order], lengths[order]
        if maxlen is not None:
            keep = lengths < maxlen
            sequences, labels = sequences[keep], labels[keep]
            if not keep.any():
                raise ValueError(f"maxlen={maxlen} drops every {split} review; the shortest has "
                                 f"{lengths.min()} ids")
        out.append((sequences, labels))
    return tuple(out)


def _keras_ids(ranks, lengths, num_words, skip_top, start_char, oov_char, index_from):
    """Flat ranks -> flat Keras ids and new lengths (start_char prepended, out-of-range ids replaced).

    Works in place on ranks when they are int32 (the caller gives them up): load_data's peak memory
    stays near the size of its output.
    """
    dtype = np.int32 if len(ranks) == 0 or int(ranks.max()) + index_from < MAX_ID else np.int64
    body = ranks.astype(dtype, copy=False)
    outside = body == 0                                   # not in the training vocabulary
    body += index_from
    body[outside] = -1
    del outside
    if start_char is not None:
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) + np.arange(len(lengths))
        ids = np.empty(len(body) + len(lengths), dtype=dtype)
        is_body = np.ones(len(ids), dtype=bool)
        is_body[starts] = False
        ids[starts] = start_char
        ids[is_body] = body
        del body, is_body
        lengths = lengths + 1
    else:
        ids = body
    drop = (ids < skip_top) | (ids < 0)
    if num_words is not None:
        drop |= ids >= num_words
    if oov_char is not None:
        ids[drop] = oov_char
    else:
        review = np.repeat(np.arange(len(lengths)), lengths)
        lengths = lengths - np.bincount(review[drop], minlength=len(lengths))
        ids = ids[~drop]
    return ids.astype(np.int32, copy=False), lengths


def _split(flat, lengths):
    """One object array of views into flat, one per review."""
    parts = np.split(flat, np.cumsum(lengths)[:-1])
    out = np.empty(len(parts), dtype=object)
    for i, part in enumerate(parts):
        out[i] = part
    return out


def get_word_index(path=None):
    """{word: rank}, rank 1 = most frequent word of the training reviews (no index_from shift)."""
    return {word: rank for rank, word in enumerate(processed(path, words_only=True)["words"], start=1)}


def get_word_counts(path=None):
    """Training-review counts by rank: counts[rank - 1] is how often word rank occurs (int64)."""
    return processed(path, words_only=True)["counts"]


def words_by_id(num_words, word_index, start_char=1, oov_char=2, index_from=3):
    """The word for every id in [0, num_words): row i names embedding row i (e.g. meta.tsv).

    0 -> "<PAD>", start_char -> "<START>", oov_char -> "<UNK>", other ids up to index_from and ids
    of no word -> "<UNUSED>".
    """
    words = ["<UNUSED>"] * num_words
    for word, rank in word_index.items():
        if rank + index_from < num_words:
            words[rank + index_from] = word
    for i, name in ((0, "<PAD>"), (start_char, "<START>"), (oov_char, "<UNK>")):
        if i is not None and i < num_words:
            words[i] = name
    return words


def decode_review(ids, word_index=None, path=None, start_char=1, oov_char=2, index_from=3,
                  skip_padding=False):
    """Ids back to text, shifting by index_from as load_data does (so it never reads as gibberish).

    0 -> "<PAD>", start_char -> "<START>", oov_char -> "<UNK>", other ids below index_from + 1 ->
    "<UNUSED>", unknown ids -> "?". word_index defaults to get_word_index(path).
    """
    if word_index is None:
        word_index = get_word_index(path)
    reverse_word_index = {rank + index_from: word for word, rank in word_index.items()}
    reserved = {0: "<PAD>", start_char: "<START>", oov_char: "<UNK>"}
    words = []
    for i in np.asarray(ids).ravel().tolist():
        if i == 0 and skip_padding:
            continue
        if i in reserved:
            words.append(reserved[i])
        elif 0 <= i <= index_from:
            words.append("<UNUSED>")
        else:
            words.append(reverse_word_index.get(i, "?"))
    return " ".join(words)
