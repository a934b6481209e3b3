"""python -m trainer: the same as `skinscan train` (and what torchrun runs for DDP)."""

import argparse
import sys

from trainer.commands import TRAIN_DESCRIPTION, train_command
from trainer.options import add_train_arguments

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m trainer", description=TRAIN_DESCRIPTION)
    add_train_arguments(parser)
    sys.exit(train_command(parser.parse_args()))
