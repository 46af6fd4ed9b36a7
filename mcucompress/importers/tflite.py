"""Import a fully int8 .tflite model into the graph IR (TFLite layouts, see ir/graph.py).

``load_tflite(path) -> Graph``. A model whose interface is float (a leading QUANTIZE and a
trailing DEQUANTIZE around an int8 body) is imported as its int8 body; the int8 graph input and
output then carry exactly the scale/zero point those QUANTIZE/DEQUANTIZE ops used, and
``load_tflite_with_interface`` says which ports were float so C can generate float wrappers
doing exactly what those ops did: ``quantize.params.quantize_input`` (float32 division, round
half away from zero, clamp) in and ``quantize.params.dequantize_output`` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.importers.tflite_contracts import check_graph, check_options
from mcucompress.importers.tflite_dilation import fold_dilated_convolutions
from mcucompress.importers.tflite_float_islands import fold_float_islands
from mcucompress.importers.tflite_flatbuffer import RawModel, RawTensor, read_tflite
from mcucompress.importers.tflite_ops import Context, convert_op
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.ir.ops import weight_axes
from mcucompress.quantize import lstm_ops

# weighted kinds take (x, weights, bias)
_WEIGHT_INPUTS = {kind: 1 for kind in weight_axes("int8")}
_BIAS_INPUTS = {kind: 2 for kind in weight_axes("int8")}
# kinds whose inputs are not (int8 ..., int32 bias): the dtype of each input
_INPUT_DTYPES = {"lstm": lstm_ops.INPUT_DTYPES}
# the inputs of a kind that hold its state (variable tensors), and no other op may read
_STATE_INPUTS = {"lstm": (lstm_ops.HIDDEN, lstm_ops.CELL)}


@dataclass(frozen=True)
class FloatInterface:
    """Which graph inputs/outputs were float32 in the .tflite (stripped QUANTIZE/DEQUANTIZE)."""

    float_inputs: tuple[bool, ...]
    float_outputs: tuple[bool, ...]


def load_tflite(path: str | Path) -> Graph:
    """The int8 graph of a .tflite file; McuError for anything that is not a supported int8 model."""
    return load_tflite_with_interface(path)[0]


def load_tflite_with_interface(path: str | Path) -> tuple[Graph, FloatInterface]:
    raw = read_tflite(path)
    check_options(Path(path), raw)
    ops, inputs, outputs, interface = _strip_float_interface(raw)
    names = _unique_names(raw.tensors)
    ctx = Context(raw.tensors, names)

    try:
        ir_ops = _convert_ops(ops, raw, ctx, outputs)
    except McuError as error:  # the converters name the operator; the file is named here
        raise McuError(f"'{path}': {error}") from None

    by_name = {names[t.index]: t for t in raw.tensors}
    used = {n for op in ir_ops for n in (*op.inputs, *op.outputs) if n is not None}
    used |= {names[i] for i in inputs + outputs}
    tensors = {n: _to_tensor(n, by_name[n]) for n in used}
    ir_ops = _mark_int4(ir_ops, {names[t.index] for t in raw.tensors if t.packed_int4}, Path(path))
    graph = Graph(tensors=tensors, ops=tuple(ir_ops), inputs=tuple(names[i] for i in inputs),
                  outputs=tuple(names[i] for i in outputs), name=Path(path).stem)
    _check_int8(graph, Path(path))
    _check_state(graph, Path(path))
    _check_dataflow(graph, Path(path))
    check_graph(Path(path), graph)
    return graph, interface


def _mark_int4(ops: list[Op], int4_tensors: set[str], path: Path) -> list[Op]:
    """Fully connected and conv2d ops whose weights the file stores as INT4 keep them packed
    (weight encoding int4, zero point 0); INT4 anywhere else is refused."""
    from mcucompress.encode.choose import ATTR
    out = []
    for op in ops:
        packed = [i for i, n in enumerate(op.inputs) if n in int4_tensors]
        if not packed:
            out.append(op)
            continue
        if op.kind not in ("fully_connected", "conv2d") or packed != [1]:
            raise McuError(f"'{path}': op '{op.name}' ({op.kind}) takes an INT4 tensor; int4 is supported as the "
                           "weights of fully connected and conv2d layers only")
        out.append(op.with_attrs(**{ATTR: "int4"}))
    return out


def _convert_ops(ops, raw: RawModel, ctx: Context, outputs) -> list[Op]:
    ir_ops = []
    folded = fold_dilated_convolutions(ops, raw.tensors, ctx, set(outputs))
    for op in fold_float_islands(folded, raw.tensors, ctx, set(outputs)):
        if isinstance(op, Op):  # already folded into IR
            ir_ops.append(op)
            continue
        converted = convert_op(op, ctx)
        ir_ops.append(Op(converted.kind, f"op{op.index}_{converted.kind}", converted.inputs,
                         converted.outputs, converted.attrs))
    return ir_ops


def _strip_float_interface(raw: RawModel):
    """Drop QUANTIZE(float->int8) on inputs and DEQUANTIZE(int8->float) on outputs."""
    ops = list(raw.ops)
    inputs, outputs = list(raw.inputs), list(raw.outputs)
    float_in = [False] * len(inputs)
    float_out = [False] * len(outputs)
    for k, i in enumerate(inputs):
        if raw.tensors[i].dtype != "float32":
            continue
        consumers = [op for op in ops if i in op.inputs]
        if len(consumers) == 1 and consumers[0].opname == "QUANTIZE" and \
                raw.tensors[consumers[0].outputs[0]].dtype == "int8":
            ops.remove(consumers[0])
            inputs[k] = consumers[0].outputs[0]
            float_in[k] = True
    for k, o in enumerate(outputs):
        if raw.tensors[o].dtype != "float32":
            continue
        producers = [op for op in ops if o in op.outputs]
        if len(producers) == 1 and producers[0].opname == "DEQUANTIZE" and \
                raw.tensors[producers[0].inputs[0]].dtype == "int8" and \
                not any(o in op.inputs for op in ops):
            ops.remove(producers[0])
            outputs[k] = producers[0].inputs[0]
            float_out[k] = True
    return ops, tuple(inputs), tuple(outputs), FloatInterface(tuple(float_in), tuple(float_out))


def _unique_names(tensors: tuple[RawTensor, ...]) -> dict[int, str]:
    """The file's tensor names, made unique (suffix "_<index>") and never empty."""
    names: dict[int, str] = {}
    seen: set[str] = set()
    for t in tensors:
        name = t.name or f"tensor_{t.index}"
        if name in seen:
            name = f"{name}_{t.index}"
        seen.add(name)
        names[t.index] = name
    return names


def _to_tensor(name: str, t: RawTensor) -> Tensor:
    quant = None
    if t.scale:
        quant = QuantParams(scale=t.scale, zero_point=t.zero_point, axis=t.quant_axis)
    if t.variable:  # state: its bytes in the file, if any, are not what tflite-micro starts from
        return Tensor(name=name, shape=t.shape, dtype=t.dtype, quant=quant, variable=True)
    return Tensor(name=name, shape=t.shape, dtype=t.dtype, quant=quant, data=t.data)


def _check_int8(graph: Graph, path: Path) -> None:
    """Fully int8: int8 activations and weights with quantization, int32 biases."""
    for op in graph.ops:
        for pos, name in enumerate(op.inputs):
            if name is None:
                continue
            t = graph.tensors[name]
            want = _INPUT_DTYPES[op.kind][pos] if op.kind in _INPUT_DTYPES else \
                "int32" if _BIAS_INPUTS.get(op.kind) == pos else "int8"
            if t.dtype != want:
                raise McuError(f"'{path}' is not a fully int8 model: {op.kind} '{op.name}' input '{name}' is "
                               f"{t.dtype} (expected {want}; float models must be quantized first)")
            if t.quant is None and want in ("int8", "int16"):
                raise McuError(f"'{path}': int8 tensor '{name}' has no quantization parameters")
            if _WEIGHT_INPUTS.get(op.kind) == pos and t.data is None:
                raise McuError(f"'{path}': weights '{name}' of '{op.name}' are not constant")
        out = graph.output_tensor(op)
        if out.dtype != "int8" or out.quant is None:
            raise McuError(f"'{path}' is not a fully int8 model: '{op.name}' produces {out.dtype} tensor '{out.name}'")
    for name in graph.inputs:
        t = graph.tensors[name]
        if t.dtype != "int8":
            raise McuError(f"'{path}' is not a fully int8 model: input '{name}' is {t.dtype}")
        if not t.shape or t.shape[0] != 1:
            raise McuError(f"'{path}': input '{name}' has shape {list(t.shape)}; only batch 1 is supported")


def _check_state(graph: Graph, path: Path) -> None:
    """Variable tensors are the state of exactly one op that keeps state, and nothing else."""
    owners: dict[str, str] = {}
    for op in graph.ops:
        written = [n for n in op.outputs if graph.tensors[n].variable]
        if written:
            raise McuError(f"'{path}': '{op.name}' ({op.kind}) writes variable tensor '{written[0]}' "
                           "(only an LSTM's own state update is supported)")
        state = {op.inputs[i] for i in _STATE_INPUTS.get(op.kind, ())}
        for name in op.inputs:
            if name is None or not graph.tensors[name].variable:
                continue
            if name not in state or name in owners:
                raise McuError(f"'{path}': variable tensor '{name}' is read by '{op.name}' ({op.kind}); "
                               "only as the state of one LSTM is supported")
            owners[name] = op.name
    for name in (*graph.inputs, *graph.outputs):
        if graph.tensors[name].variable:
            raise McuError(f"'{path}': variable tensor '{name}' is a model input or output (not supported)")


def _check_dataflow(graph: Graph, path: Path) -> None:
    """Every op input is a graph input, a constant, a variable, or produced by an earlier op."""
    ready = set(graph.inputs) | {t.name for t in graph.constants()} | {t.name for t in graph.variables()}
    for op in graph.ops:
        for name in op.inputs:
            if name is not None and name not in ready:
                raise McuError(f"'{path}': '{op.name}' reads tensor '{name}' before anything produces it")
        ready.update(op.outputs)
    for name in graph.outputs:
        if name not in ready:
            raise McuError(f"'{path}': graph output '{name}' is never produced")
