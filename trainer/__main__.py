"""python -m trainer: the same as `skinscan train`."""

import sys

from skinscan.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
