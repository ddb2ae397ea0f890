"""Reading raw aclImdb reviews from a .tar.gz or an extracted folder, with limits on what is read.

Canonical order: train then test; in each, negative reviews then positive ones; in each, by the
review number of the file name (``<number>_<rating>.txt``). Archives are read into memory only:
links, devices and odd paths never touch the file system.
"""
import os
import re
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np

SPLITS = ("train", "test")
LABELS = ("neg", "pos")                  # label 0, label 1
MAX_REVIEW_BYTES = 1 << 20               # the longest real review has ~14 KB; refuse anything huge
MAX_TOTAL_BYTES = 1 << 30                # all labeled reviews take ~130 MB; bounds a decompression bomb

REVIEW_PATH = re.compile(r"(?:^|/)(train|test)/(pos|neg)/([^/]+)\.txt$")


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
                        match = REVIEW_PATH.search(f"{split}/{label}/{entry.name}")
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
                match = REVIEW_PATH.search(member.name)
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
