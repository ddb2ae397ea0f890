"""What the example scripts share: how a user's mistake ends a script."""
import sys
from pathlib import Path

USER_ERRORS = (OSError, ValueError)      # a missing or unreadable file, an impossible value


def run(main, user_errors=USER_ERRORS):
    """Call main(); a user's error prints one line, `script: error: ...` as argparse does, and exits 2."""
    try:
        return main()
    except user_errors as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        sys.exit(2)
