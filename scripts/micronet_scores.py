"""MicroNet scores of the models of docs/BENCHMARKS.md's binary / Q-format (issue 7) and fit /
Deep Compression (issue 11) tables, without the QEMU runs of their benchmark scripts.

    cd <repo> && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/micronet_scores.py \\
        [autoencoder] [lenet] [qformat] [binary] [binary_dense] [deep_cnn] [--epochs N]

Each model is built as its benchmark script builds it (the same builders), exported as there and
scored with report.micronet.tree_micronet, what `mcucompress info TREE` prints (CIFAR-100 track,
WideResNet-28-10 = 2). The benchmark scripts record the same score on their full runs. A score
depends on the model's structure, bit widths and zero weights, not on how well it is trained:
--epochs (default 1) shortens the trainings of binary and deep_cnn (the pruned + clustered CNN
keeps its 80% sparsity and 15 clusters whatever the epochs).

- autoencoder: scripts/bench_fit.py's int8 autoencoder, default (fit), speed and size exports
  for mps2-an386, fit and size for lm3s6965evb.
- lenet: scripts/bench_fit.py's LeNet-300-100 models (scripts/bench_encoded.py's training, 92%
  pruned + 32 clusters, cached in build/bench_encoded), dense (none), fit and size for mps2-an386.
- qformat: scripts/bench_qformat.py's digits CNN (12 epochs), int8 and Q-format exports.
- binary: scripts/bench_binary.py's 784-512-512-512-10 binary MLP (int8 first and last layers).
- binary_dense: scripts/bench_binary.py's 1024x1024 int8 and binary Dense layers.
- deep_cnn: scripts/bench_deep_cnn.py's MNIST CNN, dense int8 and `compress --prune 0.8
  --cluster 15` exported with --optimize size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from mcucompress.export import export  # noqa: E402
from mcucompress.report.micronet import tree_micronet  # noqa: E402

MNIST = REPO.parent / "shared" / "datasets" / "mnist10k.npz"


def _score(tree: Path) -> dict:
    return tree_micronet(tree).as_dict()


def autoencoder(work: Path, epochs: int) -> dict:
    import bench_fit

    graph = bench_fit.autoencoder()
    exports = {"mps2-an386 default (fit)": ("mps2-an386", {}), "mps2-an386 --optimize speed": ("mps2-an386", {"optimize": "speed"}),
               "mps2-an386 --optimize size": ("mps2-an386", {"optimize": "size"}),
               "lm3s6965evb default (fit)": ("lm3s6965evb", {}), "lm3s6965evb --optimize size": ("lm3s6965evb", {"optimize": "size"})}
    return {label: _score(export(graph, work / f"ae{i}", prefix="autoencoder", board=board, **options))
            for i, (label, (board, options)) in enumerate(exports.items())}


def lenet(work: Path, epochs: int) -> dict:
    import bench_fit

    dense, compressed = bench_fit.lenet_graphs(work, str(MNIST))
    exports = {"dense int8 (--optimize none)": (dense, {"optimize": "none"}),
               "pruned + clustered, default (fit)": (compressed, {}),
               "pruned + clustered, --optimize size": (compressed, {"optimize": "size"})}
    return {label: _score(export(graph, work / f"lenet{i}", prefix="lenet", board="mps2-an386", **options))
            for i, (label, (graph, options)) in enumerate(exports.items())}


def qformat(work: Path, epochs: int) -> dict:
    from mcucompress.demo import CALIBRATION_SAMPLES, load_digits_data, train_digits_cnn

    data = load_digits_data()
    model = train_digits_cnn(data, epochs=12)
    model.save(work / "digits.keras")
    np.savez(work / "calib.npz", x=data.x_train[:CALIBRATION_SAMPLES])
    return {scheme: _score(export(work / "digits.keras", work / scheme, calib=work / "calib.npz", prefix="digits",
                                  quantize=scheme)) for scheme in ("int8", "qformat")}


def binary(work: Path, epochs: int) -> dict:
    import keras

    import bench_binary
    from mcucompress.binary.convert import convert
    from mcucompress.report.micronet import keras_micronet

    d = np.load(MNIST)
    x, y = d["x_train"].astype(np.float32) / 255.0, d["y_train"]
    scores = {}
    for kind in ("float", "binary"):
        keras.utils.set_random_seed(0)
        model = bench_binary._mlp(kind, 512, 3)
        model.compile(keras.optimizers.Adam(0.005), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=epochs, batch_size=100, verbose=0)
        if kind == "float":
            scores["float MLP (float32 Keras)"] = keras_micronet(model)
        else:
            graph = convert(model, x[:1000]).replace(name="bmlp")
            scores["binary MLP (deployed)"] = _score(export(graph, work / "bmlp", prefix="bmlp"))
    return scores


def binary_dense(work: Path, epochs: int) -> dict:
    import bench_binary

    graphs = {"1024x1024 int8 Dense": bench_binary.int8_dense(1024),
              "1024x1024 binary Dense (with its input binarization)": bench_binary.binary_dense(1024, "csa")}
    return {label: _score(export(graph, work / graph.name, prefix=graph.name)) for label, graph in graphs.items()}


def deep_cnn(work: Path, epochs: int) -> dict:
    import bench_deep_cnn

    base, comp = work / "cnn.keras", work / "cnn_deep.keras"
    bench_deep_cnn.train_baseline(base, MNIST, epochs)
    bench_deep_cnn.cli("compress", base, "-o", comp, "--data", MNIST, "--prune", 0.8, "--cluster", 15,
                       "--epochs", epochs, "-q")
    d = np.load(MNIST)
    np.savez(work / "calib.npz", x=d["x_train"][:500].astype(np.float32)[..., None] / 255.0)
    scores = {}
    for label, model, flags in (("dense int8 (--optimize none)", base, ["--optimize", "none"]),
                                ("pruned 80% + 15 clusters, --optimize size", comp, ["--optimize", "size"])):
        tree = work / label.split()[0]
        bench_deep_cnn.cli("export", model, "-o", tree, "--calib", work / "calib.npz", "--prefix", "cnn", *flags)
        scores[label] = _score(tree)
    return scores


SECTIONS = {"autoencoder": autoencoder, "lenet": lenet, "qformat": qformat, "binary": binary, "binary_dense": binary_dense, "deep_cnn": deep_cnn}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", choices=sorted(SECTIONS), default=sorted(SECTIONS))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="micronet-scores-") as folder:
        for name in args.sections:
            work = Path(folder) / name
            work.mkdir()
            results[name] = SECTIONS[name](work, args.epochs)
            for label, score in results[name].items():
                print(f"{name}: {label}: " + (f"MicroNet score {score['score']:.4g} ({score['params']:,.0f} effective "
                                              f"32-bit parameters, {score['ops']:,.0f} ops)" if "score" in score
                                              else f"no score: {score['error']}"), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
