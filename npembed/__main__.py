"""Command line: nearest neighbours and analogies over exported projector files.

    python -m npembed neighbors OUT_DIR WORD [--topn N]
    python -m npembed analogy OUT_DIR --positive a b --negative c [--topn N]
"""
import argparse
import sys

from .projector import load_projector, most_similar


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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
