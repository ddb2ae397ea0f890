"""Hostile files: crafted model files, projector files, interrupted writes. Rules:
- load_model reads only a regular file, and no member beyond what the file really holds;
- anything malformed in a model file is a ValueError naming the file (never RecursionError, ...);
- weights and optimizer slots are validated on load (finite; v >= 0);
- projector files are read as the Embedding Projector reads them (UTF-8, BOM ignored, CRLF as LF)
  and refused when not finite, of unequal length, or not the pair their manifest names;
- a writer killed mid-write leaves a temporary that the next write of the same file removes.
"""
import io
import json
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from npembed import Sequential, load_model
from npembed.wordvectors import projector
from npembed.__main__ import main as cli
from npembed.atomic import atomic_write
from npembed.layers import Dense, Embedding, GlobalAveragePooling1D


def saved_model(tmp_path, vocab=50, trained=True):
    model = Sequential([Embedding(vocab, 4), GlobalAveragePooling1D(), Dense(1, activation="sigmoid")], seed=0)
    model.compile()
    if trained:
        rng = np.random.default_rng(0)
        model.fit(rng.integers(0, vocab, (16, 5)), rng.integers(0, 2, 16), epochs=1, verbose=0)
    else:
        model.build((None, 5))
    path = tmp_path / "model.npz"
    model.save(path)
    return path


def rewrite(path, change):
    """Load an .npz's members, let change(arrays, config) edit them, save them back."""
    with np.load(path) as stored:
        arrays = dict(stored)
    config = json.loads(bytes(arrays["config"]).decode())
    config_bytes = change(arrays, config)
    arrays["config"] = np.frombuffer(config_bytes if isinstance(config_bytes, bytes)
                                     else json.dumps(config).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def patch_central_directory(path, member, offset, value):
    """Overwrite a 4-byte field of a member's entry in the zip's central directory."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    start = 0
    while True:
        start = raw.index(b"PK\x01\x02", start)
        length = int.from_bytes(raw[start + 28:start + 30], "little")
        if raw[start + 46:start + 46 + length] == name:
            raw[start + offset:start + offset + 4] = value.to_bytes(4, "little")
            break
        start += 4
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("change, message", [
    (lambda a, c: c["layers"][0]["config"].update(input_dim=2**27), "declare weights"),
    (lambda a, c: a.update({"optimizer/v/embedding/embeddings": np.zeros(10**4)}), "stored with shape"),
    (lambda a, c: a.update({"weights/embedding/embeddings": np.full((50, 4), np.nan, np.float32)}),
     "must be finite"),
    (lambda a, c: a.update({"optimizer/m/dense/bias": np.array([np.inf], np.float32)}), "must be finite"),
    (lambda a, c: a.update({"optimizer/v/dense/bias": np.array([-1.0], np.float32)}), ">= 0"),
    (lambda a, c: b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
    (lambda a, c: json.dumps(c).replace('"input_shape": [null, 5]', '"input_shape": [null, Infinity]').encode(),
     "input_shape|Overflow|integer"),
    (lambda a, c: c["rng_state"]["state"].update(state=2**200), "rng|state|Overflow|int"),
    (lambda a, c: c["weights"][0].__setitem__(0, "9" * 5000), "declare weights"),
    (lambda a, c: c["compile"]["optimizer"].update({"class": 7}), "AttributeError|class"),
    (lambda a, c: c.update(layers={"not": "a list"}), "TypeError|string indices"),
])
def test_crafted_model_files_are_refused_naming_the_file(tmp_path, change, message):
    path = rewrite(saved_model(tmp_path), change)
    with pytest.raises(ValueError, match=message) as caught:
        load_model(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("field, value", [(20, 2**31 - 1), (24, 2**31 - 1), (24, 10**9)])
def test_a_zip_directory_that_claims_more_than_the_file_holds_is_refused(tmp_path, field, value):
    """A tiny file whose zip directory claims gigabytes: refused from the real file size, before any
    allocation (field 20: compressed size, 24: uncompressed size)."""
    for member in ("config.npy", "weights/embedding/embeddings.npy"):
        path = saved_model(tmp_path, trained=False)
        patch_central_directory(path, member, field, value)
        with pytest.raises(ValueError, match=f"{path}.*claims"):
            load_model(path)


def replace_member_with_a_lying_header(path, member, declared):
    """Rewrite one .npy member so that its header declares shape ``declared`` (its own dtype) while
    the member holds only two bytes after the header; every other member is copied unchanged."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with io.BytesIO(members[member]) as original:
        np.lib.format.read_magic(original)
        _, _, dtype = np.lib.format.read_array_header_1_0(original)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": declared})
    members[member] = header.getvalue() + b"\x00\x00"     # magic, header, two bytes
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def model_file_members(tmp_path):
    with zipfile.ZipFile(saved_model(tmp_path)) as archive:
        return archive.namelist()


@pytest.mark.parametrize("member", ["config.npy", "weights/embedding/embeddings.npy",
                                    "weights/dense/bias.npy", "optimizer/m/embedding/embeddings.npy",
                                    "optimizer/v/dense/kernel.npy"])
def test_a_member_whose_header_declares_more_than_it_holds_is_refused_before_allocating(tmp_path, member):
    """Every member of a model file (the config, each weight, each optimizer slot) is bounded by the
    bytes it really holds: a header that declares 10**12 entries over two stored bytes is a
    ValueError naming the file and the member, never a MemoryError."""
    path = saved_model(tmp_path)
    assert member in model_file_members(tmp_path)
    replace_member_with_a_lying_header(path, member, (10**12,))
    with pytest.raises(ValueError, match=f"{path}.*{member[:-4]}") as caught:
        load_model(path)
    assert "MemoryError" not in str(caught.value)


def test_only_regular_model_files_are_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(OSError, match="not a regular file"):
        load_model(tmp_path / "pipe.npz")
    with pytest.raises(OSError, match="not a regular file"):
        load_model(tmp_path)


def test_a_saved_model_still_round_trips(tmp_path):
    path = saved_model(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    assert load_model(path).optimizer.iterations == 1


# ---- projector files -------------------------------------------------------------------------------

def exported(tmp_path, words=("good", "bad", "plot")):
    vectors = np.array([[1.0, 0.0], [-1.0, 0.1], [0.0, 1.0]])[:len(words)]
    projector.export_projector(vectors, list(words), tmp_path)
    return tmp_path


def test_crlf_and_a_byte_order_mark_are_read_as_the_projector_reads_them(tmp_path):
    folder = exported(tmp_path)
    (folder / "projector_manifest.json").unlink()                 # edited by hand: no manifest
    for name in ("vecs.tsv", "meta.tsv"):
        text = (folder / name).read_text(encoding="utf-8")
        (folder / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    vectors, words = projector.load_projector(folder)
    assert words == ["good", "bad", "plot"] and vectors.shape == (3, 2)


@pytest.mark.parametrize("vecs, meta, message", [
    ("1\t0\nnan\t1\n", "a\nb\n", "row 2 holds a value that is not finite"),
    ("1\t0\ninf\t1\n", "a\nb\n", "not finite"),
    ("", "", "is empty"),
    ("1\t0\n", "\xff\n", "not UTF-8"),
    ("1\t0\n0\t1\n", "a\n", "2 rows but"),
    ("1\t0\n0\n", "a\nb\n", "not a tab-separated table"),
])
def test_bad_projector_files_are_refused_clearly(tmp_path, vecs, meta, message):
    (tmp_path / "vecs.tsv").write_text(vecs)
    (tmp_path / "meta.tsv").write_bytes(meta.encode("latin-1"))
    with pytest.raises(ValueError, match=message):
        projector.load_projector(tmp_path)
    assert cli(["neighbors", str(tmp_path), "a"]) == 1


def test_most_similar_refuses_vectors_and_words_that_do_not_pair_up():
    with pytest.raises(ValueError, match="3 vectors but 2 words"):
        projector.most_similar(np.eye(3), ["a", "b"], positive="a")
    with pytest.raises(ValueError, match="finite"):
        projector.most_similar(np.array([[1.0, np.nan], [0.0, 1.0]]), ["a", "b"], positive="a")


def test_a_killed_export_leaves_a_pair_that_does_not_load(tmp_path):
    """SIGKILL after vecs.tsv and before meta.tsv: the manifest still says pending."""
    folder = exported(tmp_path)
    script = f"""
import os, signal, numpy as np
from npembed.wordvectors import projector
real_write = projector._write
def write(path, content):
    real_write(path, content)
    if path.name == "vecs.tsv":
        os.kill(os.getpid(), signal.SIGKILL)
projector._write = write
projector.export_projector(np.ones((200, 2)), [str(i) for i in range(200)], {str(folder)!r})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL
    with pytest.raises(ValueError, match="did not finish"):
        projector.load_projector(folder)
    exported(folder)                                              # a new export repairs it
    assert projector.load_projector(folder)[1] == ["good", "bad", "plot"]


def test_a_mixed_pair_is_refused_by_its_manifest(tmp_path):
    first, second = exported(tmp_path / "a"), exported(tmp_path / "b", words=("x", "y", "z"))
    (first / "meta.tsv").write_bytes((second / "meta.tsv").read_bytes())   # same length, other run
    with pytest.raises(ValueError, match="do not belong together"):
        projector.load_projector(first)


def test_ctrl_c_during_an_export_is_held_until_the_pair_is_written(tmp_path):
    script = f"""
import os, signal, numpy as np
from npembed.wordvectors import projector
real_write = projector._write
def write(path, content):
    if path.name == "vecs.tsv":
        os.kill(os.getpid(), signal.SIGINT)              # Ctrl-C in the middle of the export
    real_write(path, content)
projector._write = write
projector.export_projector(np.ones((5, 2)), list("abcde"), {str(tmp_path)!r})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "KeyboardInterrupt" in result.stderr
    assert projector.load_projector(tmp_path)[1] == list("abcde")


# ---- temporaries of killed writers -----------------------------------------------------------------

def test_a_killed_writer_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "model.npz"
    script = f"""
import os, signal
from npembed.atomic import atomic_write
with atomic_write({str(target)!r}) as handle:
    handle.write(b"partial")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    subprocess.run([sys.executable, "-c", script], timeout=120)
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and not target.exists()
    live = tmp_path / f".model.npz.{os.getpid()}.keepme.tmp"            # a live writer's temporary
    live.write_bytes(b"in progress")
    with atomic_write(target) as handle:
        handle.write(b"complete")
    assert target.read_bytes() == b"complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.npz", live.name])
