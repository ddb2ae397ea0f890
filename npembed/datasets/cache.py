"""The tokenized reviews, cached as one .npz (no pickle) beside the archive, keyed by content.

The key is the source's SHA-256 (for a folder: its review files' names, sizes and times), the
tokenizer's version and this format's version: a second load takes a fraction of a second, and any
change to the data or the tokenizer rebuilds it. A stale or unreadable cache is rebuilt, never trusted.
"""
import hashlib
import signal
import sys
import warnings
import zipfile

import numpy as np

from . import text
from ..atomic import atomic_write
from . import reading
from .source import cache_dir, locate

CACHE_FORMAT = 1


def source_fingerprint(path):
    """SHA-256 of an archive's bytes; for a folder, of its review files' names, sizes and mtimes."""
    path = reading.check_source(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for split, label, name, entry in sorted(reading.review_files(path), key=lambda f: f[:3]):
            status = entry.stat(follow_symlinks=False)
            digest.update(f"{split}/{label}/{name}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
        return "dir-" + digest.hexdigest()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(fingerprint):
    return f"{fingerprint}|tokenizer-{text.TOKENIZER_VERSION}|format-{CACHE_FORMAT}"


def cache_path(source):
    """Where the cache of a located source (archive or folder) lives: named after its key."""
    key = _cache_key(source_fingerprint(source))
    return cache_dir() / f"imdb-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz", key


def build_in_background(path=None):
    """Start building the cache in a child process if it is missing; returns the process, or None.

    The first run spends ~5 s tokenizing on one core; started first, that overlaps with compiling the
    kernels on the other core (see npembed.warmup). Join the process before load_data. Whatever
    happens in the child, load_data afterwards reads a valid cache or builds it itself and reports
    any error: nothing is trusted that the child wrote.
    """
    import multiprocessing
    try:
        source = locate(path, download_if_missing=False)
        if cache_path(source)[0].exists():
            return None
    except (OSError, ValueError):            # load_data will say what is wrong
        return None
    # "spawn": a fresh interpreter, never a fork of a process that may hold Numba's threads
    child = multiprocessing.get_context("spawn").Process(target=_build_quietly, args=(str(source),), daemon=True)
    child.start()
    return child


def _build_quietly(source):
    """The child's work: build the cache, or leave any error to load_data in the parent (no traceback here).

    Stopped early (the parent ends and terminates it), it exits through Python, so the cache's
    temporary file is removed at once (atomic_write), not only at the next write."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            processed(source)
    except Exception:                        # noqa: BLE001 (load_data rebuilds and raises it in the parent)
        pass


def processed(path=None, words_only=False):
    """Tokenized reviews (from the cache, or built and cached): a dict of arrays.

    words: list of words by rank; counts; and for each split, ``{split}_ranks`` (flat int32),
    ``{split}_lengths`` (int64 per review) and ``{split}_labels`` (int64). words_only=True reads
    just words and counts from an existing cache.
    """
    source = locate(path)
    where, key = cache_path(source)
    data = _read_cache(where, key, words_only)
    if data is None:
        data = build(source)
        arrays = dict(data, key=np.array(key),
                      words=np.frombuffer("\n".join(data["words"]).encode("utf-8"), dtype=np.uint8))
        try:
            with atomic_write(where) as handle:
                np.savez(handle, **arrays)
        except OSError as error:            # a read-only cache folder only costs speed
            warnings.warn(f"could not write the IMDB cache {where}: {error}", stacklevel=2)
    return data


def _read_cache(cache_file, key, words_only=False):
    if not cache_file.exists():
        return None
    try:
        if not cache_file.is_file():           # a FIFO or a device would block or never end
            raise ValueError("it is not a regular file")
        with np.load(cache_file, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                raise ValueError("stale key")
            names = ["counts"] if words_only else [n for n in stored.files if n not in ("key", "words")]
            data = {name: stored[name] for name in names}
            data["words"] = bytes(stored["words"]).decode("utf-8").split("\n")
        check_processed(data, words_only)
        return data
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, zipfile.BadZipFile) as error:
        # anything unreadable or implausible is rebuilt, never trusted
        warnings.warn(f"rebuilding the IMDB cache {cache_file}: it was stale or corrupt ({error})",
                      stacklevel=3)
        return None


def _check_array(name, array, kind, ndim=1):
    if array.dtype.kind != kind or array.ndim != ndim:
        raise ValueError(f"{name} is {array.dtype} with shape {array.shape}, expected a "
                         f"{ {'i': 'integer', 'u': 'unsigned'}[kind] } array of {ndim} dimension(s)")


def check_processed(data, words_only=False):
    """ValueError unless data is what build() makes: every dtype, shape, range and total consistent."""
    words, counts = data["words"], data["counts"]
    _check_array("counts", counts, "i")
    if len(words) != len(counts) or (len(counts) and counts.min() < 1):
        raise ValueError(f"{len(words)} words but {len(counts)} counts, or a count below 1")
    if len(set(words)) != len(words) or any(not word or word.split() != [word] for word in words):
        raise ValueError("the vocabulary has an empty, repeated or blank-containing word")
    for split in () if words_only else reading.SPLITS:
        ranks, lengths, labels = (data[f"{split}_{part}"] for part in ("ranks", "lengths", "labels"))
        for name, array in ((f"{split}_ranks", ranks), (f"{split}_lengths", lengths), (f"{split}_labels", labels)):
            _check_array(name, array, "i")
        if len(ranks) and (ranks.min() < 0 or ranks.max() > len(words)):
            raise ValueError(f"{split}_ranks lie in [{ranks.min()}, {ranks.max()}], outside [0, {len(words)}]")
        if len(lengths) and lengths.min() < 0 or int(lengths.sum()) != len(ranks):
            raise ValueError(f"{split}_lengths do not add up to the {len(ranks)} ranks")
        if len(labels) != len(lengths) or (len(labels) and not np.isin(labels, (0, 1)).all()):
            raise ValueError(f"{split}_labels must be one 0/1 label per review")


def build(source):
    """Read and tokenize every review of source: the dict that processed() caches (see its docstring)."""
    reviews = reading.read_reviews(source)
    words, counts, encoded = text.encode({split: reviews[split][0] for split in reading.SPLITS})
    data = {"words": words, "counts": counts}
    for split in reading.SPLITS:
        data[f"{split}_ranks"], data[f"{split}_lengths"] = encoded[split]
        data[f"{split}_labels"] = reviews[split][1]
    return data
