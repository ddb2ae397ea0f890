"""IMDB from raw reviews: tokenizer, ranks, Keras ids, cache, sources and bad input."""
import io
import tarfile
import warnings

import numpy as np
import pytest

from conftest import REAL_ARCHIVE
from npembed import pad_sequences
from npembed.datasets import text
from npembed.datasets import cache, imdb, reading, source

# label is carried by the folder; names are <number>_<rating>.txt
SMALL = {
    ("train", "pos", "0_9"): "Great great movie. Everyone's <br /><br />favourite!",
    ("train", "pos", "1_8"): "A great film, truly GREAT.",
    ("train", "neg", "0_2"): "Awful movie; awful acting.",
    ("train", "neg", "10_1"): "",                                       # empty review
    ("train", "neg", "2_3"): "Bad bad film zzz",
    ("test", "pos", "0_10"): "Great unseenword film",
    ("test", "neg", "0_1"): "Awful awful",
}


def write_tree(root, reviews=SMALL, extra=None):
    for (split, label, stem), body in reviews.items():
        folder = root / "aclImdb" / split / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stem}.txt").write_bytes(body if isinstance(body, bytes) else body.encode())
    return root / "aclImdb"


def write_archive(path, tree_parent):
    with tarfile.open(path, "w:gz") as archive:
        archive.add(tree_parent / "aclImdb", arcname="aclImdb")
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NPEMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NPEMBED_IMDB", raising=False)


@pytest.fixture
def small(tmp_path):
    return write_tree(tmp_path / "tree")


# ---- tokenizer ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, tokens", [
    ("Everyone's <br />GREAT!", ["everyone's", "great"]),
    ("'quoted' don't rock''n roll 'tis", ["quoted", "don't", "rock", "n", "roll", "tis"]),
    ("naïve Пример 東京 l’été", ["naïve", "пример", "東京", "l'été"]),
    ("10/10, well-made_film... <i>wow</i>", ["10", "10", "well", "made", "film", "wow"]),
    ("", []),
])
def test_tokenize(raw, tokens):
    assert text.tokenize(raw) == tokens


def test_vocabulary_ranks_by_training_count_then_word():
    words, counts, encoded = text.encode({"train": ["b a c", "a b d"], "test": ["a e"]})
    assert words == ["a", "b", "c", "d"] and list(counts) == [2, 2, 1, 1]     # ties by code point
    np.testing.assert_array_equal(encoded["train"][0], [2, 1, 3, 1, 2, 4])
    np.testing.assert_array_equal(encoded["test"][0], [1, 0])                  # "e" unseen in train
    np.testing.assert_array_equal(encoded["train"][1], [3, 3])


# ---- load_data on a small tree --------------------------------------------------------------

def test_word_index_and_exact_ids(small):
    index = imdb.get_word_index(small)
    assert index["great"] == 1
    assert [index[w] for w in ("awful", "bad", "film", "movie")] == [2, 3, 4, 5]   # ties alphabetical
    assert "unseenword" not in index and "br" not in index
    (x_train, y_train), (x_test, y_test) = imdb.load_data(small, seed=113)
    order = np.arange(5)
    np.random.RandomState(113).shuffle(order)
    canonical_labels = np.array([0, 0, 0, 1, 1])           # neg 0_2, 2_3, 10_1, then pos 0_9, 1_8
    np.testing.assert_array_equal(y_train, canonical_labels[order])
    by_label = {tuple(x.tolist()): y for x, y in zip(x_train, y_train)}
    awful_review = [1, index["awful"] + 3, index["movie"] + 3, index["awful"] + 3, index["acting"] + 3]
    assert by_label[tuple(awful_review)] == 0
    assert by_label[(1,)] == 0                              # the empty review is [start_char]
    assert x_train[0].dtype == np.int32
    # test split: shuffled by the same generator after the training set; unseen word -> oov_char
    rng = np.random.RandomState(113)
    rng.shuffle(np.arange(5))
    test_order = np.arange(2)
    rng.shuffle(test_order)
    np.testing.assert_array_equal(y_test, np.array([0, 1])[test_order])
    great_review = [x for x, y in zip(x_test, y_test) if y == 1][0]
    assert great_review.tolist() == [1, index["great"] + 3, 2, index["film"] + 3]


def test_num_words_skip_top_index_from_and_reserved_chars(small):
    index = imdb.get_word_index(small)
    (x_train, _), _ = imdb.load_data(small, num_words=6, seed=0)    # keeps ids 4, 5 (ranks 1, 2)
    flat = np.concatenate(x_train)
    assert set(flat.tolist()) <= {1, 2, 4, 5}
    (x_train, _), _ = imdb.load_data(small, skip_top=5, seed=0)     # start_char 1 < 5 becomes oov, like Keras
    assert all(x[0] == 2 for x in x_train)
    assert 4 not in np.concatenate(x_train).tolist()
    (x_train, _), _ = imdb.load_data(small, start_char=None, oov_char=None, index_from=0, num_words=3,
                                     seed=0)
    assert set(np.concatenate(x_train).tolist()) <= {index["great"], index["awful"]}
    (x_train, _), _ = imdb.load_data(small, start_char=7, oov_char=9, index_from=10, num_words=12, seed=0)
    assert all(x[0] == 7 for x in x_train) and 9 in np.concatenate(x_train).tolist()


def test_maxlen_drops_long_reviews_like_keras(small):
    (x_train, y_train), _ = imdb.load_data(small, maxlen=6)
    assert len(x_train) == len(y_train) == 3          # lengths 6, 6 (start_char included) are not < 6
    assert sorted(len(x) for x in x_train) == [1, 5, 5]
    with pytest.raises(ValueError, match="drops every"):
        imdb.load_data(small, maxlen=1)


def test_decode_review_round_trips_the_standardized_text(small):
    index = imdb.get_word_index(small)
    (x_train, _), _ = imdb.load_data(small)
    decoded = {imdb.decode_review(x, index) for x in x_train}
    assert "<START> great great movie everyone's favourite" in decoded
    assert imdb.decode_review([0, 1, 2, 3, 999], index) == "<PAD> <START> <UNK> <UNUSED> <UNUSED>"
    padded = pad_sequences(x_train, maxlen=9, padding="post")
    assert imdb.decode_review(padded[0], index, skip_padding=True) in decoded


def test_archive_and_folder_give_the_same_data(small, tmp_path):
    archive = write_archive(tmp_path / "small.tar.gz", small.parent)
    from_folder = imdb.load_data(small)
    from_archive = imdb.load_data(archive)
    from_parent = imdb.load_data(small.parent)
    for a, b, c in zip(from_folder, from_archive, from_parent):
        for xa, xb, xc in zip(a[0], b[0], c[0]):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(xa, xc)


def test_environment_variable_source(small, monkeypatch):
    monkeypatch.setenv("NPEMBED_IMDB", str(small))
    assert imdb.get_word_index()["great"] == 1


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    reviews = dict(SMALL)
    reviews[("train", "pos", "5_9")] = b"great \xff\xfe film"
    tree = write_tree(tmp_path / "bad", reviews)
    with pytest.warns(UnicodeWarning, match="1 reviews"):
        index = imdb.get_word_index(tree)
    assert "great" in index


# ---- the cache ------------------------------------------------------------------------------

def test_cache_hit_stale_and_corrupt(small, tmp_path, monkeypatch):
    first = imdb.load_data(small)
    cache_files = list((tmp_path / "cache").glob("imdb-*.npz"))
    assert len(cache_files) == 1
    calls = []
    original = cache.build
    monkeypatch.setattr(cache, "build", lambda source: calls.append(source) or original(source))
    second = imdb.load_data(small)                          # hit: nothing rebuilt
    assert calls == []
    np.testing.assert_array_equal(first[0][1], second[0][1])
    cache_files[0].write_bytes(cache_files[0].read_bytes()[:100])   # corrupt
    with pytest.warns(UserWarning, match="rebuilding"):
        imdb.load_data(small)
    assert len(calls) == 1
    (small / "train" / "pos" / "7_9.txt").write_text("a new review")  # stale: a new cache key
    (x_train, _), _ = imdb.load_data(small)
    assert len(calls) == 2 and len(x_train) == 6
    assert not list((tmp_path / "cache").glob(".*tmp"))


def test_stale_key_inside_a_cache_file_is_rebuilt(small, tmp_path, monkeypatch):
    imdb.load_data(small)
    monkeypatch.setattr(text, "TOKENIZER_VERSION", 999)   # new tokenizer: a different key
    calls = []
    original = cache.build
    monkeypatch.setattr(cache, "build", lambda source: calls.append(source) or original(source))
    imdb.load_data(small)
    assert len(calls) == 1


# ---- download ---------------------------------------------------------------------------------

def test_cache_built_in_background_is_the_cache_load_data_builds(small, tmp_path):
    """build_in_background: a child process writes the cache load_data then reads; nothing to do
    when it exists; nothing started for a source that is missing or broken (load_data says why)."""
    archive = write_archive(tmp_path / "a.tar.gz", small.parent)
    child = imdb.build_in_background(archive)
    assert child is not None
    child.join(timeout=120)
    assert child.exitcode == 0
    assert list((tmp_path / "cache").glob("imdb-*.npz"))
    built = imdb.load_data(archive)
    assert imdb.build_in_background(archive) is None            # cached: no process
    for cache in (tmp_path / "cache").glob("imdb-*.npz"):
        cache.unlink()
    fresh = imdb.load_data(archive)                             # the same data, built in this process
    for a, b in zip(np.concatenate(built[0][0]), np.concatenate(fresh[0][0])):
        assert a == b
    assert imdb.build_in_background(tmp_path / "missing.tar.gz") is None
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not an archive")
    child = imdb.build_in_background(broken)                    # fails in the child, quietly
    child.join(timeout=120)
    with pytest.raises(ValueError, match="not a gzip/tar archive"):
        imdb.load_data(broken)


def test_download_verifies_and_moves_into_place(small, tmp_path, monkeypatch):
    archive = write_archive(tmp_path / "served.tar.gz", small.parent)
    import hashlib
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(source, "URL", archive.as_uri())
    monkeypatch.setattr(source, "SHA256", digest)
    (x_train, _), _ = imdb.load_data()                       # no path, no env: downloads to the cache
    assert len(x_train) == 5
    assert (tmp_path / "cache" / imdb.ARCHIVE_NAME).read_bytes() == archive.read_bytes()


def test_download_with_wrong_checksum_keeps_nothing(small, tmp_path, monkeypatch):
    archive = write_archive(tmp_path / "served.tar.gz", small.parent)
    monkeypatch.setattr(source, "URL", archive.as_uri())
    monkeypatch.setattr(source, "SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        imdb.load_data()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_no_network_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(source, "URL", "http://127.0.0.1:9/aclImdb_v1.tar.gz")
    with pytest.raises(ConnectionError, match="load_data\\(path=...\\)"):
        imdb.load_data()


# ---- bad input --------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        imdb.load_data(tmp_path / "nowhere.tar.gz")


def test_not_an_archive(tmp_path):
    path = tmp_path / "fake.tar.gz"
    path.write_bytes(b"hello, not gzip")
    with pytest.raises(ValueError, match="not a gzip/tar archive"):
        imdb.load_data(path)


def test_truncated_archive(small, tmp_path):
    archive = write_archive(tmp_path / "full.tar.gz", small.parent)
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        imdb.load_data(truncated)


@pytest.mark.parametrize("where", [0.1, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("damage", [b"\x00" * 40, b"\xff", b"\x01"])
def test_corrupt_archive(small, tmp_path, where, damage):
    data = bytearray(write_archive(tmp_path / "full.tar.gz", small.parent).read_bytes())
    at = int(len(data) * where)
    data[at:at + len(damage)] = bytes(b ^ d for b, d in zip(data[at:at + len(damage)], damage)) \
        if len(damage) == 1 else damage
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(data))
    import zlib
    try:
        unchanged = zlib.decompress(bytes(data), 31) == zlib.decompress(
            (tmp_path / "full.tar.gz").read_bytes(), 31)
    except zlib.error:
        unchanged = False
    if unchanged:
        # deflate has redundant bits: a flip there leaves every byte of the archive as it was
        # (seen in about 1 of 40 archives at 0.9), and then there is nothing corrupt to detect
        assert imdb.load_data(corrupt)[0][1].tolist() == imdb.load_data(tmp_path / "full.tar.gz")[0][1].tolist()
        return
    with pytest.raises(ValueError, match="truncated or corrupt|not a gzip"):
        imdb.load_data(corrupt)


def test_archive_without_reviews(tmp_path):
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("aclImdb/README")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    with pytest.raises(ValueError, match="no reviews in train/neg, train/pos, test/neg, test/pos"):
        imdb.load_data(path)
    folder = tmp_path / "partial"
    write_tree(folder, {k: v for k, v in SMALL.items() if k[0] == "train"})
    with pytest.raises(ValueError, match="test/neg, test/pos"):
        imdb.load_data(folder)


def test_links_and_huge_members_are_not_trusted(tmp_path, small):
    path = tmp_path / "links.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(small, arcname="aclImdb")
        link = tarfile.TarInfo("aclImdb/train/pos/99_9.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    (x_train, _), _ = imdb.load_data(path)
    assert len(x_train) == 5                                   # the symlink was not read
    huge = tmp_path / "huge.tar.gz"
    with tarfile.open(huge, "w:gz") as archive:
        archive.add(small, arcname="aclImdb")
        info = tarfile.TarInfo("aclImdb/train/pos/98_9.txt")
        info.size = imdb.MAX_REVIEW_BYTES + 1
        archive.addfile(info, io.BytesIO(b"a" * info.size))
    with pytest.raises(ValueError, match="far more than any review"):
        imdb.load_data(huge)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_words=3), "num_words"), (dict(num_words=2, index_from=3), "num_words"),
    (dict(skip_top=-1), "skip_top"), (dict(maxlen=0), "maxlen"), (dict(seed=-5), "seed"),
    (dict(index_from=-1), "index_from"), (dict(num_words=10.5), "num_words"),
])
def test_impossible_parameters(small, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        imdb.load_data(small, **kwargs)


# ---- the real archive -------------------------------------------------------------------------

real = pytest.mark.skipif(not REAL_ARCHIVE.exists(),
                          reason=f"the real aclImdb archive is not at {REAL_ARCHIVE}")


@pytest.fixture(scope="module")
def real_data(tmp_path_factory):
    import os
    cache = tmp_path_factory.mktemp("real-cache")
    previous = os.environ.get("NPEMBED_CACHE")
    os.environ["NPEMBED_CACHE"] = str(cache)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnicodeWarning)
            yield (imdb.load_data(REAL_ARCHIVE, num_words=10000), imdb.get_word_index(REAL_ARCHIVE),
                   imdb.read_reviews(REAL_ARCHIVE))
    finally:
        if previous is None:
            os.environ.pop("NPEMBED_CACHE")
        else:
            os.environ["NPEMBED_CACHE"] = previous


@real
def test_real_archive_counts_ranks_and_decoding(real_data):
    ((x_train, y_train), (x_test, y_test)), index, reviews = real_data
    assert len(x_train) == len(x_test) == 25000
    assert np.bincount(y_train).tolist() == [12500, 12500] == np.bincount(y_test).tolist()
    assert index["the"] == 1
    # "<br />" leaves no token: Keras's index has "br" among its ten most frequent words; here it is
    # only the rare real word (e.g. the broadcaster "BR")
    assert index.get("br", 10**9) > 10000
    assert max(int(x.max()) for x in x_train) == 9999 and min(int(x.min()) for x in x_train) == 1
    # x_train[0] is canonical review order[0]; its decoding is its file's standardized text
    order = np.arange(25000)
    np.random.RandomState(113).shuffle(order)
    (full_train, _), _ = imdb.load_data(REAL_ARCHIVE)
    for position in (0, 1, 12345):
        expected = "<START> " + text.standardized_text(reviews["train"][0][order[position]])
        assert imdb.decode_review(full_train[position], index) == expected.rstrip()
    padded = pad_sequences(x_train, maxlen=500, padding="post")
    assert padded.shape == (25000, 500) and padded.dtype == np.int32
    lengths = np.array([len(x) for x in x_train])
    assert (padded[lengths <= 500, 0] == 1).all()          # short reviews start with <START>
    long = np.flatnonzero(lengths > 500)                    # truncating="pre" keeps the LAST 500
    np.testing.assert_array_equal(padded[long[0]], x_train[long[0]][-500:])


def test_two_processes_building_the_same_cache_both_succeed(small, tmp_path):
    import os
    import subprocess
    import sys
    cache = tmp_path / "shared-cache"
    script = ("import sys; from npembed.datasets import imdb; "
              "(x, y), _ = imdb.load_data(sys.argv[1]); print(len(x))")
    env = dict(os.environ, NPEMBED_CACHE=str(cache))
    processes = [subprocess.Popen([sys.executable, "-c", script, str(small)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["5", "5"]
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].startswith("imdb-") and files[0].endswith(".npz")
    with np.load(cache / files[0], allow_pickle=False) as saved:
        assert saved["train_lengths"].sum() == len(saved["train_ranks"])


def test_total_size_is_bounded(small, tmp_path, monkeypatch):
    archive = write_archive(tmp_path / "a.tar.gz", small.parent)
    monkeypatch.setattr(reading, "MAX_TOTAL_BYTES", 60)
    with pytest.raises(ValueError, match="add up to more than 60 bytes"):
        imdb.load_data(archive)


def test_words_by_id_names_every_embedding_row():
    words = imdb.words_by_id(8, {"great": 1, "film": 2, "rare": 9})
    assert words == ["<PAD>", "<START>", "<UNK>", "<UNUSED>", "great", "film", "<UNUSED>", "<UNUSED>"]
    assert imdb.words_by_id(3, {"great": 1}, start_char=None) == ["<PAD>", "<UNUSED>", "<UNK>"]


def test_reserved_ids_are_named_by_one_rule_for_rows_and_reviews():
    index = {"great": 1, "film": 2}
    for kwargs in ({}, {"start_char": None}, {"oov_char": 6, "index_from": 4}, {"start_char": 5}):
        rows = imdb.words_by_id(9, index, **kwargs)
        assert imdb.decode_review(range(9), index, **kwargs).split() == rows
    assert imdb.words_by_id(9, index, oov_char=6, index_from=4)[6] == "<UNK>"   # a reserved id past index_from
    assert imdb.reserved_name(4) is None and imdb.reserved_name(3) == "<UNUSED>"
    with pytest.raises(ValueError, match="ids must be >= 0, got -1"):
        imdb.decode_review([3, -1], index)
    with pytest.raises(TypeError, match="integers"):
        imdb.decode_review([0.5], index)


def test_tokenizer_keeps_only_apostrophes_inside_words():
    cases = {"'a'": ["a"], "a''b": ["a", "b"], "don't": ["don't"], "'tis": ["tis"], "rock'n'roll": ["rock'n'roll"],
             "x' y": ["x", "y"], "é'é": ["é'é"], "_'_": [], "a_'b": ["a", "b"], "1'2": ["1'2"],
             "日本'語": ["日本'語"], "it\u2019s": ["it's"], "a ' b": ["a", "b"]}
    for raw, tokens in cases.items():
        assert text.tokenize(raw) == tokens, raw


def test_counts_by_id_follows_the_id_shift():
    counts = np.array([50, 40, 30])                     # ranks 1, 2, 3 -> ids 4, 5, 6
    np.testing.assert_array_equal(imdb.counts_by_id(8, counts), [0, 0, 0, 0, 50, 40, 30, 0])
    np.testing.assert_array_equal(imdb.counts_by_id(6, counts), [0, 0, 0, 0, 50, 40])
    np.testing.assert_array_equal(imdb.counts_by_id(3, counts), [0, 0, 0])
    np.testing.assert_array_equal(imdb.counts_by_id(5, counts, index_from=0), [0, 50, 40, 30, 0])
