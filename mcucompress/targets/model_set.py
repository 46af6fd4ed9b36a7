"""Several exported trees in one firmware and one QEMU run: what `run_model` checks for each,
with one cross-build, one host build and one QEMU start for the set.

Each firmware (and host harness) costs a CMake configure, a build and a QEMU start whatever the
model; a test that runs dozens of small models on one board spends most of its time there. The
set is itself an exported tree (`model_set`): links to the member trees, one glue function per
member (`model_set_glue_<k>`, the glue `run_model`'s firmware has, renamed), and a dispatcher
`model_set_invoke` that hands the harness's v-th vector to the member it belongs to. The harness,
vectors, host build, CMake project and QEMU run are `run_model`'s, unchanged. Vectors are padded
to the largest member's input and output (each member's input where a firmware of its own puts
it, modulo ALIGNMENT); each member's outputs are the first bytes of its own.

Each member is counted exactly, as `run_model` counts a model alone: from its
`<prefix>_invoke`'s first instruction to the return site in its glue function, a begin/end pair
of the same QEMU run (`targets/count_region.invoke_regions`).

Each member keeps its own defines (the fast paths, the portable switch): the firmware's CMake
project and the host build compile its sources into one relocatable object whose symbols other
than `<prefix>_*` are made local (`ld -r`, `objcopy --keep-global-symbol`), so the members'
copies of the same runtime kernels, built with different defines, never meet at link time.
Members need distinct prefixes. A set whose build or run fails (a member that overflows the
board with the others, a fault) is split in two and each half run again, down to single trees
run alone by `run_model`, so a member's failure is its own.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.targets.board import Board, load_board
from mcucompress.targets.count_region import invoke_regions
from mcucompress.targets.glue import _find_header, glue_function
from mcucompress.targets.manifest import Manifest, read_manifest
from mcucompress.targets.runner import RunReport, _build_and_run, compare_outputs, run_model, select_inputs
from mcucompress.targets.workspace import firmware_workspace

SET_PREFIX = "model_set"
RUNTIME = "runtime/"


def _compatible(group: list[Manifest], manifest: Manifest) -> bool:
    """Whether ``manifest`` may join ``group``: a prefix of its own (the one global name of its
    object) and no early exits (the harness reports them only for a model alone)."""
    return not manifest.raw.get("exits") and all(m.prefix != manifest.prefix for m in group)


def group_trees(manifests: list[Manifest], board: Board, samples: int) -> list[list[int]]:
    """Indices of ``manifests`` in groups that can share one firmware (first fit, in order), each
    group's arenas within RAM_SHARE of the board's RAM beside the stack (a set that still does not
    fit is split when its link fails)."""
    room = RAM_SHARE * (board.ram.size - board.stack_bytes)
    groups: list[list[int]] = []

    def ram(group):
        members = [manifests[i] for i in group]
        return sum(m.arena_bytes or 0 for m in members) + max(m.output_bytes for m in members)

    for k, manifest in enumerate(manifests):
        for group in groups:
            if len(group) < MAX_MEMBERS and len(group) * samples < MAX_VECTORS and ram(group + [k]) <= room \
                    and _compatible([manifests[i] for i in group], manifest):
                group.append(k)
                break
        else:
            groups.append([k])
    return groups


# The counting plugin keeps 4096 passes (MAX_PASSES in icount.c): the set's invoke and a
# member's, per vector.
MAX_VECTORS = 2000
MAX_MEMBERS = 64
RAM_SHARE = 0.75


def write_set_tree(root: Path, manifests: list[Manifest], counts: list[int]) -> Path:
    """The `model_set` tree of ``manifests`` (``counts[k]`` vectors each, in order) in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    members, glue_files = [], []
    for k, manifest in enumerate(manifests):
        member = f"m{k}"
        (root / member).symlink_to(manifest.root, target_is_directory=True)
        members.append({"prefix": manifest.prefix, "sources": [f"{member}/{s}" for s in manifest.sources],
                        "include_dirs": [f"{member}/{d}" if d != "." else member for d in manifest.include_dirs],
                        "defines": manifest.defines})
        header, _ = _find_header(manifest)
        name = f"{SET_PREFIX}_glue_{k}.c"
        (root / name).write_text(
            f'/* member {k}: {manifest.prefix} */\n#include <string.h>\n#include <stdint.h>\n\n'
            f'#include "{member}/{header.relative_to(manifest.root).as_posix()}"\n\n'
            "extern volatile uint32_t mcc_bench_marker;\n\n"
            + glue_function(manifest, f"{SET_PREFIX}_glue_{k}"))
        glue_files.append(name)
    input_bytes = set_input_bytes(manifests)
    output_bytes = max(m.output_bytes for m in manifests)
    ends = np.cumsum(counts).tolist()
    starts = [0] + ends[:-1]
    (root / f"{SET_PREFIX}.h").write_text(
        "#include <stdint.h>\n\n"
        f"int {SET_PREFIX}_invoke(const int8_t *input, int8_t *output);\n")
    glues = [f"{SET_PREFIX}_glue_{k}" for k in range(len(manifests))]
    declarations = "".join(f"int {glue}(const int8_t *input, int8_t *output);\n" for glue in glues)
    cases = "".join(f"    case {k}u:\n        return {glue}(input, output);\n" for k, glue in enumerate(glues))
    (root / f"{SET_PREFIX}.c").write_text(f"""/* The harness's v-th vector goes to the member whose vectors hold it. */
#include <string.h>

#include "{SET_PREFIX}.h"

{declarations}
static const uint32_t starts[{len(manifests)}] = {{{", ".join(f"{n}u" for n in starts)}}};
static const uint32_t input_bytes[{len(manifests)}] = {{{", ".join(f"{m.input_bytes}u" for m in manifests)}}};
static uint32_t next_vector;

int {SET_PREFIX}_invoke(const int8_t *input, int8_t *output)
{{
    uint32_t member = {len(manifests) - 1}u;
    while (member > 0u && next_vector < starts[member]) {{
        --member;
    }}
    /* where the member's vector starts in its row: where it would start in a firmware of its
     * own (ALIGNMENT), so kernels and memcpy take the same aligned or unaligned paths */
    input += ((next_vector - starts[member]) * input_bytes[member]) % {ALIGNMENT}u;
    ++next_vector;
    memset(output, 0, {output_bytes}u);
    switch (member) {{
{cases}    default:
        return -1;
    }}
}}
""")
    manifest = {
        "prefix": SET_PREFIX,
        "sources": glue_files + [f"{SET_PREFIX}.c"],
        "include_dirs": ["."],
        "members": members,
        "input": {"bytes": input_bytes, "shape": [input_bytes], "scale": None, "zero_point": None},
        "output": {"bytes": output_bytes, "shape": [output_bytes], "scale": None, "zero_point": None},
        "rounding": manifests[0].rounding,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return root


# A model alone reads its v-th vector at v * input bytes from the start of the harness's vectors
# (word-aligned); the set's rows are ALIGNMENT-aligned and a member's v-th vector starts at that
# offset modulo ALIGNMENT inside its row.
ALIGNMENT = 8


def set_input_bytes(manifests: list[Manifest]) -> int:
    """The set's row: the largest member's input, a multiple of ALIGNMENT, room for the shift."""
    return -(-max(m.input_bytes for m in manifests) // ALIGNMENT) * ALIGNMENT + ALIGNMENT


def _rows(inputs: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(inputs), width), dtype=np.int8)
    for v, row in enumerate(inputs):
        shift = v * len(row) % ALIGNMENT
        out[v, shift:shift + len(row)] = row
    return out


def _run_set(manifests: list[Manifest], board: Board, samples: int, data: list) -> list[RunReport]:
    inputs = [select_inputs(m, d, samples) for m, d in zip(manifests, data)]
    with tempfile.TemporaryDirectory(prefix="mcc-set-") as tmp:
        tree = write_set_tree(Path(tmp) / "set", manifests, [len(x) for x in inputs])
        combined = read_manifest(tree)
        padded = np.concatenate([_rows(x, combined.input_bytes) for x in inputs])
        glues = {f"{SET_PREFIX}_glue_{k}": m.prefix for k, m in enumerate(manifests)}
        regions = {}

        def member_regions(elf):
            regions.update(invoke_regions(elf, glues))
            return [regions[glue] for glue in glues]

        with firmware_workspace(combined.root, board) as project:
            host, elf, footprint, result, _, passes = _build_and_run(project, combined, board, padded,
                                                                     regions_of=member_regions)
            # the ELF goes with the temporary tree's workspace: the reports keep no path to it
    if len(result.outputs) != len(padded) or len(passes) != len(padded):
        raise McuError(f"the set's run printed {len(result.outputs)} outputs and counted {len(passes)} "
                       f"invokes for {len(padded)} vectors")
    target = np.frombuffer(b"".join(result.outputs), dtype=np.int8).reshape(len(padded), -1)
    counts: dict[int, list[int]] = {}
    for member, count in passes:
        counts.setdefault(member, []).append(count)
    reports, start = [], 0
    for k, (manifest, x) in enumerate(zip(manifests, inputs)):
        rows = slice(start, start + len(x))
        start += len(x)
        own_target = target[rows, :manifest.output_bytes].copy()
        own_host = host[rows, :manifest.output_bytes].copy()
        instructions = tuple(counts.get(k, ()))
        if len(instructions) != len(x):
            raise McuError(f"member {manifest.prefix} was counted {len(instructions)} times for {len(x)} vectors")
        reports.append(RunReport(board, manifest.prefix, len(x), instructions, True, footprint,
                                 compare_outputs(manifest, x, own_target, own_host), None, x, own_target))
    return reports


def _run_or_split(manifests: list[Manifest], board: Board, samples: int, data: list) -> list:
    if len(manifests) == 1:
        try:
            return [run_model(manifests[0].root, board, data=data[0], samples=samples)]
        except McuError as error:
            return [error]
    try:
        return _run_set(manifests, board, samples, data)
    except McuError:
        half = len(manifests) // 2
        return (_run_or_split(manifests[:half], board, samples, data[:half])
                + _run_or_split(manifests[half:], board, samples, data[half:]))


def run_models(trees, board_name: str | Board, samples: int = 2, data=None) -> list:
    """A RunReport (or the McuError a run of that tree alone raised) per tree, in order: the
    checks and instruction counts `run_model(tree, board, data, samples)` makes, from as few
    firmwares as the trees allow (``data``: None, or each tree's samples file or None). A
    report's footprint is its set's firmware's, and it has no ELF path (the set's tree is
    temporary)."""
    board = load_board(board_name) if isinstance(board_name, str) else board_name
    if board.qemu_machine is None:
        raise McuError(f"board {board.name} has no QEMU machine; use `mcucompress flash` for it")
    manifests = [read_manifest(tree) for tree in trees]
    data = list(data) if data is not None else [None] * len(manifests)
    results: list = [None] * len(manifests)
    for group in group_trees(manifests, board, samples):
        for k, result in zip(group, _run_or_split([manifests[k] for k in group], board, samples,
                                                  [data[k] for k in group])):
            results[k] = result
    return results
