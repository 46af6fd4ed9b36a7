"""Lowering: an int8 Graph becomes constant arrays, parameter structs and kernel calls.

Every decision about the generated C is taken here (which kernel, which arguments, where each
tensor lives in the arena); the templates only loop over the result. Integer parameters come
from ``quantize.params.kernel_params`` - the same numbers the numpy reference runs with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcucompress.encode.choose import ATTR as WEIGHT_ENCODING
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Layer, Op, Port, PortTotals, Tensor
from mcucompress.ir.ops import kernel_sources, macs, op_kind
from mcucompress.memory.arena import plan_memory
from mcucompress.memory.planner import MemoryPlan
from mcucompress.quantize.params import kernel_params
from mcucompress.codegen.c_literals import array_lines, c_comment_text, c_float, c_int
from mcucompress.codegen.c_structs import designated
from mcucompress.codegen import lower_encoded, specialize as _specialize

# The runtime source file that defines each kernel (relative to runtime_c/), from the catalogue.
KERNEL_SOURCES = kernel_sources()
RUNTIME_HEADERS = ("include/mcc.h", "include/mcc_nn.h", "include/mcc_port.h")
# Kernel files whose body is in another kernel's file (whose loops they share or which they
# call): both are built.
KERNEL_BODIES = {"conv/mcc_conv2d_fast_w8_s8.c": "conv/mcc_conv2d_fast_s8.c",
                 "fully_connected/mcc_fully_connected_fast_w16_s8.c": "fully_connected/mcc_fully_connected_fast_s8.c",
                 "int4/mcc_conv2d_int4_s8.c": "codebook/mcc_conv2d_codebook_fast_s8.c"}
_CTYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}
_PER_LINE = {"int8_t": 16, "uint8_t": 16, "int16_t": 12, "uint16_t": 12, "int32_t": 8, "uint32_t": 8, "float": 4}


@dataclass(frozen=True)
class CArray:
    """A const array in weights.c (declared extern in model.c)."""

    ctype: str
    name: str
    length: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class CDecl:
    """A static const object in model.c, e.g. a kernel's parameter struct."""

    ctype: str
    name: str
    initializer: str


@dataclass(frozen=True)
class CState:
    """A variable tensor's static buffer in model.c: kept across invocations, set to ``fill``
    before the first one and by ``<prefix>_reset()``."""

    ctype: str
    name: str
    length: int
    fill: int


@dataclass(frozen=True)
class KernelCall:
    function: str
    args: tuple[str, ...]
    comment: str            # "layer name: kind", safe inside a C comment
    op_name: str = ""       # the layer's name as the graph has it
    exit_index: int | None = None  # an early exit's test: nonzero ends mcc_run, which returns this


@dataclass(frozen=True)
class Program(PortTotals):
    arrays: tuple[CArray, ...]
    decls: tuple[CDecl, ...]
    calls: tuple[KernelCall, ...]
    runtime_files: tuple[str, ...]
    memory: MemoryPlan
    tensor_offsets: dict
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    single_rounding: bool
    layers: tuple[Layer, ...] = ()
    states: tuple[CState, ...] = ()
    defines: tuple[tuple[str, int], ...] = ()   # C defines the kernels of this model need
    functions: tuple[str, ...] = ()   # C functions of the model's own (layers written out per layer)

    @property
    def input(self) -> Port:
        """The first input (the only one of most models)."""
        return self.inputs[0]

    @property
    def output(self) -> Port:
        return self.outputs[0]


@dataclass
class ProgramBuilder:
    """What a lowering (``OpKind.lowering(builder, index, op)``) writes the program with: const
    arrays (``array``, ``array_text``, ``constant``), static structs (``decl``, ``dims_of``,
    ``quant``, ``add_params``), arena pointers (``arena``) and the kernel call (``call``, one per
    op). ``choices[index]`` is the op's specialised kernel or None (specialize.choose_kernels)."""

    graph: Graph
    prefix: str
    rounding: str
    offsets: dict
    choices: tuple  # specialize.KernelChoice or None per op
    arrays: list = field(default_factory=list)
    decls: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    dims: dict = field(default_factory=dict)
    kernels: set = field(default_factory=set)
    states: list = field(default_factory=list)
    defines: dict = field(default_factory=dict)   # C defines the kernels of this model need
    functions: list = field(default_factory=list)  # C functions written into model.c
    dw_mve_taps: bool = False   # a depthwise layer takes the taps path on MVE cores
    planes: bool = True         # depthwise layers may run on channel planes (specialize.planes_target)
    pairs: bool = True          # ... and on row-pair planes (specialize.pairs_target)

    # -- helpers ---------------------------------------------------------------------------
    def weighted(self, op: Op) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """(input, weights, bias or None, output) of a conv / depthwise / fully connected op."""
        x, w, bias = self.graph.input_tensors(op) + [None] * (3 - len(op.inputs))
        return x, w, bias, self.graph.output_tensor(op)

    def arena(self, tensor_name: str) -> str:
        return f"(mcc_arena.bytes + {self.offsets[tensor_name]})"

    def array(self, suffix: str, values: np.ndarray, ctype: str) -> str:
        formatter = c_float if ctype == "float" else c_int
        return self.array_text(ctype, suffix, int(np.asarray(values).size),
                               array_lines(values, _PER_LINE[ctype], formatter))

    def array_text(self, ctype: str, suffix: str, length: int, lines) -> str:
        """A const array in weights.c whose initializer lines the caller wrote."""
        name = f"{self.prefix}_{suffix}"
        self.arrays.append(CArray(ctype, name, length, tuple(lines)))
        return name

    def shared_array(self, suffix: str, values: np.ndarray, ctype: str) -> str:
        """A const array every op that asks for it under this name shares (e.g. a function table)."""
        name = f"{self.prefix}_{suffix}"
        if not any(a.name == name for a in self.arrays):
            self.array(suffix, values, ctype)
        return name

    def state(self, tensor: Tensor, suffix: str) -> str:
        """A variable tensor's static buffer (model.c), kept across invocations."""
        ctype = _CTYPES.get(tensor.dtype)
        if not tensor.variable or ctype is None:
            raise McuError(f"tensor '{tensor.name}' is not a variable tensor of a supported type")
        name = f"{self.prefix}_{suffix}"
        self.states.append(CState(ctype, name, tensor.size, tensor.initial_value))
        return name

    def decl(self, ctype: str, suffix: str, initializer: str) -> str:
        name = f"{self.prefix}_{suffix}"
        self.decls.append(CDecl(ctype, name, initializer))
        return f"&{name}"

    def struct(self, ctype: str, suffix: str, fields: dict) -> str:
        """A static const runtime struct with a designated initializer (``fields`` in the order
        mcc.h declares them, checked; a params dataclass's ``c_fields()``)."""
        return self.decl(ctype, suffix, designated(ctype, fields))

    def dims_of(self, shape) -> str:
        """A shared static mcc_dims for a shape padded to (n, h, w, c)."""
        shape = tuple(int(s) for s in shape)
        if len(shape) > 4:
            raise McuError(f"tensors of rank {len(shape)} are not supported (at most 4)")
        nhwc = (shape[0],) + (1,) * (4 - len(shape)) + shape[1:] if shape else (1, 1, 1, 1)
        if nhwc not in self.dims:
            name = f"{self.prefix}_dims{len(self.dims)}"
            self.dims[nhwc] = name
            self.decls.append(CDecl("mcc_dims", name, designated("mcc_dims", dict(zip("nhwc", nhwc)))))
        return f"&{self.dims[nhwc]}"

    def function(self, name: str, text_of) -> str:
        """A C function of the model's own in model.c (e.g. a layer written out by dw_gen):
        ``text_of(name)`` is its text; the name of an identical function already written is
        returned instead of writing a second one."""
        text = text_of(name)
        for earlier_name, earlier in self.functions:
            if text.replace(name, earlier_name) == earlier:
                return earlier_name
        self.functions.append((name, text))
        return name

    def call(self, op: Op, function: str, *args: str, exit_index: int | None = None,
             generated: bool = False) -> None:
        if not generated:   # a generated function is in model.c, not a runtime source
            self.kernels.add(function)
        self.calls.append(KernelCall(function, tuple(args), c_comment_text(f"{op.name}: {op.kind}"), op.name,
                                     exit_index))

    def quant(self, op_id: str, params) -> str:
        """mcc_quant of a conv / depthwise / fc: integer multipliers (tflm) or float32 scales
        (litert); one shared entry when all channels agree."""
        if params.rounding == "litert":
            values = [np.asarray(params.float_scale, dtype=np.float32)]
        else:
            values = [np.asarray(params.multiplier, dtype=np.int64), np.asarray(params.shift, dtype=np.int64)]
        per_channel = any(not np.all(v == v[0]) for v in values)
        if not per_channel:
            values = [v[:1] for v in values]
        if params.rounding == "litert":
            arrays = {"multiplier": 0, "shift": 0, "scale": self.array(f"{op_id}_scale", values[0], "float")}
        else:
            arrays = {"multiplier": self.array(f"{op_id}_multiplier", values[0], "int32_t"),
                      "shift": self.array(f"{op_id}_shift", values[1], "int32_t"), "scale": 0}
        return self.struct("mcc_quant", f"{op_id}_quant", arrays | {"per_channel": per_channel})

    def constant(self, op_id: str, role: str, tensor: Tensor | None) -> str:
        if tensor is None:
            return "0"
        if not tensor.is_constant:
            raise McuError(f"{role} tensor '{tensor.name}' must be a constant")
        ctype = _CTYPES.get(str(tensor.data.dtype))
        if ctype is None:
            raise McuError(f"constant '{tensor.name}' has unsupported type {tensor.data.dtype}")
        return self.array(f"{op_id}_{role}", tensor.data, ctype)

    def add_params(self, op_id: str, p) -> str:
        """The mcc_add_params of an add (portable and table kernels take the same struct)."""
        return self.struct("mcc_add_params", f"{op_id}_params", p.c_fields())

    def checked_params(self, op: Op):
        """The op's kernel parameters, refused when the C kernel does not requantize as they say."""
        params = kernel_params(self.graph, op, self.rounding)
        self.check_rounding(op, params)
        return params

    def check_rounding(self, op: Op, params) -> None:
        # kernels of these kinds requantize as MCC_SINGLE_ROUNDING says (mcc_nn_requantize_output
        # / mcc_nn_requantize_float); all others always use gemmlowp double rounding
        mode_rounded = op_kind(op.kind).litert_float_requant
        want = "litert" if self.rounding == "litert" and mode_rounded else "tflm"
        if getattr(params, "rounding", want) != want:
            raise McuError(f"op '{op.name}' ({op.kind}): {self.rounding} rounding needs "
                           f"{params.rounding} requantization, which the C kernel does not do")


def _op_id(index: int, op: Op) -> str:
    return f"op{index}_{op.kind}"


# -- per-kind lowering -------------------------------------------------------------------------

def _lower_conv(b: ProgramBuilder, i: int, op: Op) -> None:
    if lower_encoded.is_encoded(op):
        return lower_encoded.lower_conv2d_encoded(b, i, op)
    x, w, bias, out = b.weighted(op)
    p = b.checked_params(op)
    expected_in = x.shape[-1] * (p.depth_multiplier if op.kind == "depthwise_conv2d" else 1)
    if len(x.shape) != 4 or len(w.shape) != 4 or w.shape[-1] != (expected_in if op.kind == "depthwise_conv2d"
                                                               else x.shape[-1]):
        raise McuError(f"op '{op.name}' ({op.kind}): weights {w.shape} do not fit input {x.shape} "
                       "(grouped convolutions are not supported)")
    if _specialize.lower_fast(b, i, op, p):  # export-time specialised fast kernel (issue 4)
        return
    oid = _op_id(i, op)
    quant = b.quant(oid, p)
    if op.kind == "conv2d":
        params = b.struct("mcc_conv_params", f"{oid}_params", p.c_fields(depthwise=False))
        function = "mcc_conv2d_s8"
    else:
        params = b.struct("mcc_dw_conv_params", f"{oid}_params", p.c_fields(depthwise=True))
        function = "mcc_depthwise_conv2d_s8"
    b.call(op, function, params, quant, b.dims_of(x.shape), b.arena(x.name), b.dims_of(w.shape),
           b.constant(oid, "weights", w), b.constant(oid, "bias", bias), b.dims_of(out.shape),
           b.arena(out.name))


def _lower_fully_connected(b: ProgramBuilder, i: int, op: Op) -> None:
    if lower_encoded.is_encoded(op):
        return lower_encoded.lower_fully_connected_encoded(b, i, op)
    x, w, bias, out = b.weighted(op)
    p = b.checked_params(op)
    oid = _op_id(i, op)
    units, depth = int(w.shape[0]), int(np.prod(w.shape[1:]))
    if x.size % depth:
        raise McuError(f"op '{op.name}': input of {x.size} values does not split into rows of {depth}")
    batches = x.size // depth
    if _specialize.lower_fast(b, i, op, p):  # export-time specialised fast kernel (issue 4)
        return
    params = b.struct("mcc_fc_params", f"{oid}_params", p.c_fields())
    b.call(op, "mcc_fully_connected_s8", params, b.quant(oid, p),
           b.dims_of((batches, depth)), b.arena(x.name), b.dims_of((units, depth)),
           b.constant(oid, "weights", w), b.constant(oid, "bias", bias),
           b.dims_of((batches, units)), b.arena(out.name))


def _lower_pool(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    x, out = g.tensor(op.inputs[0]), g.output_tensor(op)
    p = kernel_params(g, op, b.rounding)
    params = b.struct("mcc_pool_params", f"{_op_id(i, op)}_params", p.c_fields())
    function = "mcc_maxpool_s8" if p.kind == "max" else "mcc_avgpool_s8"
    b.call(op, function, params, b.dims_of(x.shape), b.arena(x.name), b.dims_of(out.shape),
           b.arena(out.name))


def _lower_add(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    x1, x2 = g.tensor(op.inputs[0]), g.tensor(op.inputs[1])
    out = g.output_tensor(op)
    if x1.shape != out.shape or x2.shape != out.shape or x1.is_constant or x2.is_constant:
        from mcucompress.quantize.broadcast_ops import lower as lower_broadcast
        return lower_broadcast(b, i, op)  # broadcasting, or a constant operand in flash
    p = kernel_params(g, op, b.rounding)
    if _specialize.lower_fast(b, i, op, p):  # lookup-table add for large tensors (issue 4)
        return
    params = b.add_params(_op_id(i, op), p)
    b.call(op, "mcc_add_s8", params, b.arena(x1.name), b.arena(x2.name), b.arena(out.name),
           str(out.size))


def _lower_softmax(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    x, out = g.tensor(op.inputs[0]), g.output_tensor(op)
    p = kernel_params(g, op, b.rounding)
    oid = _op_id(i, op)
    depth = int(x.shape[-1])
    rows = x.size // depth
    if p.method == "table":
        table = b.array(f"{oid}_exp_table", np.asarray(p.table, dtype=np.float32), "float")
        params = b.struct("mcc_softmax_table_params", f"{oid}_params", p.c_fields(table=table))
        function = "mcc_softmax_table_s8"
    else:
        if p.output_zero_point != -128 or np.float32(p.output_scale) != np.float32(1.0 / 256):
            raise McuError(f"op '{op.name}' (softmax): output must have scale 1/256 and zero point -128")
        params = b.struct("mcc_softmax_params", f"{oid}_params", p.c_fields())
        function = "mcc_softmax_s8"
    b.call(op, function, params, b.arena(x.name), str(rows), str(depth), b.arena(out.name))


def _lower_reshape(b: ProgramBuilder, i: int, op: Op) -> None:
    x, out = b.graph.tensor(op.inputs[0]), b.graph.output_tensor(op)
    kernel_params(b.graph, op, b.rounding)  # validates equal quantization
    if b.offsets[x.name] != b.offsets[out.name]:
        b.call(op, "mcc_copy_s8", b.arena(x.name), b.arena(out.name), str(out.nbytes))


def _lower_mean(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    x, out = g.tensor(op.inputs[0]), g.output_tensor(op)
    p = b.checked_params(op)
    from mcucompress.quantize.reduce_max import spatial_plane

    plane = spatial_plane(x.shape, p.axes)  # (1, T, C) over the steps: a 1-high plane
    if plane is None:
        raise McuError(f"op '{op.name}' (mean): only the mean over height and width of an NHWC "
                       f"tensor is supported, got axes {p.axes} of shape {x.shape}")
    params = b.struct("mcc_mean_params", f"{_op_id(i, op)}_params", p.c_fields())
    b.call(op, "mcc_mean_s8", params, b.dims_of(plane), b.arena(x.name), b.arena(out.name))


def _lower_relu(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    x, out = g.tensor(op.inputs[0]), g.output_tensor(op)
    p = kernel_params(g, op, b.rounding)
    params = b.struct("mcc_requantize_params", f"{_op_id(i, op)}_params", p.c_fields())
    b.call(op, "mcc_requantize_s8", params, b.arena(x.name), b.arena(out.name), str(out.size))


def _lower_pad(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    x, out = g.tensor(op.inputs[0]), g.output_tensor(op)
    p = kernel_params(g, op, b.rounding)
    pads = tuple(tuple(pair) for pair in p.paddings)
    x_shape, out_shape = tuple(x.shape), tuple(out.shape)
    if len(pads) == 3:  # (1, T, C) padded along the steps (causal Conv1D): a 1-high plane
        pads, x_shape, out_shape = ((0, 0),) + pads, (1,) + x_shape, (1,) + out_shape
    if len(pads) != 4 or pads[0] != (0, 0) or pads[3] != (0, 0):
        raise McuError(f"op '{op.name}' (pad): only height and width padding of an NHWC tensor "
                       f"is supported, got {pads}")
    oid = _op_id(i, op)
    name = f"{b.prefix}_{oid}_pads"
    b.decls.append(CDecl("int32_t", name + "[4]",
                         f"{{{pads[1][0]}, {pads[1][1]}, {pads[2][0]}, {pads[2][1]}}}"))
    b.call(op, "mcc_pad_s8", b.dims_of(x_shape), b.arena(x.name), name,
           f"(int8_t){p.pad_value}", b.dims_of(out_shape), b.arena(out.name))


def _lower_concat(b: ProgramBuilder, i: int, op: Op) -> None:
    g = b.graph
    out = g.output_tensor(op)
    p = kernel_params(g, op, b.rounding)
    if p.axis != len(out.shape) - 1:
        raise McuError(f"op '{op.name}' (concat): only concatenation along the last axis is supported")
    inputs = [g.tensor(n) for n in op.inputs]
    if any(t.is_constant for t in inputs):
        raise McuError(f"op '{op.name}' (concat): constant inputs are not supported")
    oid = _op_id(i, op)
    pointers = f"{b.prefix}_{oid}_inputs"
    channels = f"{b.prefix}_{oid}_channels"
    b.decls.append(CDecl("int8_t *const", pointers + f"[{len(inputs)}]",
                         "{" + ", ".join(b.arena(t.name) for t in inputs) + "}"))
    b.decls.append(CDecl("int32_t", channels + f"[{len(inputs)}]",
                         "{" + ", ".join(str(t.shape[-1]) for t in inputs) + "}"))
    b.call(op, "mcc_concat_channels_s8", pointers, channels,
           str(len(inputs)), str(out.size // out.shape[-1]), b.arena(out.name))


def _port(graph: Graph, name: str, offsets: dict) -> Port:
    t = graph.tensor(name)
    if t.dtype != "int8" or t.quant is None:
        raise McuError(f"model port '{name}' must be a quantized int8 tensor, not {t.dtype}")
    return Port(tuple(int(s) for s in t.shape), t.nbytes, float(t.quant.scale[0]), int(t.quant.zero_point[0]),
                offsets[name])


def check_graph(graph: Graph) -> None:
    """Refuse graphs code generation cannot handle, with one-line reasons."""
    if not graph.inputs or not graph.outputs:
        raise McuError("the model needs at least one input and one output")
    if len(set(graph.outputs)) != len(graph.outputs) or set(graph.inputs) & set(graph.outputs):
        raise McuError("a model output is another output or an input; the C API needs distinct buffers")
    for op in graph.ops:
        kind = op_kind(op.kind)
        if kind is None or kind.lowering is None:
            raise McuError(f"op '{op.name}': '{op.kind}' is not supported by the C code generator")
    for t in graph.activations():
        if t.dtype != "int8":
            raise McuError(f"tensor '{t.name}' is {t.dtype}; the C code generator needs an int8 graph")


def lower(graph: Graph, prefix: str, rounding: str = "tflm", cpu: str | None = None) -> Program:
    """Kernels chosen once (specialize.choose_kernels) for the core ``cpu`` (None: a tree for
    any core), then the arena planned around their scratch (memory/arena.py), then every op
    lowered by its kind's lowering (ir/ops.py)."""
    check_graph(graph)
    choices = _specialize.choose_kernels(graph, rounding, cpu)
    memory, offsets = plan_memory(graph, choices)
    b = ProgramBuilder(graph, prefix, rounding, offsets, choices, planes=_specialize.planes_target(cpu),
                       pairs=_specialize.pairs_target(cpu))
    headers, layers = set(), []
    for i, op in enumerate(graph.ops):
        kind = op_kind(op.kind)
        first = len(b.calls)
        kind.resolve("lowering")(b, i, op)
        headers.update(kind.headers)
        layers.append(_layer(graph, op, b.calls[first:], choices[i]))
    files = {KERNEL_SOURCES[k] for k in b.kernels}
    files = sorted(files | {KERNEL_BODIES[f] for f in files if f in KERNEL_BODIES} | headers)
    return Program(tuple(b.arrays), tuple(b.decls), tuple(b.calls), tuple(RUNTIME_HEADERS) + tuple(files),
                   memory, offsets, tuple(_port(graph, n, offsets) for n in graph.inputs),
                   tuple(_port(graph, n, offsets) for n in graph.outputs), rounding == "litert", tuple(layers),
                   tuple(b.states), tuple(sorted(b.defines.items())), tuple(text for _, text in b.functions))


def _layer(graph: Graph, op: Op, calls, choice) -> Layer:
    # A layer may make several calls (a fast kernel, then the channels it leaves to
    # mcc_conv2d_channels_s8); the manifest names them in call order, joined by '+'.
    return Layer(op.name, op.kind, "+".join(c.function for c in calls) if calls else None,
                 str(op.attrs.get(WEIGHT_ENCODING, "dense")), macs(graph, op),
                 getattr(choice.layer, "weight_layout", None) if choice is not None and calls else None)
