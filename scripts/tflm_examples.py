"""Export tflite-micro's own example models (../shared/models/tflm-examples) and compare the C with
tflite-micro byte for byte; write docs/benchmarks/tflm_examples.md.

Each model gets deterministic int8 inputs, one batch per input port: MNIST test digits for
mnist_lstm, consecutive magnitude-spectrum frames of a noisy voiced signal for dtln (one frame
per invocation, its LSTM state carried from frame to frame as in the example), inputs shaped like
data (mcucompress.data.synthetic_inputs) otherwise. A model either matches tflite-micro on every
byte or is refused with the exporter's one-line reason, which the table records.

    PYTHONPATH=. python scripts/tflm_examples.py [--samples 20] [--out docs/benchmarks/tflm_examples.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCUCOMPRESS_SHARED", REPO.parent / "shared"))

# file -> the tflite-micro example it ships with
EXAMPLES = {
    "hello_world_int8.tflite": "hello_world",
    "micro_speech_quantized.tflite": "micro_speech",
    "simple_add_model.tflite": "memory_footprint (two inputs)",
    "trained_lstm_int8.tflite": "mnist_lstm",
    "dtln_noise_suppression.tflite": "dtln",
    "audio_preprocessor_int8.tflite": "micro_speech's audio front end (stretch)",
}


def noisy_speech_spectra(frames: int, scale: float, zero_point: int, seed: int = 0) -> np.ndarray:
    """(frames, 1, 1, 257) int8: |rfft| of 512-sample Hann frames (hop 128, 16 kHz) of a voiced
    signal (ten harmonics of a gliding 120-220 Hz pitch, syllable-rate envelope) plus white noise,
    quantized like dtln's input."""
    rng = np.random.default_rng(seed)
    rate, size, hop = 16000, 512, 128
    t = np.arange(size + hop * (frames - 1)) / rate
    pitch = 170 + 50 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 11)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    signal = 0.05 * voiced + 0.01 * rng.normal(size=t.size)
    window = np.hanning(size)
    spectra = np.stack([np.abs(np.fft.rfft(signal[i * hop:i * hop + size] * window)) for i in range(frames)])
    q = np.round(spectra / scale) + zero_point
    return np.clip(q, -128, 127).astype(np.int8).reshape(frames, 1, 1, size // 2 + 1)


def realistic_inputs(name: str, port, samples: int, seed: int) -> np.ndarray:
    """Inputs like the example's data (see the module docstring) for one input port."""
    from mcucompress.data import synthetic_inputs

    if name == "trained_lstm_int8.tflite":  # the model's input: pixel / 255 with zero point -128
        digits = np.load(SHARED / "datasets" / "mnist10k.npz")["x_test"][seed:seed + samples]
        return (digits.astype(np.int16) - 128).astype(np.int8).reshape((samples,) + tuple(port.shape))
    if name == "dtln_noise_suppression.tflite":
        return noisy_speech_spectra(samples, port.scale, port.zero_point, seed).reshape(
            (samples,) + tuple(port.shape))
    return synthetic_inputs(port.shape, samples, seed=seed)


def measure(model: Path, samples: int, work: Path) -> dict:
    from mcucompress.data import port_array_names
    from mcucompress.errors import McuError
    from mcucompress.export import export
    from mcucompress.targets.manifest import read_manifest
    from mcucompress.verify import verify

    try:
        tree = export(model, work / "out")
    except McuError as error:
        return {"status": "refused", "detail": str(error).splitlines()[0].replace(str(SHARED), "shared")}
    ports = read_manifest(tree).inputs
    batches = [realistic_inputs(model.name, p, samples, seed=k) for k, p in enumerate(ports)]
    np.savez(work / "x.npz", **dict(zip(port_array_names("x", len(ports)), batches)))
    report = verify(tree, work / "x.npz")
    theirs = report.comparisons[-1]
    status = "byte-identical" if report.bit_exact and theirs.against == "tflite-micro" else "differs"
    detail = ", ".join(f"{c.against}: {c.mismatched_bytes} bytes differ" for c in report.comparisons)
    return {"status": status, "detail": f"{len(ports)} input(s), {report.samples} samples; {detail}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "tflm_examples.md")
    args = parser.parse_args(argv)
    rows = []
    for name, example in EXAMPLES.items():
        with tempfile.TemporaryDirectory(prefix="tflm_example_") as work:
            result = measure(SHARED / "models" / "tflm-examples" / name, args.samples, Path(work))
        rows.append((name, example, result))
        print(f"{name:34s} {result['status']}: {result['detail'][:150]}", flush=True)
    matched = sum(r["status"] == "byte-identical" for _, _, r in rows)
    command = "PYTHONPATH=. python scripts/tflm_examples.py" + (f" --samples {args.samples}" if args.samples != 20 else "")
    lines = ["# tflite-micro's example models", "",
             f"Produced by `{command}` (models from `../shared/models/tflm-examples`; MNIST test digits "
             "for mnist_lstm, consecutive noisy voiced-signal spectrum frames for dtln, synthetic int8 inputs "
             "shaped like data for the others). Each exported tree is built on the host and compared byte for byte with "
             "tflite-micro's Python interpreter running the same file.", "",
             f"**{matched} of {len(rows) - 1}** example models match tflite-micro byte for byte "
             "(the audio front end, TFLM's Signal custom ops, is the stretch goal and not counted).", "",
             "| file | example | result | detail |", "|---|---|---|---|"]
    lines_after = ["", "The two LSTM models use TFLM's integer `UNIDIRECTIONAL_SEQUENCE_LSTM` (int8 weights, "
                   "int16 gates and cell state; kind `lstm`, quantize/lstm_ops.py). Their hidden and cell "
                   "states are variable tensors that tflite-micro keeps from one invocation to the next; the "
                   "generated C keeps them in static buffers outside the arena (`<prefix>_reset()` restores "
                   "the start), and each row's samples are consecutive invocations in all three runs (numpy "
                   "reference, C, tflite-micro): dtln runs one spectrum frame per call."]
    lines += [f"| {name} | {example} | {r['status']} | {r['detail'].replace('|', '/')} |" for name, example, r in rows]
    args.out.write_text("\n".join(lines + lines_after) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from mcucompress.quiet import preload_tensorflow

    preload_tensorflow()
    sys.exit(main())
