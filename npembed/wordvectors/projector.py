"""Embedding Projector files (vecs.tsv, meta.tsv, projector_config.pbtxt) and nearest neighbours.

Files that always load: row i of vecs.tsv is row i of meta.tsv; UTF-8; one metadata column and so
no header. Tokens are escaped so that no row can shift or break: a backslash becomes ``\\\\``;
tabs, line breaks of any kind (\\n, \\r, \\v, \\f, U+001C-U+001E, U+0085, U+2028, U+2029) and
lone surrogates become ``\\uXXXX``; a token that is empty is written ``\\0`` and one made only of
white space is written entirely as ``\\uXXXX`` escapes (the projector skips blank lines, which
would shift every later row). ``load_projector`` undoes the escaping.

Neighbours follow gensim's KeyedVectors.most_similar: cosine similarity on unit-normalised vectors,
query words excluded, best first, ``[(word, similarity), ...]``.
"""
import difflib
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np

from .. import _checks, interrupts
from ..atomic import atomic_write

VECTORS_FILE, METADATA_FILE, CONFIG_FILE = "vecs.tsv", "meta.tsv", "projector_config.pbtxt"
MANIFEST_FILE = "projector_manifest.json"
_LINE_BREAKS = set("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_ESCAPE = re.compile(r"\\(\\|u[0-9a-fA-F]{4}|0$)")


def escape_token(token):
    """A token as one safe, non-blank meta.tsv line (reversed by unescape_token)."""
    if token == "":
        return "\\0"
    out = []
    for char in token:
        if char == "\\":
            out.append("\\\\")
        elif char in _LINE_BREAKS or "\ud800" <= char <= "\udfff":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    line = "".join(out)
    if not line.strip():
        line = "".join(f"\\u{ord(char):04x}" for char in token)
    return line


def unescape_token(line):
    """The token a meta.tsv line stands for: the inverse of escape_token."""
    def replace(match):
        code = match.group(1)
        if code == "\\":
            return "\\"
        if code == "0":
            return ""
        return chr(int(code[1:], 16))
    return _ESCAPE.sub(replace, line)


def export_projector(vectors, words, out_dir, tensor_name="embedding"):
    """Write vecs.tsv, meta.tsv and projector_config.pbtxt into out_dir, each atomically, as a pair.

    vectors: (n, dim) finite floats; words: n strings (row i names vector i).
    ``tensorboard --logdir out_dir`` then shows the vectors in TensorBoard's projector, and both
    .tsv files can be loaded at projector.tensorflow.org. A manifest, projector_manifest.json, says
    "pending" while the files are replaced and then holds their SHA-256: load_projector refuses a
    pair that an interrupted export left mixed. Ctrl-C is held until all four files are written.
    """
    vectors, words = _checks.paired_vectors(vectors, words)        # float64: %.9g keeps float32 exact
    too_large = np.abs(vectors) > np.finfo(np.float32).max                 # the projector reads float32
    if too_large.any():
        row, column = np.argwhere(too_large)[0]
        raise ValueError(f"vectors[{row}, {column}] is {vectors[row, column]:g}, beyond the largest float32 "
                         f"({np.finfo(np.float32).max:g}): the projector's files hold float32")
    for i, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"words[{i}] must be a string, got {word!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir} exists and is not a folder")
    buffer = io.StringIO()
    np.savetxt(buffer, vectors, fmt="%.9g", delimiter="\t")
    contents = {VECTORS_FILE: buffer.getvalue().encode("utf-8"),
                METADATA_FILE: "".join(escape_token(word) + "\n" for word in words).encode("utf-8"),
                CONFIG_FILE: (f'embeddings {{\n  tensor_name: "{tensor_name}"\n  tensor_path: "{VECTORS_FILE}"\n'
                              f'  metadata_path: "{METADATA_FILE}"\n  tensor_shape: {vectors.shape[0]}\n'
                              f'  tensor_shape: {vectors.shape[1]}\n}}\n').encode("utf-8")}
    manifest = {"format": "npembed.projector", "rows": len(words), "dim": vectors.shape[1],
                "sha256": {name: hashlib.sha256(contents[name]).hexdigest()
                           for name in (VECTORS_FILE, METADATA_FILE)}}
    with interrupts.holding():
        _write(out_dir / MANIFEST_FILE, json.dumps({"format": "npembed.projector", "pending": True}).encode())
        for name, content in contents.items():
            _write(out_dir / name, content)
        _write(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=1).encode())
    return out_dir


def _write(path, content):
    with atomic_write(path) as handle:
        handle.write(content)


def _read_text(path):
    """A projector file's text: UTF-8 (a leading byte-order mark dropped), CRLF read as LF."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {raw[error.start:error.start + 1]!r})") from None
    return raw, text.replace("\r\n", "\n")


def load_projector(out_dir):
    """Read what export_projector wrote: (vectors float32 (n, dim), words list of n strings).

    Read as the Embedding Projector reads them: UTF-8, a byte-order mark ignored, CRLF line endings
    taken as LF. Refused: vectors that are not finite, files of different row counts, empty files,
    and, when a manifest is present, files that are not the pair it names (an interrupted export).
    """
    out_dir = Path(out_dir)
    vectors_path, metadata_path = out_dir / VECTORS_FILE, out_dir / METADATA_FILE
    for path in (vectors_path, metadata_path):
        if not path.is_file():
            raise FileNotFoundError(f"no projector file {path}")
    (vectors_raw, vectors_text), (metadata_raw, metadata_text) = _read_text(vectors_path), _read_text(metadata_path)
    _check_manifest(out_dir / MANIFEST_FILE, {VECTORS_FILE: vectors_raw, METADATA_FILE: metadata_raw})
    if not vectors_text.strip():
        raise ValueError(f"{vectors_path} is empty")
    try:
        vectors = np.loadtxt(io.StringIO(vectors_text), delimiter="\t", dtype=np.float32, ndmin=2)
    except ValueError as error:
        raise ValueError(f"{vectors_path} is not a tab-separated table of numbers: {error}") from None
    if not np.isfinite(vectors).all():
        row = int(np.argwhere(~np.isfinite(vectors))[0][0])
        raise ValueError(f"{vectors_path} row {row + 1} holds a value that is not finite")
    lines = metadata_text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    words = [unescape_token(line) for line in lines]
    if len(words) != len(vectors):
        raise ValueError(f"{vectors_path} has {len(vectors)} rows but {metadata_path} has {len(words)}")
    return vectors, words


def _check_manifest(path, contents):
    if not path.is_file():
        return                       # written by npembed before manifests: row counts are still checked
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        pending, expected = manifest.get("pending", False), manifest.get("sha256", {})
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{path} is not a projector manifest ({error})") from None
    if pending:
        raise ValueError(f"{path} says an export into {path.parent} did not finish (interrupted?); "
                         "its files may not belong together: export again")
    for name, content in contents.items():
        if expected.get(name) != hashlib.sha256(content).hexdigest():
            raise ValueError(f"{path.parent / name} is not the file {path.name} names: the projector "
                             "files do not belong together (an interrupted export?); export again")


def row_of(words, word, index=None):
    """The row of word in words (index: an optional {word: row} for quick look-ups); KeyError with
    close spellings when it is not there."""
    try:
        return index[word] if index is not None else words.index(word)
    except (KeyError, ValueError):
        close = difflib.get_close_matches(word, words, n=5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"{word!r} is not in the vocabulary{hint}") from None


def most_similar(vectors, words, positive=(), negative=(), topn=10):
    """gensim's most_similar: words closest (cosine) to mean(positive) - mean(negative), unit-normalised.

    positive / negative: words (str) or lists of words. Query words are excluded from the answer.
    """
    positive = [positive] if isinstance(positive, str) else list(positive)
    negative = [negative] if isinstance(negative, str) else list(negative)
    if not positive and not negative:
        raise ValueError("most_similar needs at least one positive or negative word")
    topn = _checks.positive_int("topn", topn)
    vectors, words = _checks.paired_vectors(vectors, words)
    unit = _checks.unit_rows(vectors)
    rows = [row_of(words, word) for word in positive + negative]
    signs = np.array([1.0] * len(positive) + [-1.0] * len(negative))
    query = (signs[:, None] * unit[rows]).mean(axis=0)
    query /= np.linalg.norm(query) or 1.0
    similarity = unit @ query
    similarity[rows] = -np.inf
    best = np.argsort(-similarity, kind="stable")[:min(topn, len(words) - len(set(rows)))]
    return [(words[i], float(similarity[i])) for i in best]


def nearest_neighbors(vectors, words, query, topn=10):
    """The topn words closest to query by cosine similarity, [(word, similarity), ...], best first."""
    return most_similar(vectors, words, positive=[query], topn=topn)


def analogy(vectors, words, positive, negative, topn=10):
    """positive[0] - negative[0] + positive[1] ...: e.g. analogy(v, w, ["king", "woman"], ["man"])."""
    return most_similar(vectors, words, positive=positive, negative=negative, topn=topn)
