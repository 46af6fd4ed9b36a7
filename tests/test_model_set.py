"""Several exported trees in one firmware (targets/model_set.py, what the QEMU-heavy test modules
run through tests/qemu_sets.py): each tree's report is the one a firmware of its own gives, the
same outputs and the same instruction counts, with different defines side by side and inputs
that are not a whole number of words."""

import json
import shutil

import numpy as np
import pytest

from mcucompress.targets.manifest import manifest_json, read_manifest
from mcucompress.targets.model_set import group_trees, run_models
from mcucompress.targets.board import load_board
from mcucompress.targets.runner import run_model
from test_fast_graphs import GRAPHS

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]


def test_a_set_reports_what_each_tree_alone_reports(tmp_path):
    from mcucompress.export import export

    trees = [export(GRAPHS[name](), tmp_path / name, prefix=name) for name in ("layer_zoo", "pointwise_c8")]
    portable = tmp_path / "portable" / "layer_zoo"   # the same prefix: a firmware of its own
    shutil.copytree(trees[0], portable)
    manifest = manifest_json(portable)
    manifest["defines"]["MCC_FORCE_REFERENCE"] = 1
    (portable / "manifest.json").write_text(json.dumps(manifest))
    trees.append(portable)
    manifests = [read_manifest(tree) for tree in trees]
    assert manifests[0].defines != manifests[1].defines
    assert any(m.input_bytes % 4 for m in manifests)   # later vectors start off a word boundary
    assert group_trees(manifests, load_board("mps2-an386"), 3) == [[0, 1], [2]]
    for tree, together in zip(trees, run_models(trees, "mps2-an386", samples=3)):
        alone = run_model(tree, "mps2-an386", samples=3)
        assert together.checks == alone.checks == {"host": True, "reference": True}
        assert np.array_equal(together.inputs, alone.inputs)
        assert np.array_equal(together.outputs, alone.outputs)
        assert together.instructions == alone.instructions and together.exact_invoke
