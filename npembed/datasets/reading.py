"""Reading raw aclImdb reviews from a .tar.gz or an extracted folder, with limits on what is read.

Canonical order: train then test; in each, negative reviews then positive ones; in each, by the
review number of the file name (``<number>_<rating>.txt``). Archives are read into memory only:
links, devices and odd paths never touch the file system.
"""
import os
import stat
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np

SPLITS = ("train", "test")
LABELS = ("neg", "pos")                  # label 0, label 1
FOLDERS = LABELS + ("unsup",)            # train/unsup: the official archive's 50,000 unlabeled reviews
LABELED = tuple((split, label) for split in ("train", "test") for label in LABELS)
MAX_REVIEW_BYTES = 1 << 20               # the longest real review has ~14 KB; refuse anything huge
MAX_TOTAL_BYTES = 1 << 30                # all labeled reviews take ~130 MB; bounds a decompression bomb

MAX_HEADER_BYTES = 1 << 16               # a long member name or pax header; real ones take ~100 bytes


def review_parts(name):
    """(root, split, label, stem) of a member name "<root>/<split>/<label>/<stem>.txt", else None.

    <root> is the aclImdb folder ("" when the name starts at <split>); the same for every review."""
    parts = name.rsplit("/", 3)
    if len(parts) < 3:
        return None
    root, (split, label, file) = (parts[0] if len(parts) == 4 else ""), parts[-3:]
    if split in SPLITS and label in FOLDERS and file.endswith(".txt") and len(file) > 4:
        return root, split, label, file[:-4]
    return None


def check_source(path):
    """path as a Path, if it is a folder or a regular file; OSError naming it otherwise.

    Only regular files are read: a device such as /dev/zero or a FIFO would never end."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"IMDB data not found at {path}")
    if not (path.is_dir() or stat.S_ISREG(path.stat().st_mode)):
        raise OSError(f"{path} is neither a folder nor a regular file (a device or a pipe?); "
                      "give an aclImdb .tar.gz or its extracted folder")
    return path


def check_readable(path):
    """path as a Path if it looks like aclImdb data, reading only headers: a folder with train/ and
    test/ review folders, or a tar archive (gzip or not). OSError or ValueError naming it otherwise."""
    path = check_source(path)
    if path.is_dir():
        root = review_root(path)
        missing = [f"{split}/{label}" for split in SPLITS for label in LABELS if not (root / split / label).is_dir()]
        if missing:
            raise ValueError(f"{path} is not an aclImdb folder: it has no {', '.join(missing)} "
                             "(expected aclImdb/{train,test}/{pos,neg}/*.txt)")
    elif not tarfile.is_tarfile(path):
        raise ValueError(f"{path} is not a .tar.gz (or .tar) archive")
    return path


def review_root(folder):
    """The aclImdb folder inside folder (or folder itself), where train/ and test/ are."""
    folder = Path(folder)
    return folder / "aclImdb" if (folder / "aclImdb").is_dir() else folder


def review_files(folder, groups=LABELED):
    """[(split, label, name, os.DirEntry)] of the review files of an extracted folder: regular files
    <root>/<split>/<label>/<name>.txt for (split, label) in groups, exactly those an archive of the
    folder would give."""
    root, files = review_root(folder), []
    for split, label in groups:
        place = root / split / label
        if place.is_dir():
            with os.scandir(place) as entries:
                files += [(split, label, entry.name[:-4], entry) for entry in entries
                          if entry.name.endswith(".txt") and entry.is_file(follow_symlinks=False)]
    return files


def _sort_key(split, label, name):
    # by the review number of <number>_<rating>, compared as digit strings (no int() of a huge one)
    number = name.split("_", 1)[0].lstrip("0")
    numbered = name.split("_", 1)[0].isdigit()
    return (SPLITS.index(split), FOLDERS.index(label), not numbered, len(number) if numbered else 0,
            number if numbered else "", name)


def read_reviews(path):
    """{split: (texts, labels)} from an archive or folder, in canonical order.

    An archive and its extracted folder give the same reviews: one aclImdb tree, each review once
    (an archive with a second tree or a repeated member is refused). Reviews with invalid UTF-8
    are decoded with replacement characters and counted in a warning.
    """
    path = check_source(path)
    found = _read_folder(path, LABELED) if path.is_dir() else _read_archive(path, LABELED)
    groups = {(split, label): 0 for split in SPLITS for label in LABELS}
    for split, label, _, _ in found:
        groups[split, label] += 1
    missing = [f"{split}/{label}" for (split, label), count in groups.items() if count == 0]
    if missing:
        raise ValueError(f"{path} is not an aclImdb archive or folder: it has no reviews in "
                         f"{', '.join(missing)} (expected aclImdb/{{train,test}}/{{pos,neg}}/*.txt)")
    found.sort(key=lambda item: _sort_key(*item[:3]))
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


class _Budget:
    """Sizes checked before anything is read: each review, and all of them together."""

    def __init__(self, path):
        self.path, self.total = path, 0

    def take(self, name, size):
        if size > MAX_REVIEW_BYTES:
            raise ValueError(f"{self.path}: {name} has {size} bytes, far more than any review "
                             f"(at most {MAX_REVIEW_BYTES})")
        self.total += size
        if self.total > MAX_TOTAL_BYTES:
            raise ValueError(f"{self.path}: its reviews add up to more than {MAX_TOTAL_BYTES} bytes, "
                             "far more than the aclImdb archive holds")


def read_texts(path, groups):
    """The texts of the reviews in groups [(split, folder)], e.g. [("train", "pos"), ("train", "unsup")],
    in canonical order; a group the archive or folder does not have gives no texts."""
    path = check_source(path)
    for split, label in groups:
        if split not in SPLITS or label not in FOLDERS:
            raise ValueError(f"unknown review group {split}/{label}; groups are {SPLITS} x {FOLDERS}")
    found = _read_folder(path, groups) if path.is_dir() else _read_archive(path, groups)
    found.sort(key=lambda item: _sort_key(*item[:3]))
    return [raw.decode("utf-8", errors="replace") for _, _, _, raw in found]


def _read_folder(path, groups):
    budget, found = _Budget(path), []
    for split, label, name, entry in review_files(path, groups):
        budget.take(entry.path, entry.stat(follow_symlinks=False).st_size)
        with open(entry.path, "rb") as handle:
            found.append((split, label, name, handle.read(MAX_REVIEW_BYTES + 1)))
    return found


class _BoundedTarInfo(tarfile.TarInfo):
    # tarfile reads a GNU long name or a pax header whole, whatever size its header declares
    # (a 285-byte file can declare 1 TiB): refuse big ones before they are read
    def _proc_gnulong(self, tarfile):
        self._check_header_size()
        return super()._proc_gnulong(tarfile)

    def _proc_pax(self, tarfile):
        self._check_header_size()
        return super()._proc_pax(tarfile)

    def _check_header_size(self):
        if self.size > MAX_HEADER_BYTES:
            raise tarfile.HeaderError(f"a long-name or pax header declares {self.size} bytes "
                                      f"(at most {MAX_HEADER_BYTES})")


def _read_archive(path, groups):
    try:
        archive = tarfile.open(path, "r:*", tarinfo=_BoundedTarInfo)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"{path} is not a gzip/tar archive ({error})") from None
    budget, found, seen, root = _Budget(path), [], set(), None
    try:
        with archive:
            for member in archive:
                parts = review_parts(member.name)
                # only regular files are read, into memory: links, devices and odd paths never
                # touch the file system
                if parts is None or not member.isfile():
                    continue
                member_root, split, label, name = parts
                root = member_root if root is None else root
                if member_root != root:
                    raise ValueError(f"{path} holds two review trees, {root!r} and {member_root!r} "
                                     f"({member.name}); it is ambiguous which one to read")
                if (split, label, name) in seen:
                    raise ValueError(f"{path} holds {member.name} twice; it is ambiguous which to read")
                seen.add((split, label, name))
                if (split, label) not in groups:
                    continue
                budget.take(member.name, member.size)
                found.append((split, label, name, archive.extractfile(member).read()))
            # read to the end of a compressed stream, so that its checksum (gzip's CRC-32) is
            # verified: a corrupt byte inside a review must not pass silently
            while archive.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ValueError(f"{path} is a truncated or corrupt archive ({type(error).__name__}: "
                         f"{error})") from None
    return found
