"""Benchmark of Q-format export (issue 7). Not a test: it trains, cross-builds and emulates.

    PYTHONPATH=. .venv/bin/python scripts/bench_qformat.py [--epochs 12] [--samples 20] [--json]
    PYTHONPATH=. .venv/bin/python scripts/bench_qformat.py --resnet8
    PYTHONPATH=. .venv/bin/python scripts/bench_qformat.py --mnist

--mnist: a small CNN (Conv8-pool-Conv16-pool-Dense10, batch norm after each conv) trained for 3
epochs on the 8,000 training images of ../shared/datasets/mnist10k.npz; test accuracy on its
2,000 test images of the float model and of the host C builds of its int8 and Q-format exports.

--resnet8: MLPerf Tiny's float ResNet-8 (../shared/models/mlperf-tiny/pretrainedResnet.h5). No
CIFAR-10 images are available offline, so it is calibrated and tested on synthetic images (4x4
random colour blocks upsampled to 32x32, plus noise); reported is how far the logits of the
quantized graphs (numpy reference) are from the float logits: RMSE over 60 images, against the
logits' standard deviation, for Q-format per channel / per layer and int8. Then the Q-format
export and the converter's int8 pretrainedResnet_quant.tflite both run on lm3s6965evb (2 random
inputs each): instructions, flash, RAM, agreement with host / reference (/ TFLM for the .tflite).

The demo's digits CNN (scikit-learn 8x8 digits, 450 test images) is trained once, then exported
twice from the same .keras file and calibration set: int8 (TFLite's scheme) and Q-format
(``--quantize qformat``). For each: test accuracy of the host C build (and its byte-for-byte
agreement with the numpy reference); on lm3s6965evb (Cortex-M3, QEMU) the exact instructions of
one inference (the project's TCG plugin), flash and RAM, and agreement with host and reference;
and for rpi-pico (Cortex-M0+, no QEMU machine: cross-build only) flash and RAM. The disassembly
of each Cortex-M0+/M3 firmware is searched for 64-bit multiplies (SMULL/UMULL/SMLAL on M3, calls
to __aeabi_lmul on M0+) inside the conv / dense kernels. Q-format accuracy with one weight format
per layer instead of per channel is given too (numpy reference).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KERNELS = re.compile(r"^[0-9a-f]+ <(mcc_(?:conv2d|depthwise_conv2d|fully_connected)\w*_(?:s8|q7))>:\n(.*?)(?:\n\n|\Z)",
                     re.S | re.M)
WIDE_MULTIPLY = re.compile(r"\b(smull|umull|smlal|umlal)\b|__aeabi_lmul")


def wide_multiplies(elf: Path) -> dict[str, int]:
    """Kernel -> number of 64-bit multiply instructions or helper calls in its body."""
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    return {name: len(WIDE_MULTIPLY.findall(body)) for name, body in KERNELS.findall(listing)}


def accuracy_of_graph(graph, x: np.ndarray, y: np.ndarray) -> float:
    from mcucompress.quantize.params import quantize_input
    from mcucompress.reference.int8 import run_int8

    quant = graph.tensor(graph.inputs[0]).quant
    preds = [int(np.argmax(run_int8(graph, quantize_input(xi[None], quant)))) for xi in x]
    return float(np.mean(np.array(preds) == y))


def measure(work: Path, model_path: Path, calib: Path, test: Path, quantize: str, samples: int) -> dict:
    from mcucompress.export import export
    from mcucompress.report.micronet import tree_micronet
    from mcucompress.targets.firmware import write_firmware_project
    from mcucompress.targets.manifest import manifest_json
    from mcucompress.targets.runner import run_model
    from mcucompress.verify import verify

    tree = export(model_path, work / quantize, calib=calib, prefix="digits", quantize=quantize)
    host = verify(tree, test)
    m3 = run_model(tree, "lm3s6965evb", data=test, samples=samples)
    pico = write_firmware_project(tree, "rpi-pico")
    footprint = json.loads((pico / "footprint.json").read_text())
    return {
        "accuracy_host_c": host.accuracy,
        "host_identical_to_reference": host.ok,
        "arena_bytes": manifest_json(tree)["arena_bytes"],
        "micronet": tree_micronet(tree).as_dict(),
        "lm3s6965evb": {
            "instructions_min": min(m3.instructions), "instructions_max": max(m3.instructions),
            "instructions_mean": float(np.mean(m3.instructions)), "samples": m3.samples,
            "flash_bytes": m3.footprint.flash_bytes, "ram_bytes": m3.footprint.ram_bytes,
            "identical_to": m3.checks, "wide_multiplies": wide_multiplies(m3.elf),
        },
        "rpi-pico": {
            "flash_bytes": footprint.get("flash_bytes"), "ram_bytes": footprint.get("ram_bytes"),
            "wide_multiplies": wide_multiplies(pico / "build" / "digits_firmware.elf"),
        },
    }


def mnist_accuracies(epochs: int = 3) -> dict:
    import keras

    from mcucompress.export import export
    from mcucompress.verify import verify

    with np.load(REPO.parent / "shared" / "datasets" / "mnist10k.npz") as npz:
        x_train, y_train = (npz["x_train"] / 255.0).astype(np.float32)[..., None], npz["y_train"]
        x_test, y_test = (npz["x_test"] / 255.0).astype(np.float32)[..., None], npz["y_test"]
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    results = {"float": float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))}
    with tempfile.TemporaryDirectory(prefix="bench_qformat.") as folder:
        work = Path(folder)
        np.savez(work / "calib.npz", x=x_train[:200])
        np.savez(work / "test.npz", x=x_test, y=y_test)
        for scheme in ("int8", "qformat"):
            tree = export(model, work / scheme, calib=work / "calib.npz", prefix="mnist", quantize=scheme)
            report = verify(tree, work / "test.npz")
            results[scheme] = report.accuracy
            results[f"{scheme}_host_identical_to_reference"] = report.ok
    return results


def resnet8_on_m3(work: Path, calib: np.ndarray) -> dict:
    from mcucompress.export import export
    from mcucompress.targets.runner import run_model

    models = REPO.parent / "shared" / "models" / "mlperf-tiny"
    np.savez(work / "calib.npz", x=calib)
    trees = {"qformat": export(models / "pretrainedResnet.h5", work / "qformat", calib=work / "calib.npz",
                               prefix="resnet", quantize="qformat"),
             "int8_tflite": export(models / "pretrainedResnet_quant.tflite", work / "int8", prefix="resnet")}
    out = {}
    for name, tree in trees.items():
        report = run_model(tree, "lm3s6965evb", samples=2)
        out[name] = {"instructions": list(report.instructions), "flash_bytes": report.footprint.flash_bytes,
                     "ram_bytes": report.footprint.ram_bytes, "identical_to": report.checks}
    return out


def resnet8_logit_errors(images: int = 60) -> dict:
    from mcucompress.importers.keras import load_keras
    from mcucompress.passes import optimize
    from mcucompress.quantize.params import quantize_input
    from mcucompress.quantize.ptq import quantize_graph
    from mcucompress.quantize.qformat import quantize_qformat
    from mcucompress.reference.float import run_float
    from mcucompress.reference.int8 import run_int8

    graph = optimize(load_keras(REPO.parent / "shared" / "models" / "mlperf-tiny" / "pretrainedResnet.h5"))
    rng = np.random.default_rng(0)

    def synthetic(n: int) -> np.ndarray:
        blocks = rng.uniform(0, 1, (n, 4, 4, 3)).astype(np.float32)
        return np.repeat(np.repeat(blocks, 8, 1), 8, 2) + rng.normal(0, 0.05, (n, 32, 32, 3)).astype(np.float32)

    calib, test = synthetic(100), synthetic(images)
    logits = graph.ops[-1].inputs[0] if graph.ops[-1].kind == "softmax" else graph.outputs[0]
    want = run_float(graph, test, intermediates=True)[logits]
    results = {"logit_std": float(want.std())}
    with tempfile.TemporaryDirectory(prefix="bench_qformat.") as folder:
        results["lm3s6965evb"] = resnet8_on_m3(Path(folder), calib)
    for name, q in (("qformat_per_channel", quantize_qformat(graph, calib)),
                    ("qformat_per_layer", quantize_qformat(graph, calib, per_channel=False)),
                    ("int8", quantize_graph(graph, calib))):
        inq, out = q.tensor(q.inputs[0]).quant, q.tensor(logits).quant
        got = np.stack([(run_int8(q, quantize_input(x[None], inq), intermediates=True)[logits].astype(np.float64)
                         - out.zero_point[0]) * out.scale[0] for x in test])[:, 0]
        results[name] = float(np.sqrt(np.mean((got - want) ** 2)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=20, help="inputs run in QEMU")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--resnet8", action="store_true", help="logit errors on ResNet-8 instead")
    parser.add_argument("--mnist", action="store_true", help="accuracy of a small MNIST CNN instead")
    args = parser.parse_args()
    if args.mnist:
        r = mnist_accuracies()
        print(json.dumps(r, indent=2) if args.json else
              f"MNIST CNN test accuracy (2,000 images): float {r['float']:.4f}, int8 {r['int8']:.4f}, "
              f"Q-format {r['qformat']:.4f} (host C == reference: int8 {r['int8_host_identical_to_reference']}, "
              f"Q-format {r['qformat_host_identical_to_reference']})")
        return 0
    if args.resnet8:
        r = resnet8_logit_errors()
        print(json.dumps(r, indent=2) if args.json else
              f"ResNet-8 logit RMSE vs float (logit std {r['logit_std']:.3f}): Q-format per channel "
              f"{r['qformat_per_channel']:.3f}, per layer {r['qformat_per_layer']:.3f}, int8 {r['int8']:.3f}")
        if not args.json:
            for name, m3 in r["lm3s6965evb"].items():
                print(f"  lm3s6965evb {name}: {m3['instructions']} instructions, flash {m3['flash_bytes']:,} B, "
                      f"RAM {m3['ram_bytes']:,} B, identical to {m3['identical_to']}")
        return 0

    from mcucompress.demo import CALIBRATION_SAMPLES, load_digits_data, train_digits_cnn
    from mcucompress.importers.keras import load_keras
    from mcucompress.quantize.qformat import quantize_qformat

    data = load_digits_data()
    model = train_digits_cnn(data, epochs=args.epochs)
    float_accuracy = float(np.mean(np.argmax(model.predict(data.x_test, verbose=0), axis=1) == data.y_test))
    with tempfile.TemporaryDirectory(prefix="bench_qformat.") as folder:
        work = Path(folder)
        model_path, calib, test = work / "digits.keras", work / "calib.npz", work / "test.npz"
        model.save(model_path)
        np.savez(calib, x=data.x_train[:CALIBRATION_SAMPLES])
        np.savez(test, x=data.x_test, y=data.y_test)
        per_layer = quantize_qformat(load_keras(model), data.x_train[:CALIBRATION_SAMPLES], per_channel=False)
        results = {
            "float_accuracy": float_accuracy,
            "qformat_per_layer_accuracy_reference": accuracy_of_graph(per_layer, data.x_test, data.y_test),
            "int8": measure(work, model_path, calib, test, "int8", args.samples),
            "qformat": measure(work, model_path, calib, test, "qformat", args.samples),
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"float accuracy {float_accuracy:.4f}; Q-format with per-layer weight formats "
          f"{results['qformat_per_layer_accuracy_reference']:.4f} (numpy reference)")
    for scheme in ("int8", "qformat"):
        r = results[scheme]
        m3, pico = r["lm3s6965evb"], r["rpi-pico"]
        print(f"{scheme:8s} accuracy {r['accuracy_host_c']:.4f} (host C == reference: "
              f"{r['host_identical_to_reference']}), arena {r['arena_bytes']} B, "
              f"MicroNet score {r['micronet']['score']:.4g} (CIFAR-100 track)")
        print(f"         lm3s6965evb: {m3['instructions_min']:,}..{m3['instructions_max']:,} instructions "
              f"(mean {m3['instructions_mean']:,.0f}, {m3['samples']} inputs), flash {m3['flash_bytes']:,} B, "
              f"RAM {m3['ram_bytes']:,} B, identical to {m3['identical_to']}, "
              f"64-bit multiplies in kernels {m3['wide_multiplies']}")
        print(f"         rpi-pico (build only): flash {pico['flash_bytes']:,} B, RAM {pico['ram_bytes']:,} B, "
              f"64-bit multiply calls in kernels {pico['wide_multiplies']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
