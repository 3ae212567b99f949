"""Run a checked-in recipe: every training stage of a model in order, then its export, with one command.

    python -m training recipe training/recipes/shipped.toml --runs ~/emotion-runs/shipped

A recipe is a TOML file. Each ``[[stage]]`` is one ``train`` run in ``RUNS/<name>``; its keys are ``train``'s
options with underscores (``learning_rate``, ``ferplus_weight``…). ``init_from`` names an earlier stage, which
stands for that stage's ``model.keras``; ``teachers`` is a list of earlier stages. ``trainer = "portable"``, which
recipes written when there were two trainers carry, names the one there is and is ignored. ``data_file`` names
another CSV in the folder of ``--data`` for one stage (the shipped model's early stages were trained on the
filtered FER2013 copy, its last on the raw one). ``[export]`` names the
stage to export and ``export``'s options. A stage resumes after its last finished epoch and a finished stage is
skipped, so the same command continues an interrupted recipe at any point.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from training.portable import MODEL_FILE, PortableConfig

log = logging.getLogger(__name__)

# Where the files go is the command line's business, not the recipe's.
STAGE_KEYS = ({f.name for f in dataclasses.fields(PortableConfig)} - {"data", "out", "time_budget", "lapsrn"}
              | {"data_file"})
EXPORT_KEYS = {"stage", "flip_average", "float16", "val_split"}
# The one trainer's name in recipes written when there were two.
LEGACY_TRAINER = "portable"


@dataclass
class Stage:
    name: str
    options: dict  # PortableConfig fields; init_from and teachers name earlier stages

    def model_path(self, runs: Path) -> Path:
        return runs / self.name / MODEL_FILE


@dataclass
class Recipe:
    path: Path
    stages: list[Stage]
    export: dict


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: not a readable TOML recipe ({error})") from error
    unknown = set(document) - {"stage", "export"}
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {sorted(unknown)}; expected [[stage]] and [export]")
    stages: list[Stage] = []
    for number, table in enumerate(document.get("stage", []), start=1):
        name = table.get("name")
        where = f"{path}: stage {number}"
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"{where}: 'name' must be a plain folder name, got {name!r}")
        if name in (stage.name for stage in stages):
            raise ValueError(f"{where}: the name {name!r} is used twice")
        if table.get("trainer", LEGACY_TRAINER) != LEGACY_TRAINER:
            raise ValueError(f"{where} ({name}): trainer = {table['trainer']!r}; there is one trainer, so leave the "
                             f"key out (or write {LEGACY_TRAINER!r}, as older recipes do)")
        options = {key: value for key, value in table.items() if key not in ("name", "trainer")}
        wrong = set(options) - STAGE_KEYS
        if wrong:
            raise ValueError(f"{where} ({name}): unknown option(s) {sorted(wrong)}; expected any of "
                             f"{', '.join(sorted(STAGE_KEYS))}")
        for key, value in options.items():
            expected = _expected_type(key)
            if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
                kinds = expected if isinstance(expected, tuple) else (expected,)
                names = " or ".join(kind.__name__ for kind in kinds)
                raise ValueError(f"{where} ({name}): {key} = {value!r} should be {names}")
        earlier = {stage.name for stage in stages}
        data_file = options.get("data_file", "")
        if "data_file" in options and (not isinstance(data_file, str) or Path(data_file).name != data_file
                                       or data_file.startswith(".")):
            raise ValueError(f"{where} ({name}): data_file = {data_file!r} must be a file name in --data's folder")
        if "init_from" in options and options["init_from"] not in earlier:
            raise ValueError(f"{where} ({name}): init_from = {options['init_from']!r} must name an earlier stage")
        for teacher in options.get("teachers", []):
            if not isinstance(teacher, str) or teacher not in earlier:
                raise ValueError(f"{where} ({name}): teachers: {teacher!r} must name an earlier stage")
        stage = Stage(name, options)
        try:  # the stage's config checks its own values: refused now, not hours later when the stage starts
            stage_config(stage, [*stages, stage], Path(), data="", lapsrn=None)
        except ValueError as error:
            raise ValueError(f"{where} ({name}): {error}") from error
        stages.append(stage)
    if not stages:
        raise ValueError(f"{path}: no [[stage]] tables")
    export = document.get("export", {})
    wrong = set(export) - EXPORT_KEYS
    if wrong:
        raise ValueError(f"{path}: [export] has unknown option(s) {sorted(wrong)}; expected {sorted(EXPORT_KEYS)}")
    export.setdefault("stage", stages[-1].name)
    if export["stage"] not in {stage.name for stage in stages}:
        raise ValueError(f"{path}: [export] stage = {export['stage']!r} names no stage")
    return Recipe(path, stages, export)


def _expected_type(key: str) -> type | tuple[type, ...]:
    if key in ("init_from", "data_file"):
        return str
    default = getattr(PortableConfig("", ""), key)
    return (int, float) if isinstance(default, float) else type(default)


def stage_config(stage: Stage, stages: list[Stage], runs: Path, data: str, lapsrn: str | None,
                 devices: int | None = None) -> PortableConfig:
    """The stage's run; ``devices`` (the command line's) overrides the recipe's device count."""
    by_name = {earlier.name: earlier for earlier in stages}
    options = dict(stage.options)
    data_file = options.pop("data_file", None)
    if data_file:
        data = str(Path(data).parent / data_file)
    options["teachers"] = [str(by_name[teacher].model_path(runs)) for teacher in options.get("teachers", [])]
    if "init_from" in options:
        options["init_from"] = str(by_name[options["init_from"]].model_path(runs))
    if devices is not None:
        options["devices"] = devices
    return PortableConfig(data=data, out=str(runs / stage.name), lapsrn=lapsrn, **options)


def run_recipe(recipe: Recipe, runs: Path, data: str, lapsrn: str | None, cache_dir: str, out: str,
               devices: int | None = None) -> dict | None:
    """Train every stage, then export; None when the stages ran on a backend the export cannot convert from."""
    import keras

    from training.export import export
    from training.portable import train

    for number, stage in enumerate(recipe.stages, start=1):
        log.info("recipe %s: stage %d/%d, %s", recipe.path.name, number, len(recipe.stages), stage.name)
        keras.backend.clear_session()  # each stage sets its own precision policy and seeds
        train(stage_config(stage, recipe.stages, runs, data, lapsrn, devices))
    if keras.backend.backend() != "tensorflow":  # the TF.js and LiteRT converters take TensorFlow graphs
        log.warning("every stage is trained; the export converts with TensorFlow: rerun the same command with "
                    "KERAS_BACKEND=tensorflow, which skips the finished stages and exports")
        return None
    options = recipe.export
    exported = next(stage for stage in recipe.stages if stage.name == options["stage"])
    data = stage_config(exported, recipe.stages, runs, data, lapsrn).data
    return export(str(runs / options["stage"]), data, out, lapsrn, cache_dir,
                  val_split=options.get("val_split", "PublicTest"), flip_average=options.get("flip_average", False),
                  quantize_float16=options.get("float16", True))


def add_parser(commands, add_data_options) -> None:
    parser = commands.add_parser("recipe", help="train every stage of a checked-in recipe, then export it",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    parser.add_argument("recipe", help="a TOML recipe, e.g. training/recipes/shipped.toml")
    parser.add_argument("--runs", required=True, help="folder for the stages' run folders (outside the work tree)")
    parser.add_argument("--out", default="converted_model", help="where the exported model goes")
    parser.add_argument("--devices", type=int, default=None,
                        help="accelerators each stage's batch is split over, overriding the recipe's (0: every "
                             "visible one; JAX backend); N devices train with N × the batch")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.data:
        raise ValueError("no dataset: pass --data PATH/fer2013.csv(.gz) or set $FER2013_CSV")
    recipe = load_recipe(args.recipe)
    metadata = run_recipe(recipe, Path(args.runs).expanduser(), args.data, args.lapsrn, args.cache_dir, args.out,
                          args.devices)
    if metadata is None:
        return 0
    print(json.dumps({"out": args.out, "bytes": metadata["model"]["bytes"],
                      "accuracy": metadata["metrics"]["validation"]["accuracy"]}))
    return 0
