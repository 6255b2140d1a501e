"""`python -m trader`: see trader/cli.py for the commands."""

import sys

from trader.cli import main

if __name__ == "__main__":
    sys.exit(main())
