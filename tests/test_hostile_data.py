"""Hostile data files: crafted archives and caches. Rules:
- an archive and its extracted folder give the same reviews, or the archive is refused as ambiguous;
- no header, member or file is read beyond a bound fixed before reading it;
- only regular files (and folders) are read: a device or a pipe is refused, never waited on;
- a cache is validated in full when read back, and rebuilt when anything is off.
"""
import io
import os
import subprocess
import sys
import tarfile
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npembed.datasets import cache, imdb, reading
from test_imdb import SMALL, write_tree


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NPEMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NPEMBED_IMDB", raising=False)


class Special:
    """A member that is not a regular file: tarfile.SYMTYPE, LNKTYPE, FIFOTYPE, ..."""

    def __init__(self, kind):
        self.kind = kind


def tar_bytes(members, compression="gz"):
    """A .tar(.gz) in memory from [(name, bytes or Special)]."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}" if compression else "w") as archive:
        for name, body in members:
            info = tarfile.TarInfo(name)
            if isinstance(body, bytes):
                info.size = len(body)
                archive.addfile(info, io.BytesIO(body))
            else:
                info.type, info.linkname = body.kind, "aclImdb/train/pos/0_9.txt"
                archive.addfile(info)
    return buffer.getvalue()


def small_members(root="aclImdb"):
    return [(f"{root}/{split}/{label}/{stem}.txt".lstrip("/"), body.encode())
            for (split, label, stem), body in SMALL.items()]


# ---- archive == folder, or refused --------------------------------------------------------------

reviews = st.dictionaries(
    st.tuples(st.sampled_from(reading.SPLITS), st.sampled_from(reading.LABELS),
              st.from_regex(r"[0-9]{1,3}_[0-9]{1,2}|[a-z]{1,5}", fullmatch=True)),
    st.text(max_size=30), min_size=1, max_size=12)


@settings(max_examples=25)
@given(found=reviews, root=st.sampled_from(["aclImdb", "", "./aclImdb", "data/aclImdb"]))
def test_an_archive_and_its_folder_give_the_same_reviews(tmp_path_factory, found, root):
    found = dict(found)
    for split in reading.SPLITS:                      # every group needs one review
        for label in reading.LABELS:
            found.setdefault((split, label, "999_1"), "filler")
    folder = tmp_path_factory.mktemp("tree")
    for (split, label, stem), body in found.items():
        place = folder / "aclImdb" / split / label
        place.mkdir(parents=True, exist_ok=True)
        (place / f"{stem}.txt").write_text(body, encoding="utf-8")
    (folder / "aclImdb" / "train" / "pos" / "notes.md").write_text("not a review")
    members = [(f"{root}/{split}/{label}/{stem}.txt".lstrip("/"), body.encode("utf-8"))
               for (split, label, stem), body in found.items()]
    archive = folder / "a.tar.gz"
    archive.write_bytes(tar_bytes(members + [(f"{root}/train/pos/notes.md".lstrip("/"), b"x")]))
    from_folder, from_archive = reading.read_reviews(folder), reading.read_reviews(archive)
    for split in reading.SPLITS:
        assert from_folder[split][0] == from_archive[split][0]
        np.testing.assert_array_equal(from_folder[split][1], from_archive[split][1])


@pytest.mark.parametrize("extra, message", [
    ([("aclImdb/train/pos/0_9.txt", b"again")], "holds aclImdb/train/pos/0_9.txt twice"),
    ([("aclImdb/aclImdb/train/pos/5_9.txt", b"nested")], "two review trees, 'aclImdb' and 'aclImdb/aclImdb'"),
    ([("other/train/neg/5_1.txt", b"second")], "two review trees"),
    ([("train/neg/5_1.txt", b"rootless")], "two review trees, 'aclImdb' and ''"),
])
def test_ambiguous_archives_are_refused(tmp_path, extra, message):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_bytes(small_members() + extra))
    with pytest.raises(ValueError, match=message):
        imdb.load_data(archive)


def test_links_and_odd_members_are_skipped_alike(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_bytes(small_members() + [("aclImdb/train/pos/7_7.txt", Special(tarfile.SYMTYPE)),
                                                      ("aclImdb/train/neg/8_2.txt", Special(tarfile.LNKTYPE)),
                                                      ("aclImdb/test/pos/9_9.txt", Special(tarfile.FIFOTYPE))]))
    folder = write_tree(tmp_path / "tree")
    os.symlink(folder / "train" / "pos" / "0_9.txt", folder / "train" / "pos" / "7_7.txt")
    os.mkfifo(folder / "test" / "pos" / "9_9.txt")
    assert reading.read_reviews(archive)["train"][0] == reading.read_reviews(folder)["train"][0]
    assert len(reading.read_reviews(archive)["train"][0]) == 5


@pytest.mark.parametrize("header_type", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE])
def test_a_header_declaring_a_terabyte_is_refused_before_reading(tmp_path, header_type):
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = header_type, 1 << 40
    raw = info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    archive = tmp_path / "bomb.tar"
    archive.write_bytes(raw)
    assert archive.stat().st_size < 2048
    with pytest.raises(ValueError, match="declares 1099511627776 bytes"):
        reading.read_reviews(archive)
    info.size = (1 << 16) + 1
    archive.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + b"a" * (1 << 17))
    with pytest.raises(ValueError, match="declares 65537 bytes"):
        reading.read_reviews(archive)


def test_a_member_name_with_thousands_of_digits_sorts_without_int(tmp_path):
    huge = "9" * 5000
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_bytes(small_members() + [(f"aclImdb/train/pos/{huge}_9.txt", b"last"),
                                                      (f"aclImdb/train/pos/0{huge[:-1]}_9.txt", b"first")]))
    texts = reading.read_reviews(archive)["train"][0]
    assert texts.index("first") < texts.index("last")


def test_a_folder_review_too_big_is_refused_like_an_archive_member(tmp_path, monkeypatch):
    folder = write_tree(tmp_path / "tree")
    monkeypatch.setattr(reading, "MAX_REVIEW_BYTES", 20)
    with pytest.raises(ValueError, match="far more than any review"):
        reading.read_reviews(folder)


# ---- only regular files and folders ----------------------------------------------------------------

def run_with_timeout(code, *args, env=None):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_devices_and_pipes_are_refused_not_read_forever(tmp_path, special):
    if special == "fifo":
        special = tmp_path / "data.tar.gz"
        os.mkfifo(special)
    result = run_with_timeout("import sys; from npembed.datasets import imdb; imdb.load_data(sys.argv[1])",
                              special, env={"NPEMBED_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 1
    assert f"{special} is neither a folder nor a regular file" in result.stderr.splitlines()[-1]


def test_a_fifo_in_place_of_the_cache_is_replaced_not_waited_on(tmp_path):
    folder = write_tree(tmp_path / "tree")
    code = ("import sys; from npembed.datasets import imdb; (x, y), _ = imdb.load_data(sys.argv[1]); "
            "print(len(x))")
    env = {"NPEMBED_CACHE": str(tmp_path / "cache")}
    assert run_with_timeout(code, folder, env=env).stdout.strip() == "5"
    cache_file = next((tmp_path / "cache").glob("imdb-*.npz"))
    cache_file.unlink()
    os.mkfifo(cache_file)
    result = run_with_timeout(code, folder, env=env)
    assert result.stdout.strip() == "5" and "not a regular file" in result.stderr
    assert cache_file.is_file()


# ---- the cache is validated in full -------------------------------------------------------------

def tampered(name, value):
    def change(arrays):
        arrays[name] = value(arrays[name]) if callable(value) else value
    return change


@pytest.mark.parametrize("change", [
    tampered("train_ranks", lambda a: a + 10**6),                       # ids far beyond the vocabulary
    tampered("train_ranks", lambda a: -a),
    tampered("train_labels", lambda a: np.full_like(a, 7)),
    tampered("test_labels", lambda a: a[:-1]),
    tampered("train_ranks", lambda a: a.astype(np.float64)),           # a float-typed cache
    tampered("train_lengths", lambda a: a[::-1] * 2),
    tampered("train_lengths", lambda a: a + np.eye(1, len(a), 0, dtype=a.dtype)[0] * -(a[0] + 1)
             + np.eye(1, len(a), len(a) - 1, dtype=a.dtype)[0] * (a[0] + 1)),   # same total, one < 0
    tampered("counts", lambda a: a[:-1]),
    tampered("counts", lambda a: np.zeros_like(a)),
    tampered("train_ranks", lambda a: a.reshape(1, -1)),
    tampered("words", np.frombuffer("a\na".encode(), dtype=np.uint8)),
    tampered("words", np.frombuffer(b"\xff\xfe", dtype=np.uint8)),
])
def test_a_tampered_cache_is_rebuilt_not_trusted(tmp_path, change):
    folder = write_tree(tmp_path / "tree")
    expected = imdb.load_data(folder)
    cache_file = next((tmp_path / "cache").glob("imdb-*.npz"))
    with np.load(cache_file) as stored:
        arrays = dict(stored)
    if arrays["words"].size == 0:
        pytest.skip("no words to tamper with")
    change(arrays)
    np.savez(cache_file, **arrays)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = imdb.load_data(folder)
    assert any("rebuilding the IMDB cache" in str(w.message) for w in caught)
    for (x_a, y_a), (x_b, y_b) in zip(expected, again):
        assert [list(r) for r in x_a] == [list(r) for r in x_b]
        np.testing.assert_array_equal(y_a, y_b)
    cache.check_processed(cache.processed(folder))           # the rebuilt file is valid
