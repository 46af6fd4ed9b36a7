"""The one C function the harness calls, adapted to the model library's public API.

The glue never tail-calls the model (it writes a marker after the call) so that the instruction
after its call to `<prefix>_invoke` is where the model returns to: the instruction counter counts
from the model's first instruction to that return address, i.e. exactly one invoke.

The manifest names the prefix but not the calling convention, so the header that declares
`<prefix>_invoke` is found in the include directories and its prototype decides the glue:
  int <prefix>_invoke(const int8_t *input, int8_t *output)        -> called directly
  int <prefix>_invoke(const int8_t *input0, ..., int8_t *output0, ...) (several ports) -> likewise,
      each port's bytes where it lies in the sample
  int <prefix>_invoke(void) with <prefix>_input() / <prefix>_output() buffers -> copy in and out
"""

from __future__ import annotations

import re
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.manifest import Manifest


def _find_header(manifest: Manifest) -> tuple[Path, str]:
    pattern = re.compile(rf"\b\w[\w\s\*]*\b{re.escape(manifest.prefix)}_invoke\s*\(([^)]*)\)\s*;")
    for include_dir in manifest.include_dirs:
        for header in sorted((manifest.root / include_dir).glob("*.h")):
            if not re.fullmatch(r"[A-Za-z0-9_.+-]+", header.name):  # it is written into an #include line
                continue
            match = pattern.search(header.read_text(errors="replace"))
            if match:
                return header, match.group(1)
    raise McuError(f"no header in {list(manifest.include_dirs)} declares {manifest.prefix}_invoke()")


def model_glue_source(manifest: Manifest, banner: str) -> str:
    header, _ = _find_header(manifest)
    head = f'/* {banner} */\n#include <string.h>\n\n#include "mcc_harness.h"\n#include "{header.name}"\n\n'
    return head + glue_function(manifest, "mcc_glue_invoke")


def glue_function(manifest: Manifest, name: str) -> str:
    """The C function ``name(input, output)`` that runs the model once (see the module's
    docstring); its file includes <string.h>, the model's header and declares mcc_bench_marker."""
    header, params = _find_header(manifest)
    prefix = manifest.prefix
    params = " ".join(params.split())
    if params in ("", "void"):
        return f"""int {name}(const int8_t *input, int8_t *output)
{{
    int rc;
    memcpy({prefix}_input(), input, {manifest.input_bytes}u);
    rc = {prefix}_invoke();
    mcc_bench_marker = 3u;
    memcpy(output, {prefix}_output(), {manifest.output_bytes}u);
    return rc;
}}
"""
    ports = len(manifest.inputs) + len(manifest.outputs)
    if params.count(",") == ports - 1:
        return f"""int {name}(const int8_t *input, int8_t *output)
{{
    int rc = (int){prefix}_invoke({port_arguments(manifest)});
    mcc_bench_marker = 3u;
    return rc;
}}
"""
    raise McuError(f"{header.name}: unsupported {prefix}_invoke({params}) signature")


def port_arguments(manifest: Manifest) -> str:
    """`input, output` for one port each; with several, a pointer to each port in the sample's
    inputs (outputs) laid back to back."""
    if len(manifest.inputs) == 1 and len(manifest.outputs) == 1:
        return "input, output"
    args = []
    for buffer, ports in (("input", manifest.inputs), ("output", manifest.outputs)):
        start = 0
        for port in ports:
            args.append(f"{buffer} + {start}")
            start += port.bytes
    return ", ".join(args)


def invoke_prototype(manifest: Manifest) -> tuple[str, bool]:
    """The name of the header that declares `<prefix>_invoke`, and whether the call takes the
    input and output pointers (else the model has `<prefix>_input()` / `<prefix>_output()`)."""
    header, params = _find_header(manifest)
    params = " ".join(params.split())
    return header.name, params not in ("", "void")
