"""Command line: nearest neighbours and analogies over exported projector files.

    python -m npembed neighbors OUT_DIR WORD [--topn N]
    python -m npembed analogy OUT_DIR --positive a b --negative c [--topn N]
    python -m npembed explore OUT_DIR [--output FILE]   (snapshots.npz + meta.tsv -> explorer.html)
"""
import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np

from . import _checks

from .wordvectors.projector import load_projector, most_similar


def main(argv=None):
    """Run the command line on argv (default sys.argv[1:]); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m npembed", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    neighbors = commands.add_parser("neighbors", help="nearest neighbours of a word (cosine)")
    neighbors.add_argument("out_dir", help="folder with vecs.tsv and meta.tsv")
    neighbors.add_argument("word")
    analogy = commands.add_parser("analogy", help="words closest to sum(positive) - sum(negative)")
    analogy.add_argument("out_dir", help="folder with vecs.tsv and meta.tsv")
    analogy.add_argument("--positive", nargs="+", required=True)
    analogy.add_argument("--negative", nargs="*", default=[])
    for command in (neighbors, analogy):
        command.add_argument("--topn", type=int, default=10)
    explore = commands.add_parser("explore", help="write explorer.html from OUT_DIR/snapshots.npz and meta.tsv")
    explore.add_argument("out_dir", help="folder with snapshots.npz (EmbeddingSnapshots(path=...)) and meta.tsv")
    explore.add_argument("--output", help="the page to write (default OUT_DIR/explorer.html)")
    args = parser.parse_args(argv)
    if args.command == "explore":
        return _explore(args)
    if args.topn < 1:
        parser.error(f"--topn must be >= 1, got {args.topn}")
    try:
        vectors, words = load_projector(args.out_dir)
        if args.command == "neighbors":
            result = most_similar(vectors, words, positive=[args.word], topn=args.topn)
        else:
            result = most_similar(vectors, words, positive=args.positive, negative=args.negative,
                                  topn=args.topn)
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for word, similarity in result:
        print(f"{similarity:8.4f}  {word}")
    return 0


def _explore(args):
    """explorer.html from the snapshots and the words of an output folder; returns the exit code."""
    from .study import explorer
    folder = Path(args.out_dir)
    try:
        _, words = load_projector(folder)
        snapshots = load_snapshots(folder / "snapshots.npz", len(words))
        path = explorer.write_html(snapshots["snapshots"], [words[i] for i in snapshots["rows"]],
                                   args.output or folder / "explorer.html", scores=snapshots.get("scores"),
                                   epochs=snapshots["epochs"],
                                   score_label="sentiment" if "scores" in snapshots else "score")
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def load_snapshots(path, rows_in_meta):
    """The arrays of a snapshots.npz (snapshots, epochs, rows, optional scores), checked against each other."""
    _checks.regular_file(path)
    try:
        with np.load(path, allow_pickle=False) as saved:
            data = {name: saved[name] for name in ("snapshots", "epochs", "rows", "scores") if name in saved.files}
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise ValueError(f"{path} is not a readable .npz (not a zip of arrays): {error}") from None
    missing = {"snapshots", "epochs", "rows"} - set(data)
    if missing:
        raise ValueError(f"{path} lacks {sorted(missing)} (write it with EmbeddingSnapshots(path=...))")
    rows = data["rows"]
    shape = data["snapshots"].shape
    if len(shape) != 3 or rows.ndim != 1 or rows.dtype.kind not in "iu" or len(rows) != shape[1]:
        raise ValueError(f"{path}: snapshots {data['snapshots'].shape} and rows {rows.shape} do not pair up")
    if len(rows) and (rows.min() < 0 or rows.max() >= rows_in_meta):
        raise ValueError(f"{path}: rows must be ids in [0, {rows_in_meta}) (the rows of meta.tsv), "
                         f"got {rows.min()}..{rows.max()}")
    return data


if __name__ == "__main__":
    sys.exit(main())
