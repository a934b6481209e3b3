"""python -m skinscan_cli: the same as the `skinscan` command."""

import sys

from skinscan_cli.main import main

if __name__ == "__main__":
    sys.exit(main())
