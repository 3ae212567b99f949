"""Export a trained checkpoint as the browser model: a TF.js graph model (float16 weights) in ``converted_model/``
with ``metadata.json``, the one file the browser and the tests read labels, input size and preprocessing from.

    python -m training export --run-dir runs/w16 --data fer2013_raw.csv.gz

TF.js 4.22 cannot load Keras 3 *layers* models, so the float32 network goes through a SavedModel into a graph model.
The same float32 network is also converted to a LiteRT (TensorFlow Lite) flatbuffer, ``model.tflite``, with the
same float16 weights: the Python package ``emotion_detector`` runs it without TensorFlow. For a folder exported before
that existed, ``python -m training export-litert --model-dir converted_model`` adds it from ``reference.keras``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from training.calibration import ECE_BINS, fit_temperature, with_temperature
from training.evaluate import label_set_metrics, predict_probabilities
from training.ferplus import NO_LABEL, majority_labels
from training.files import atomic_write_json, sha256_file
from training.labels import EMOTIONS
from training.preprocessing import photometric_steps, preprocessing_spec

log = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
# The float32 Keras model the graph model was converted from: Python reference for parity tests and evaluation.
REFERENCE_FILE = "reference.keras"
# The same network for LiteRT (ai-edge-litert), the Python package's runtime; the server never serves it.
LITERT_FILE = "model.tflite"


def export_saved_model(model, directory: Path) -> str:
    """Write ``model`` as a SavedModel with a ``serving_default`` signature; returns its output name."""
    import tensorflow as tf

    face = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="face")

    @tf.function(input_signature=[face])
    def serve(face_batch):
        return {"emotion": model(face_batch, training=False)}

    module = tf.Module()
    module.model = model
    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve})
    return "emotion"


def convert_to_tfjs(saved_model: Path, output: Path, quantize_float16: bool = True) -> None:
    command = [sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_saved_model",
               "--output_format=tfjs_graph_model", "--signature_name=serving_default", "--saved_model_tags=serve"]
    if quantize_float16:
        command.append("--quantize_float16=*")
    completed = subprocess.run([*command, str(saved_model), str(output)], capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"tensorflowjs_converter failed:\n{completed.stderr[-3000:]}")


def convert_to_litert(model, output: Path, quantize_float16: bool = True) -> None:
    """A LiteRT flatbuffer of ``model``, variables frozen into constants (the converter keeps Keras 3's resource
    variables as VAR_HANDLE ops otherwise, with no weights in the file). Float16 weights are the same values TF.js
    gets (IEEE half rounding); batch normalisation is folded into the convolutions."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="face")])
    def serve(face_batch):
        return model(face_batch, training=False)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [convert_variables_to_constants_v2(serve.get_concrete_function())])
    if quantize_float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    output.write_bytes(converter.convert())


def litert_entry(model_dir: Path, quantize_float16: bool) -> dict:
    """metadata.json's description of the LiteRT file, tied to the reference model it was converted from."""
    import tensorflow as tf

    return {
        "format": "tflite", "path": LITERT_FILE, "weights_dtype": "float16" if quantize_float16 else "float32",
        "bytes": (model_dir / LITERT_FILE).stat().st_size, "sha256": sha256_file(model_dir / LITERT_FILE),
        "converted_from": REFERENCE_FILE, "converted_from_sha256": sha256_file(model_dir / REFERENCE_FILE),
        "tensorflow": tf.__version__,
    }


def export_litert(model_dir: str | Path, quantize_float16: bool = True) -> dict:
    """(Re)writes ``model.tflite`` in an exported model folder from its ``reference.keras`` and records it in
    metadata.json; the TF.js files are left untouched. Returns the metadata entry."""
    import keras

    model_dir = Path(model_dir)
    metadata_path = model_dir / METADATA_FILE
    reference = model_dir / REFERENCE_FILE
    for required in (metadata_path, reference):
        if not required.is_file():
            raise FileNotFoundError(f"{required} not found: export-litert needs a folder written by "
                                    f"`python -m training export`")
    metadata = json.loads(metadata_path.read_text())
    model = keras.models.load_model(reference, compile=False)
    with tempfile.TemporaryDirectory(prefix=".export-litert-", dir=model_dir) as staging:
        converted = Path(staging) / LITERT_FILE
        convert_to_litert(model, converted, quantize_float16)
        os.chmod(converted, 0o644)
        os.replace(converted, model_dir / LITERT_FILE)
    metadata["litert"] = litert_entry(model_dir, quantize_float16)
    atomic_write_json(metadata_path, metadata)
    log.info("wrote %s (%d bytes) from %s", model_dir / LITERT_FILE, metadata["litert"]["bytes"], reference)
    return metadata["litert"]


# Faces the calibration temperature is fitted on: the end of Training, which the shipped recipe's last stage leaves
# out of its training faces (PublicTest stays for the report).
CALIBRATION_SPLIT = "Training[-3000:]"


def export(run_dir: str, data: str, out_dir: str, lapsrn: str | None, cache_dir: str, val_split: str = "PublicTest",
           flip_average: bool = False, quantize_float16: bool = True,
           calibration_split: str | None = CALIBRATION_SPLIT) -> dict:
    import keras
    import tensorflow as tf
    import tensorflowjs

    from training.data import load_dataset, pick_split
    from training.model import inference_model

    splits = load_dataset(data)
    checkpoint, training = training_record(Path(run_dir), splits, data)
    model = inference_model(keras.models.load_model(checkpoint, compile=False), flip_average=flip_average)
    input_size = int(model.input_shape[1])
    training["input_size"] = input_size  # read from the network itself, whichever trainer made it

    photometric = training.get("photometric", "none")
    steps = photometric_steps(photometric)
    calibration = calibrate(model, splits, data, calibration_split, steps, lapsrn, cache_dir)
    faces = pick_split(splits, val_split, data)
    probabilities = with_temperature(predict_probabilities(model, faces.images, lapsrn, cache_dir, "bilinear", steps),
                                     calibration["temperature"])
    label_sets = label_set_metrics(faces, probabilities)
    metrics = {**label_sets["fer2013"], "label_sets": label_sets}
    for name, result in label_sets.items():
        log.info("%s: %s, %s labels: accuracy %.4f, macro-F1 %.4f, ECE %.4f (float32 Keras, the page's bilinear "
                 "resize)", checkpoint, val_split, name, result["accuracy"], result["macro_f1"], result["ece"])

    out = Path(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent if out.parent.exists() else None))
    try:
        output_name = export_saved_model(model, staging / "saved_model")
        graph_dir = staging / "tfjs"
        convert_to_tfjs(staging / "saved_model", graph_dir, quantize_float16)
        weight_files = sorted(p for p in graph_dir.iterdir())
        convert_to_litert(model, graph_dir / LITERT_FILE, quantize_float16)
        metadata = {
            "name": "emotion-cnn",
            "labels": list(EMOTIONS),
            "input": {"name": "face", "height": input_size, "width": input_size, "channels": 1, "dtype": "float32"},
            "output": {"name": output_name, "kind": "probabilities", "flip_average": flip_average,
                       "temperature": calibration["temperature"]},
            "preprocessing": preprocessing_spec(photometric, training["faces"]),
            "model": {
                "format": "tfjs-graph-model", "path": "model.json",
                "weights_dtype": "float16" if quantize_float16 else "float32",
                "parameters": _network_parameters(model),
                "bytes": sum(p.stat().st_size for p in weight_files),
                "files": {p.name: sha256_file(p) for p in weight_files},
            },
            "metrics": {
                "validation": {"split": val_split, "data": Path(data).name,
                               "evaluated_with": "Keras, float32, the page's bilinear resize, calibrated",
                               "ece_bins": ECE_BINS, **metrics},
                "calibration": calibration,
            },
            "training": training,
            "software": {"python": platform.python_version(), "tensorflow": tf.__version__,
                         "keras": keras.__version__, "tensorflowjs": tensorflowjs.__version__},
            "hardware": f"{platform.machine()} {_cpu_name()}",
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        model.save(graph_dir / REFERENCE_FILE)
        metadata["reference_keras"] = {"path": REFERENCE_FILE, "sha256": sha256_file(graph_dir / REFERENCE_FILE)}
        metadata["litert"] = litert_entry(graph_dir, quantize_float16)
        atomic_write_json(graph_dir / METADATA_FILE, metadata)
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(graph_dir), str(out))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("exported %s (%d bytes of weights) to %s", checkpoint, metadata["model"]["bytes"], out)
    return metadata


def calibrate(model, splits: dict, data: str, split: str | None, steps: list[dict], lapsrn: str | None,
              cache_dir: str) -> dict:
    """The temperature that calibrates ``model`` on ``split``'s faces, fitted to their FER+ majority labels where
    the data has votes (the labels the shipped model is trained towards), else to their FER2013 labels."""
    from training.data import pick_split

    if not split:
        return {"temperature": 1.0, "split": None}
    faces = pick_split(splits, split, data)
    probabilities = predict_probabilities(model, faces.images, lapsrn, cache_dir, "bilinear", steps)
    labels, label_set = faces.labels, "fer2013"
    if faces.votes is not None:
        labels, label_set = majority_labels(faces.votes), "ferplus"
        probabilities, labels = probabilities[labels != NO_LABEL], labels[labels != NO_LABEL]
    temperature = fit_temperature(probabilities, labels)
    log.info("calibration on %s (%d faces, %s labels): temperature %.3f", split, len(labels), label_set, temperature)
    return {"temperature": temperature, "split": split, "faces": int(len(labels)), "labels": label_set,
            "method": "temperature scaling (Guo et al. 2017), negative log-likelihood"}


def training_record(run: Path, splits: dict, data: str) -> tuple[Path, dict]:
    """The checkpoint a run folder exports (``model.keras``, the run's last epoch) and how it was trained, from its
    ``run.json``, after checking that the run trained on ``data``'s faces."""
    from training.data import pick_split
    from training.files import sha256_arrays
    from training.portable import MODEL_FILE, UPSCALING

    record_path = run / "run.json"
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} not found: expected a finished run folder of `python -m training "
                                "train` (model.keras and run.json)")
    record = json.loads(record_path.read_text())
    config = record["config"]
    faces = pick_split(splits, config["train_split"], data)
    if sha256_arrays(faces.images, faces.labels) != record["data_sha256"]:
        raise ValueError(f"{run / 'run.json'}: trained on other faces than {data}'s {config['train_split']} "
                         "(data_sha256 differs)")
    checkpoint = run / MODEL_FILE
    epochs = len(record["history"])
    return checkpoint, {
        "trainer": "training.portable",
        # A time budget picks the epoch count during the run: the recipe records the count it picked.
        "recipe": {**record["recipe"], "epochs": epochs},
        "init_from": config.get("init_from"),  # pruned to this network's width when it was wider
        "init_from_sha256": record["recipe"].get("init_from_sha256"),
        "teachers": config["teachers"],
        "teachers_sha256": record["recipe"].get("teachers_sha256", []),
        "superres": UPSCALING[config["upscale"]] if config["upscale"] != "bilinear" else None,
        "photometric": config.get("photometric", "none"),
        "faces": f"FER2013 {config['train_split']} of {Path(data).name}, 48×48 grey; "
                 f"{UPSCALING[config['upscale']]}; photometric {config.get('photometric', 'none')}"
                 + (f"; {config['occlusion']:.0%} of faces with a hand, glasses or hair drawn over them "
                    "(training.occlusion)" if config.get("occlusion") else "")
                 + (f"; {config['camera']:.0%} of faces through a simulated camera (training.camera)"
                    if config.get("camera") else ""),
        "targets": (f"{1 - config.get('ferplus_weight', 0.0):g} × FER2013 label + "
                    f"{config.get('ferplus_weight', 0.0):g} × FER+ vote distribution"),
        "train_faces": record["train_faces"],
        "train_class_counts": np.bincount(faces.labels, minlength=len(EMOTIONS)).tolist(),
        "data_sha256": record["data_sha256"],
        "checkpoint_sha256": sha256_file(checkpoint),
        "best_epoch": epochs,  # no model selection: the last epoch is the model
        "epochs_run": epochs,
        "train_seconds": record["seconds"],
        "device": f"{record['device']} ({record['backend']} backend)",
        "history": record["history"],
    }


def _network_parameters(model) -> int:
    nested = [layer for layer in model.layers if hasattr(layer, "layers")]
    return int(nested[0].count_params() if nested else model.count_params())


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def add_parser(commands, add_data_options) -> None:
    parser = commands.add_parser("export", help="convert a run's best checkpoint to converted_model/ (TF.js)",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    parser.add_argument("--run-dir", required=True,
                        help="a finished training run folder (model.keras and run.json)")
    parser.add_argument("--out", default="converted_model")
    parser.add_argument("--val-split", default="PublicTest", help="split whose metrics go into metadata.json")
    parser.add_argument("--calibration-split", default=CALIBRATION_SPLIT,
                        help="faces the calibration temperature is fitted on (held out of training)")
    parser.add_argument("--flip-average", action="store_true", help="average with the mirrored face in the model")
    _add_float32_flag(parser, "keep float32 weights (default: float16, half the download)")
    parser.set_defaults(run=_run)

    litert = commands.add_parser("export-litert", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                 help="(re)write model.tflite, for the Python package, in an exported model folder")
    litert.add_argument("--model-dir", default="converted_model",
                        help="folder written by `export` (holds metadata.json and reference.keras)")
    _add_float32_flag(litert, "keep float32 weights (default: float16, as the TF.js model)")
    litert.set_defaults(run=_run_litert)


def _add_float32_flag(parser: argparse.ArgumentParser, help_text: str) -> None:
    # The parser-level default keeps "(default: True)" of the negated flag out of --help; the help text says it.
    parser.set_defaults(quantize_float16=True)
    parser.add_argument("--float32", dest="quantize_float16", action="store_false", default=argparse.SUPPRESS,
                        help=help_text)


def _run_litert(args: argparse.Namespace) -> int:
    entry = export_litert(args.model_dir, args.quantize_float16)
    print(json.dumps({"out": str(Path(args.model_dir) / entry["path"]), "bytes": entry["bytes"]}))
    return 0


def _run(args: argparse.Namespace) -> int:
    if not args.data:
        raise ValueError("no dataset: pass --data PATH/fer2013.csv(.gz) or set $FER2013_CSV")
    metadata = export(args.run_dir, args.data, args.out, args.lapsrn, args.cache_dir, args.val_split,
                      args.flip_average, args.quantize_float16, args.calibration_split)
    validation = metadata["metrics"]["validation"]
    print(json.dumps({"out": args.out, "bytes": metadata["model"]["bytes"],
                      "temperature": metadata["output"]["temperature"],
                      **{name: {k: result[k] for k in ("accuracy", "macro_f1", "ece")}
                         for name, result in validation["label_sets"].items()}}))
    return 0
