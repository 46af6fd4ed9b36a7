"""`mcucompress export MODEL -o DIR`: write a self-contained C source tree."""

from __future__ import annotations

import json

import click

from mcucompress.commands.options import (OPTIMIZE_CHOICES, OPTIMIZE_HELP, boards_dir_option,
                                         unsafe_deserialization_option)
from mcucompress.encode.plan import int4_text, plan_text
from mcucompress.export import export
from mcucompress.targets.manifest import manifest_json


@click.command(help="Quantize a model (.tflite int8, .keras/.h5 with --calib) and write a "
                    "self-contained C source tree with its own CMakeLists.txt.")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write (replaced only if it holds nothing but an earlier export's unchanged files).")
@click.option("--calib", type=click.Path(dir_okay=False), default=None,
              help="NPZ with array 'x' of calibration inputs (Keras models).")
@click.option("--prefix", default="model", show_default=True, help="C name prefix of the model's API.")
@click.option("--rounding", type=click.Choice(["tflm", "litert"]), default="tflm", show_default=True,
              help="Match TensorFlow Lite Micro (tflm) or LiteRT (litert) byte for byte.")
@click.option("--board", default=None, help="Also write a firmware project for this board.")
@click.option("--optimize", type=click.Choice(OPTIMIZE_CHOICES), default="fit", show_default=True,
              help=OPTIMIZE_HELP)
@click.option("--flash-budget", type=click.IntRange(min=1), default=None, metavar="BYTES",
              help="Flash the image may take (with --board; default the board's flash), or without a board "
                   "the bytes the weights may take as stored.")
@click.option("--quantize", type=click.Choice(["int8", "qformat", "binary"]), default="int8",
              show_default=True,
              help="Keras models: TFLite's int8 scheme; Q-format fixed point (power-of-two scales, "
                   "shift-only requantization, for cores without DSP such as Cortex-M0+/M3); or binary "
                   "(networks trained with mcucompress.binary.layers, popcount chosen for --board).")
@click.option("--format", "fmt", type=click.Choice(["cmake", "arduino", "zephyr"]), default="cmake",
              show_default=True,
              help="Packaging for your build: the CMake tree alone; plus an Arduino library "
                   "(arduino/PREFIX/, with an example sketch); or plus a Zephyr module (zephyr/).")
@click.option("--int4", "int4", default=None, metavar="LAYERS",
              help="Re-quantize the weights of these fully connected / conv2d layers (comma-separated names, "
                   "or 'all') to 4 bits per output channel, stored two a byte (TFLite's INT4): half the flash "
                   "of int8, but other numbers, so never chosen by --optimize.")
@boards_dir_option
@unsafe_deserialization_option
def command(model, out_dir, calib, prefix, rounding, board, boards_dir, optimize, flash_budget, quantize, fmt,
            unsafe_deserialization, int4):
    if board is not None:
        from mcucompress.targets.board import load_board
        board = load_board(board, boards_dir)
    tree = export(model, out_dir, calib=calib, prefix=prefix, rounding=rounding, board=board,
                  optimize=optimize, quantize=quantize, unsafe_deserialization=unsafe_deserialization,
                  format=fmt, flash_budget=flash_budget, int4=_int4_layers(int4))
    manifest = manifest_json(tree)
    click.echo(f"wrote {tree}: {len(manifest['sources'])} C files, arena {manifest['arena_bytes']} bytes, "
               f"rounding {rounding}, quantization {manifest['quantization']}"
               + (f", firmware for {board.name}" if board else "")
               + {"arduino": f", Arduino library in {tree / 'arduino' / prefix}",
                  "zephyr": f", Zephyr module in {tree / 'zephyr'}"}.get(fmt, ""))
    plan = manifest.get("weight_plan")
    if plan and plan["weight_bytes"]:
        click.echo(f"  {plan_text(plan)}")
    int4_line = int4_text(manifest.get("weight_encodings") or {})
    if int4_line:
        click.echo(f"  {int4_line}")
    if board:
        footprint = json.loads((tree / "firmware" / board.name / "footprint.json").read_text())
        click.echo(f"  {footprint['summary']}")
    return 0


def _int4_layers(text):
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return "all" if names == ["all"] else names
