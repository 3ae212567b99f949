"""`python -m training recipe`: a checked-in TOML file runs every stage (teacher, distilled student) of the one
trainer and the export with one command; a bad recipe is refused naming the file, stage and option; the shipped
recipe is the one that made converted_model/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.shared_assets import REPO, lapsrn_model
from training.files import sha256_file
from training.portable import PortableConfig
from training.recipe import load_recipe, stage_config

SHIPPED_RECIPE = REPO / "training" / "recipes" / "shipped.toml"

TINY_RECIPE = """
[[stage]]
name = "teacher"
trainer = "portable"  # as recipes written when there were two trainers say: the one there is
architecture = "vgg96"
width = 4
epochs = 2
batch_size = 32
precision = "float32"
upscale = "bilinear"

[[stage]]
name = "student"
teachers = ["teacher"]
architecture = "pyramid"
width = 4
epochs = 2
batch_size = 32
precision = "float32"
mixup = 0.4

[export]
stage = "student"
"""


@pytest.mark.parametrize(("text", "expected"), [
    ('[[stage]]\nname = "a"\nepoch = 3\n', r"stage 1 \(a\): unknown option\(s\) \['epoch'\]"),
    ('[[stage]]\nname = "a"\nepochs = "3"\n', r"stage 1 \(a\): epochs = '3' should be int"),
    ('[[stage]]\nname = "a"\nlearning_rate = true\n', r"learning_rate = True should be int or float"),
    ('[[stage]]\nname = "a"\nteachers = ["b"]\n[[stage]]\nname = "b"\n', r"teachers: 'b' must name an earlier stage"),
    ('[[stage]]\nname = "a"\ninit_from = "a"\n', r"init_from = 'a' must name an earlier stage"),
    ('[[stage]]\nname = "a"\nteachers = "b"\n', r"teachers = 'b' should be list"),
    ('[[stage]]\nname = "a"\n[[stage]]\nname = "a"\n', r"stage 2: the name 'a' is used twice"),
    ('[[stage]]\nname = "../a"\n', r"stage 1: 'name' must be a plain folder name"),
    ('[[stage]]\nname = "a"\n[export]\nstage = "z"\n', r"\[export\] stage = 'z' names no stage"),
    ('[[stage]]\nname = "a"\ndata = "elsewhere.csv"\n', r"unknown option\(s\) \['data'\]"),
    ('[[stage]]\nname = "a"\ntrainer = "train"\n', r"stage 1 \(a\): trainer = 'train'; there is one trainer"),
    ('[[stage]]\nname = "a"\naug_noise = 0.1\n', r"unknown option\(s\) \['aug_noise'\]"),
    ('[[stage]]\nname = "a"\npatience = 5\n', r"unknown option\(s\) \['patience'\]"),
    ('[[stage]]\nname = "a"\ntrainer = "portable"\noptimizer = 1\n', r"optimizer = 1 should be str"),
    ('[[stage]]\nname = "a"\ndropout = 1.5\n', r"stage 1 \(a\): dropout = 1.5: expected at least 0 and less"),
    ('[[stage]]\nname = "a"\ndevices = -1\n', r"devices = -1: expected 0 \(every visible device\) or more"),
    ('[[stage]]\nname = "a"\noptimizer = "adam"\n', r"optimizer = 'adam': expected one of"),
    ("[stages]\n", r"unknown table\(s\) \['stages'\]"),
    ("[[stage]\n", r"not a readable TOML recipe"),
    ("", r"no \[\[stage\]\] tables"),
])
def test_a_bad_recipe_is_refused_naming_the_file_stage_and_option(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=expected) as refused:
        load_recipe(path)
    assert str(path) in str(refused.value)


def test_the_checked_in_recipe_is_the_one_that_made_the_shipped_model(tmp_path: Path) -> None:
    metadata = json.loads((REPO / "converted_model" / "metadata.json").read_text())
    recipe = load_recipe(SHIPPED_RECIPE)
    exported = next(stage for stage in recipe.stages if stage.name == recipe.export["stage"])
    config = stage_config(exported, recipe.stages, tmp_path, data="fer2013.csv.gz", lapsrn=None)
    assert isinstance(config, PortableConfig) and metadata["training"]["trainer"] == "training.portable"
    recorded = dict(metadata["training"]["recipe"])
    # The teachers' and the starting point's digests need their files; the recipe names as many teachers as were
    # recorded, and a starting point where one was recorded.
    assert len(config.teachers) == len(recorded.pop("teachers_sha256", [])) == len(metadata["training"]["teachers"])
    assert (config.init_from is None) == (recorded.pop("init_from_sha256", None) is None)
    options = json.loads(json.dumps(asdict(config)))
    assert {key: options[key] for key in recorded} == recorded
    assert recipe.export.get("flip_average", False) == metadata["output"]["flip_average"]


def resolved(path: Path, runs: Path) -> tuple:
    """The recipe at ``path`` and each stage's configuration by name, with run folders under ``runs``."""
    recipe = load_recipe(path)
    return recipe, {stage.name: stage_config(stage, recipe.stages, runs, data="fer2013.csv.gz", lapsrn=None)
                    for stage in recipe.stages}


def test_the_shipped_recipe_resolves_every_stage(tmp_path: Path) -> None:
    recipe = load_recipe(SHIPPED_RECIPE)
    data = tmp_path / "data" / "fer2013_raw.csv.gz"
    configs = {stage.name: stage_config(stage, recipe.stages, tmp_path, data=str(data), lapsrn=None)
               for stage in recipe.stages}
    assert all(isinstance(config, PortableConfig) for config in configs.values())
    # The LapSRN student learns from scratch on the filtered copy's faces, both teachers labelling every batch.
    student = configs["student_gpu"]
    assert student.teachers == [str(tmp_path / name / "model.keras") for name in ("gpu_teacher", "gpu_teacher_lapsrn")]
    assert (student.architecture, student.width, student.upscale, student.init_from) == ("pyramid", 16, "lapsrn", None)
    assert configs["gpu_teacher"].upscale == "bilinear" and configs["gpu_teacher_lapsrn"].upscale == "lapsrn"
    assert {configs[name].data for name in ("gpu_teacher", "gpu_teacher_lapsrn", "student_gpu")} == \
        {str(data.parent / "fer2013.csv.gz")}, "the early stages name the filtered copy beside --data"
    # The shipped model: that student fine-tuned on the raw faces through the page's path, towards the FER+ votes.
    shipped = configs[recipe.export["stage"]]
    assert shipped.data == str(data) and shipped.init_from == str(tmp_path / "student_gpu" / "model.keras")
    assert (shipped.upscale, shipped.photometric, shipped.ferplus_weight, shipped.camera) == \
        ("bilinear", "fer2013-filter", 0.5, 0.5)
    assert shipped.train_split == "Training[:-3000]", "the faces the export calibrates on stay out of training"


def test_a_stage_may_name_its_data_file_but_no_path(tmp_path: Path) -> None:
    path = tmp_path / "data.toml"
    path.write_text('[[stage]]\nname = "a"\ndata_file = "../secret.csv"\n')
    with pytest.raises(ValueError, match="data_file"):
        load_recipe(path)


def test_a_stage_starts_from_an_earlier_stage_pruned_or_not(tmp_path: Path) -> None:
    path = tmp_path / "prune.toml"
    path.write_text('[[stage]]\nname = "wide"\nwidth = 16\n\n'
                    '[[stage]]\nname = "narrow"\nwidth = 10\ninit_from = "wide"\nteachers = ["wide"]\n')
    _, configs = resolved(path, tmp_path / "runs")
    wide = str(tmp_path / "runs" / "wide" / "model.keras")
    assert configs["narrow"].init_from == wide and configs["narrow"].teachers == [wide]
    assert configs["wide"].init_from is None


def test_each_stage_is_a_run_of_the_one_trainer_and_its_model_teaches_later_stages(tmp_path: Path) -> None:
    path = tmp_path / "stages.toml"
    path.write_text('[[stage]]\nname = "gpu"\ntrainer = "portable"\nepochs = 7\noptimizer = "sgd"\n'
                    '[[stage]]\nname = "student"\nteachers = ["gpu"]\ninit_from = "gpu"\ndevices = 0\n'
                    '[[stage]]\nname = "gpu_student"\nteachers = ["gpu", "student"]\n')
    recipe = load_recipe(path)
    gpu, student, gpu_student = (stage_config(stage, recipe.stages, tmp_path, data="faces.csv", lapsrn=None)
                                 for stage in recipe.stages)
    assert all(isinstance(config, PortableConfig) for config in (gpu, student, gpu_student))
    assert (gpu.epochs, gpu.optimizer, gpu.out, gpu.data) == (7, "sgd", str(tmp_path / "gpu"), "faces.csv")
    assert student.teachers == [str(tmp_path / "gpu" / "model.keras")] == [student.init_from]
    assert gpu_student.teachers == [str(tmp_path / "gpu" / "model.keras"), str(tmp_path / "student" / "model.keras")]
    assert (gpu.devices, student.devices) == (1, 0), "one device unless the recipe says otherwise"
    overridden = stage_config(recipe.stages[1], recipe.stages, tmp_path, data="faces.csv", lapsrn=None, devices=2)
    assert overridden.devices == 2, "the command line's --devices overrides the recipe's"


def test_a_two_stage_recipe_trains_distils_and_exports_with_one_command(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")
    from tests.fer_sample import write_sample_csv

    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_RECIPE)
    csv_path = write_sample_csv(tmp_path / "fer_sample.csv", {"Training": 160, "PublicTest": 32})
    runs, out = tmp_path / "runs", tmp_path / "converted"
    command = [sys.executable, "-m", "training", "recipe", str(recipe), "--runs", str(runs), "--out", str(out),
               "--data", str(csv_path), "--lapsrn", str(lapsrn_model()), "--cache-dir", str(tmp_path / "cache")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-4000:]

    metadata = json.loads((out / "metadata.json").read_text())
    teacher, student = runs / "teacher", runs / "student"
    assert metadata["training"]["teachers_sha256"] == [sha256_file(teacher / "model.keras")]
    assert metadata["training"]["checkpoint_sha256"] == sha256_file(student / "model.keras")
    assert metadata["training"]["recipe"]["architecture"] == "pyramid"
    assert metadata["training"]["recipe"]["mixup"] == pytest.approx(0.4)
    for run in (teacher, student):
        assert [entry["epoch"] for entry in json.loads((run / "run.json").read_text())["history"]] == [1, 2]
    assert json.loads(first.stdout.strip().splitlines()[-1])["out"] == str(out)

    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-4000:]
    assert f"{teacher}: finished earlier (2 epochs)" in again.stderr
    assert f"{student}: finished earlier (2 epochs)" in again.stderr
    assert sha256_file(student / "model.keras") == metadata["training"]["checkpoint_sha256"], "nothing is retrained"
