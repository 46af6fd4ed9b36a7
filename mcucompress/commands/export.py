"""`mcucompress export MODEL -o DIR`: write a self-contained C source tree."""

from __future__ import annotations

import json

import click

from mcucompress.commands.options import (OPTIMIZE_CHOICES, OPTIMIZE_HELP, boards_dir_option,
                                         unsafe_deserialization_option)
from mcucompress.export import export


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
@click.option("--optimize", type=click.Choice(OPTIMIZE_CHOICES), default="size", show_default=True,
              help=OPTIMIZE_HELP)
@click.option("--quantize", type=click.Choice(["int8", "qformat", "binary"]), default="int8",
              show_default=True,
              help="Keras models: TFLite's int8 scheme; Q-format fixed point (power-of-two scales, "
                   "shift-only requantization, for cores without DSP such as Cortex-M0+/M3); or binary "
                   "(networks trained with mcucompress.binary.layers, popcount chosen for --board).")
@boards_dir_option
@unsafe_deserialization_option
def command(model, out_dir, calib, prefix, rounding, board, boards_dir, optimize, quantize,
            unsafe_deserialization):
    if board is not None:
        from mcucompress.targets.board import load_board
        board = load_board(board, boards_dir)
    tree = export(model, out_dir, calib=calib, prefix=prefix, rounding=rounding, board=board,
                  optimize=optimize, quantize=quantize, unsafe_deserialization=unsafe_deserialization)
    manifest = json.loads((tree / "manifest.json").read_text())
    click.echo(f"wrote {tree}: {len(manifest['sources'])} C files, arena {manifest['arena_bytes']} bytes, "
               f"rounding {rounding}, quantization {manifest['quantization']}"
               + (f", firmware for {board.name}" if board else ""))
    if board:
        footprint = json.loads((tree / "firmware" / board.name / "footprint.json").read_text())
        click.echo(f"  {footprint['summary']}")
    return 0
