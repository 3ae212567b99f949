"""Command line: ``python -m training {train,pack,recipe,evaluate,export,export-litert,benchmark} …``; ``--help``
lists each command's options."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from training.data import DATA_ENV, DataError
from training.superres import LAPSRN_ENV, SuperResolutionError


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=os.environ.get(DATA_ENV),
                        help=f"FER2013 CSV (.csv or .csv.gz) or image folder (default ${DATA_ENV})")
    parser.add_argument("--lapsrn", default=None, help=f"LapSRN_x2.pb for ×2 super-resolution (default ${LAPSRN_ENV})")
    parser.add_argument("--cache-dir", default=".cache", help="where upscaled faces are cached")
    parser.add_argument("--skip-bad", action="store_true", help="drop bad rows/files (counted) instead of failing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    from training import benchmark, evaluate, export, portable, recipe  # their parsers live beside their code

    portable.add_parsers(commands)
    for command in (recipe, evaluate, export, benchmark):
        command.add_parser(commands, _add_data_options)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        return args.run(args)
    except (DataError, SuperResolutionError, FileNotFoundError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
