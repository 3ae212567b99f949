"""Command line: ``python -m training {train,recipe,evaluate,export,benchmark} …``; ``--help`` lists each option."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from training.augment import AugmentConfig
from training.data import DATA_ENV, DataError
from training.labels import EMOTIONS
from training.superres import LAPSRN_ENV, SuperResolutionError
from training.train import TrainConfig


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=os.environ.get(DATA_ENV),
                        help=f"FER2013 CSV (.csv or .csv.gz) or image folder (default ${DATA_ENV})")
    parser.add_argument("--lapsrn", default=None, help=f"LapSRN_x2.pb for ×2 super-resolution (default ${LAPSRN_ENV})")
    parser.add_argument("--cache-dir", default=".cache", help="where upscaled faces are cached")
    parser.add_argument("--skip-bad", action="store_true", help="drop bad rows/files (counted) instead of failing")


def _train_parser(commands) -> None:
    parser = commands.add_parser("train", help="train (or resume) a model",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_data_options(parser)
    defaults = TrainConfig(data="")
    parser.add_argument("--run-dir", default=defaults.run_dir, help="run folder; an existing run there is resumed")
    parser.add_argument("--train-split", default=defaults.train_split,
                        help="split to train on, or part of one in file order: Training[:-3000]")
    parser.add_argument("--val-split", default=defaults.val_split,
                        help="split for model selection (best epoch), e.g. Training[-3000:] to keep PublicTest "
                             "for the final report only")
    parser.add_argument("--aux", action="append", default=[], help="auxiliary image folder added to training")
    parser.add_argument("--aux-classes", default="",
                        help=f"comma-separated classes to take from --aux ({','.join(EMOTIONS)})")
    parser.add_argument("--no-superres", dest="superres", action="store_false", help="train on 48×48 faces")
    parser.add_argument("--init-from", default=None,
                        help="start from a checkpoint's weights, e.g. a first stage's best.keras (fine-tuning stage); "
                             "a wider network of the same architecture is pruned to --width (training/prune.py)")
    parser.add_argument("--teacher", dest="teachers", action="append", default=[],
                        help="distil from this model as well as the labels, e.g. an exported reference.keras; "
                             "repeat it to distil from an ensemble (probabilities averaged)")
    parser.add_argument("--architecture", default=defaults.architecture,
                        help="network shape: vgg96 or pyramid (see training/model.py)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N faces of each split (smoke tests)")
    for name in ("epochs", "batch_size", "learning_rate", "warmup_epochs", "weight_decay", "label_smoothing",
                 "class_weight_power", "width", "dropout", "patience", "seed", "precision", "distill_weight",
                 "distill_temperature"):
        value = getattr(defaults, name)
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    parser.add_argument("--teacher-flip-average", action="store_true",
                        help="each teacher averages its probabilities with those of the mirrored face")
    parser.add_argument("--teacher-online", action="store_true",
                        help="the teachers see every augmented batch the student sees (a teacher pass per step) "
                             "rather than each face once, unaugmented")
    for item in dataclasses.fields(AugmentConfig):
        if item.name == "erase_area":
            continue
        value = getattr(defaults.augment, item.name)
        kind = (lambda text: text.lower() in ("1", "true", "yes")) if isinstance(value, bool) else type(value)
        parser.add_argument("--aug-" + item.name.replace("_", "-"), type=kind, default=value, dest="aug_" + item.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _train_parser(commands)
    from training import benchmark, evaluate, export, recipe  # their parsers live beside their code

    for command in (evaluate, export, benchmark, recipe):
        command.add_parser(commands, _add_data_options)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.command == "train":
            return _train(args)
        return args.run(args)
    except (DataError, SuperResolutionError, FileNotFoundError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from training.train import train

    if not args.data:
        raise DataError(f"no dataset: pass --data PATH/fer2013.csv(.gz) or set ${DATA_ENV}")
    augment = AugmentConfig(**{f.name: getattr(args, "aug_" + f.name) for f in dataclasses.fields(AugmentConfig)
                               if f.name != "erase_area"})
    config = TrainConfig(
        data=args.data, run_dir=args.run_dir, train_split=args.train_split, val_split=args.val_split, aux=args.aux,
        aux_classes=[c for c in args.aux_classes.split(",") if c], superres=args.superres, lapsrn=args.lapsrn,
        cache_dir=args.cache_dir, limit=args.limit, skip_bad=args.skip_bad, augment=augment, init_from=args.init_from,
        teachers=args.teachers, teacher_flip_average=args.teacher_flip_average,
        teacher_online=args.teacher_online, architecture=args.architecture,
        **{name: getattr(args, name) for name in ("epochs", "batch_size", "learning_rate", "warmup_epochs",
                                                  "weight_decay", "label_smoothing", "class_weight_power", "width",
                                                  "dropout", "patience", "seed", "precision",
                                                  "distill_weight", "distill_temperature")},
    )
    train(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
