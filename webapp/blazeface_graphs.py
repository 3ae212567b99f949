"""MediaPipe's BlazeFace ``.tflite`` face detectors as TF.js graph models, for the page.

The npm package @mediapipe/face_detection ships the networks as LiteRT (TFLite) files, the ones the Python package
runs. The page runs TF.js, so the server converts them once, when it first starts after `npm ci`, into
``node_modules/.cache/blazeface-tfjs/<version>/`` (``<name>.json`` + ``<name>.bin``), where they are kept until the
next `npm ci`. The conversion maps each LiteRT operator onto the TF.js operator that computes the same thing, with
MediaPipe's own weights (float16 in the file, stored as float16 again: no precision is lost), and joins the two
outputs into the one the page's decoder reads: ``Identity`` = [N, anchors, 17], the score logit then the 16 box
and keypoint values. The batch size is free, as the page runs many windows of a photo at once.

    python -m webapp.blazeface_graphs node_modules/@mediapipe/face_detection OUT_DIR
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Bumped when the conversion changes, so the served URLs (immutable in caches) change with it.
CONVERTER_VERSION = "1"
OUTPUT = "Identity"
# The networks the page runs (static/js/detection/blazeface.js) and emotion_detector/blazeface.py runs in Python.
SOURCE_FILES = {
    "face_detection_short_range": "face_detection_short_range.tflite",
    "face_detection_full_range_sparse": "face_detection_full_range_sparse.tflite",
}
# Operators whose output is a weight (float16 storage, sparse storage): read after one run, stored as constants.
WEIGHT_DECODERS = {"DEQUANTIZE", "DENSIFY"}
PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6"}


class ConversionError(RuntimeError):
    pass


def _s(text: str) -> str:
    """A GraphDef string attribute, as TF.js's model.json holds it (base64)."""
    return base64.b64encode(text.encode()).decode()


def _ints(values) -> dict:
    return {"list": {"i": [str(int(value)) for value in values]}}


@dataclass
class Graph:
    """TF.js model.json nodes and the weights they name, built in order."""
    nodes: list[dict] = field(default_factory=list)
    weights: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def const(self, name: str, value: np.ndarray) -> str:
        if any(existing == name for existing, _ in self.weights):  # a weight two operators share
            return name
        dtype = {np.dtype(np.float32): "DT_FLOAT", np.dtype(np.int32): "DT_INT32"}[value.dtype]
        shape = {"dim": [{"size": str(size)} for size in value.shape]}
        self.nodes.append({"name": name, "op": "Const",
                           "attr": {"value": {"tensor": {"dtype": dtype, "tensorShape": shape}},
                                    "dtype": {"type": dtype}}})
        self.weights.append((name, value))
        return name

    def op(self, name: str, op: str, inputs: list[str], **attr: dict) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": {"T": {"type": "DT_FLOAT"}, **attr}})
        return name

    def model_json(self, weights_file: str, description: str) -> dict:
        manifest = []
        for name, value in self.weights:
            dtype = "int32" if value.dtype == np.int32 else "float32"
            entry = {"name": name, "shape": list(value.shape), "dtype": dtype}
            if value.dtype == np.float32 and _fits_float16(value):
                entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            manifest.append(entry)
        return {"format": "graph-model", "generatedBy": description, "convertedBy": "webapp/blazeface_graphs.py",
                "modelTopology": {"node": self.nodes, "library": {}, "versions": {"producer": 1}},
                "weightsManifest": [{"paths": [weights_file], "weights": manifest}]}

    def weights_bytes(self) -> bytes:
        parts = []
        for _, value in self.weights:
            stored = value.astype(np.float16) if value.dtype == np.float32 and _fits_float16(value) else value
            parts.append(stored.astype(stored.dtype.newbyteorder("<")).tobytes())
        return b"".join(parts)


def _fits_float16(value: np.ndarray) -> bool:
    return bool(np.array_equal(value.astype(np.float16).astype(np.float32), value))


def _load(path: Path):
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = schema.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
    if len(model.subgraphs) != 1:
        raise ConversionError(f"{path}: expected one subgraph, found {len(model.subgraphs)}")
    codes = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    # Weights stored as float16 or in sparse form are decoded by the model's own operators: one run on zeros, with
    # every tensor kept, gives them as LiteRT computes them (without XNNPACK, which would take those operators over
    # and leave their outputs empty).
    interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    return model, codes, interpreter


class _Converter:
    """One .tflite file's operators, mapped one by one onto TF.js nodes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.model, self.codes, self.interpreter = _load(path)
        self.subgraph = self.model.subgraphs[0]
        self.tensors = self.subgraph.tensors
        self.graph = Graph()
        self.names: dict[int, str] = {}  # LiteRT tensor computed from the input → its TF.js node

    def shape(self, index: int) -> list[int]:
        return [int(dim) for dim in self.tensors[index].shape]

    def value(self, index: int) -> np.ndarray:
        return np.array(self.interpreter.get_tensor(index))

    def const(self, index: int, value: np.ndarray | None = None) -> str:
        return self.graph.const(f"w{index}", self.value(index) if value is None else value)

    def int_const(self, index: int) -> str:
        return self.const(index, self.value(index).astype(np.int32))

    def operand(self, index: int) -> str:
        return self.names[index] if index in self.names else self.const(index)

    def convert(self) -> Graph:
        [input_index] = self.subgraph.inputs
        dims = [-1, *self.shape(input_index)[1:]]  # any batch size
        self.names[input_index] = "input"
        self.graph.nodes.append({"name": "input", "op": "Placeholder", "attr": {
            "dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": str(dim)} for dim in dims]}}}})
        for number, operator in enumerate(self.subgraph.operators):
            code = self.model.operatorCodes[operator.opcodeIndex]
            kind = self.codes[max(code.builtinCode, code.deprecatedBuiltinCode)]
            if kind in WEIGHT_DECODERS:
                continue  # its output is read as a constant where it is used
            convert = getattr(self, f"_{kind.lower()}", None)
            if convert is None:
                raise ConversionError(f"{self.path}: operator {kind} (#{number}) has no conversion")
            inputs = [index for index in operator.inputs if index >= 0]
            [output] = operator.outputs
            options = operator.builtinOptions
            self.names[output] = convert(f"t{output}", inputs, output, options)
            activation = getattr(options, "fusedActivationFunction", 0)
            if activation and kind not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                self.names[output] = self.graph.op(f"t{output}_activation", ACTIVATIONS[activation],
                                                   [self.names[output]])
        # MediaPipe's outputs: box regressors [1, A, 16] and score logits [1, A, 1]; the page reads [N, A, 17].
        regressors, scores = sorted(self.subgraph.outputs, key=lambda index: self.shape(index)[-1], reverse=True)
        axis = self.graph.const("output_axis", np.array(2, np.int32))
        self.graph.op(OUTPUT, "ConcatV2", [self.names[scores], self.names[regressors], axis], N={"i": "2"})
        return self.graph

    def _convolution(self, name: str, inputs: list[int], options, depthwise: bool) -> str:
        kernel = self.value(inputs[1])  # LiteRT: [out, h, w, in], depthwise [1, h, w, in × multiplier]
        if depthwise:
            channels = self.shape(inputs[0])[3]
            filters = kernel.reshape(kernel.shape[1], kernel.shape[2], channels, -1)  # TF: [h, w, in, multiplier]
        else:
            filters = kernel.transpose(1, 2, 3, 0)  # TF: [h, w, in, out]
        bias = (self.const(inputs[2]) if len(inputs) > 2
                else self.graph.const(f"{name}_bias", np.zeros(kernel.shape[3 if depthwise else 0], np.float32)))
        activation = ACTIVATIONS[options.fusedActivationFunction]
        fused = ["BiasAdd", *([activation] if activation else [])]
        return self.graph.op(
            name, "FusedDepthwiseConv2dNative" if depthwise else "_FusedConv2D",
            [self.names[inputs[0]], self.const(inputs[1], filters), bias],
            strides=_ints([1, options.strideH, options.strideW, 1]), padding={"s": _s(PADDING[options.padding])},
            dilations=_ints([1, options.dilationHFactor, options.dilationWFactor, 1]), data_format={"s": _s("NHWC")},
            fused_ops={"list": {"s": [_s(step) for step in fused]}}, num_args={"i": "1"}, epsilon={"f": 0.0})

    def _conv_2d(self, name: str, inputs: list[int], output: int, options) -> str:
        return self._convolution(name, inputs, options, depthwise=False)

    def _depthwise_conv_2d(self, name: str, inputs: list[int], output: int, options) -> str:
        return self._convolution(name, inputs, options, depthwise=True)

    def _add(self, name: str, inputs: list[int], output: int, options) -> str:
        return self.graph.op(name, "AddV2", [self.operand(inputs[0]), self.operand(inputs[1])])

    def _relu(self, name: str, inputs: list[int], output: int, options) -> str:
        return self.graph.op(name, "Relu", [self.names[inputs[0]]])

    def _max_pool_2d(self, name: str, inputs: list[int], output: int, options) -> str:
        return self.graph.op(name, "MaxPool", [self.names[inputs[0]]],
                             ksize=_ints([1, options.filterHeight, options.filterWidth, 1]),
                             strides=_ints([1, options.strideH, options.strideW, 1]),
                             padding={"s": _s(PADDING[options.padding])}, data_format={"s": _s("NHWC")})

    def _pad(self, name: str, inputs: list[int], output: int, options) -> str:
        return self.graph.op(name, "Pad", [self.names[inputs[0]], self.int_const(inputs[1])])

    def _reshape(self, name: str, inputs: list[int], output: int, options) -> str:
        shape = np.array([-1, *self.shape(output)[1:]], np.int32)  # any batch size
        return self.graph.op(name, "Reshape", [self.names[inputs[0]], self.graph.const(f"{name}_shape", shape)])

    def _concatenation(self, name: str, inputs: list[int], output: int, options) -> str:
        axis = np.array(options.axis % len(self.shape(output)), np.int32)
        return self.graph.op(name, "ConcatV2", [*(self.names[index] for index in inputs),
                                                self.graph.const(f"{name}_axis", axis)], N={"i": str(len(inputs))})

    def _resize_bilinear(self, name: str, inputs: list[int], output: int, options) -> str:
        return self.graph.op(name, "ResizeBilinear", [self.names[inputs[0]], self.int_const(inputs[1])],
                             align_corners={"b": bool(options.alignCorners)},
                             half_pixel_centers={"b": bool(options.halfPixelCenters)})

    def _depth_to_space(self, name: str, inputs: list[int], output: int, options) -> str:
        return self.graph.op(name, "DepthToSpace", [self.names[inputs[0]]], block_size={"i": str(options.blockSize)},
                             data_format={"s": _s("NHWC")})


def convert(path: Path) -> Graph:
    """The TF.js graph computing what the .tflite file at ``path`` computes, its outputs joined into OUTPUT."""
    return _Converter(path).convert()


def write_graph(source: Path, folder: Path, stem: str) -> None:
    """<stem>.json and <stem>.bin in folder, each written atomically."""
    graph = convert(source)
    files = {f"{stem}.bin": graph.weights_bytes(),
             f"{stem}.json": json.dumps(graph.model_json(f"{stem}.bin", f"MediaPipe {source.name}")).encode()}
    for name, body in files.items():
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / name)


def ensure_graphs(npm_folder: Path, folder: Path) -> Path:
    """folder holding every SOURCE_FILES network as <stem>.json + <stem>.bin, converting those not there yet."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, file_name in SOURCE_FILES.items():
        if not ((folder / f"{stem}.json").is_file() and (folder / f"{stem}.bin").is_file()):
            source = npm_folder / file_name
            if not source.is_file():
                raise ConversionError(f"{source} not found: run `npm ci` to install @mediapipe/face_detection")
            write_graph(source, folder, stem)
    return folder


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    ensure_graphs(Path(arguments[0]), Path(arguments[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
