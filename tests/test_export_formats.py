"""`export --format cmake|arduino|zephyr`: the Arduino library compiles and links with
arm-none-eabi-gcc under the flags of the Arduino cores for an M0+ and an M4 board (the cores
themselves are not installed here: a stub Arduino.h stands in for the core's API), and its sketch
built on the host prints the reference outputs; the Zephyr module's CMakeLists.txt builds in a stub
CMake project that defines the zephyr_* functions it calls (no Zephyr SDK here)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from mcucompress.cli import cli
from mcucompress.targets.manifest import read_manifest
from mcucompress.targets.references import reference_outputs
from test_fast_graphs import layer_zoo

STUB = Path(__file__).parent / "fixtures" / "arduino_stub"
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-g++") is None, reason="needs arm-none-eabi-g++")

# compiler.c.flags / compiler.cpp.flags of the Arduino cores' platform.txt (warnings at "All").
ARDUINO_CORES = {
    "Arduino Zero (SAMD core, Cortex-M0+)": dict(
        common=["-mcpu=cortex-m0plus", "-mthumb", "-g", "-Os", "-Wall", "-Wextra", "-ffunction-sections",
                "-fdata-sections", "-nostdlib", "--param", "max-inline-insns-single=500", "-DF_CPU=48000000L",
                "-DARDUINO=10607", "-DARDUINO_SAMD_ZERO", "-DARDUINO_ARCH_SAMD", "-D__SAMD21G18A__"],
        c=["-std=gnu11"],
        cpp=["-std=gnu++11", "-fno-threadsafe-statics", "-fno-rtti", "-fno-exceptions"],
        link=["-mcpu=cortex-m0plus", "-mthumb"]),
    "Arduino Nano 33 BLE (mbed core, Cortex-M4F)": dict(
        common=["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16", "-Os", "-g3",
                "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections", "-fmessage-length=0",
                "-funsigned-char", "-DARDUINO=10607", "-DARDUINO_ARDUINO_NANO33BLE", "-DARDUINO_ARCH_MBED"],
        c=["-std=gnu11"],
        cpp=["-std=gnu++14", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"],
        link=["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"]),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from mcucompress.export import export
    root = tmp_path_factory.mktemp("formats")
    return {fmt: export(layer_zoo(), root / fmt, prefix="zoo", format=fmt) for fmt in ("cmake", "arduino", "zephyr")}


def _sketch_as_cpp(library: Path, out: Path) -> Path:
    """What the Arduino builder makes of a sketch: the .ino with Arduino.h included first."""
    sketch = next((library / "examples").glob("*/*.ino"))
    cpp = out / (sketch.stem + ".ino.cpp")
    cpp.write_text("#include <Arduino.h>\n" + sketch.read_text())
    return cpp


def _run(args, cwd):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, (" ".join(map(str, args)) + "\n" + result.stderr)[-3000:]
    return result.stdout


def test_cmake_format_is_the_plain_tree(exported):
    assert (exported["cmake"] / "CMakeLists.txt").is_file()
    assert not (exported["cmake"] / "arduino").exists() and not (exported["cmake"] / "zephyr").exists()


def test_arduino_library_layout(exported):
    library = exported["arduino"] / "arduino" / "zoo"
    properties = dict(line.split("=", 1) for line in (library / "library.properties").read_text().splitlines())
    assert properties["name"] == "zoo" and properties["includes"] == "zoo.h"
    assert {"version", "author", "maintainer", "sentence", "paragraph", "category", "architectures"} <= set(properties)
    src = library / "src"
    for header in ("zoo.h", "model.h", "mcc.h", "mcc_nn.h", "mcc_port.h"):
        assert (src / header).is_file(), header   # Arduino puts only src/ on the include path
    assert "#define MCC_SINGLE_ROUNDING 0" in (src / "mcc_port.h").read_text()
    for source in read_manifest(exported["arduino"]).sources:
        assert (src / source).is_file()
    assert (library / "examples" / "zoo_inference" / "zoo_inference.ino").is_file()


@needs_arm
@pytest.mark.parametrize("core", sorted(ARDUINO_CORES))
def test_arduino_library_builds_with_the_cores_flags(exported, tmp_path, core):
    flags = ARDUINO_CORES[core]
    library = exported["arduino"] / "arduino" / "zoo"
    src = library / "src"
    objects = []
    for source in sorted(src.rglob("*.c")):
        obj = tmp_path / (source.relative_to(src).as_posix().replace("/", "_") + ".o")
        _run(["arm-none-eabi-gcc", "-c", *flags["common"], *flags["c"], "-Werror", f"-I{src}", str(source),
              "-o", str(obj)], tmp_path)
        objects.append(obj)
    for source in (_sketch_as_cpp(library, tmp_path), STUB / "core_stub.cpp"):
        obj = tmp_path / (source.name + ".o")
        _run(["arm-none-eabi-g++", "-c", *flags["common"], *flags["cpp"], f"-I{src}", f"-I{STUB}", str(source),
              "-o", str(obj)], tmp_path)
        objects.append(obj)
    elf = tmp_path / "sketch.elf"
    _run(["arm-none-eabi-g++", *flags["link"], "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
          *map(str, objects), "-o", str(elf)], tmp_path)
    symbols = _run(["arm-none-eabi-nm", str(elf)], tmp_path)
    assert " T zoo_invoke\n" in symbols and " T _Z5setupv\n" in symbols   # setup() has C++ linkage, as in the cores


def _zero_point_input(manifest) -> np.ndarray:
    return np.full((1, manifest.input.bytes), manifest.input.zero_point, dtype=np.int8)


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_arduino_sketch_prints_the_reference_outputs(exported, tmp_path):
    library = exported["arduino"] / "arduino" / "zoo"
    src = library / "src"
    sources = [str(p) for p in sorted(src.rglob("*.c"))]
    objects = []
    for source in sources:
        obj = tmp_path / (Path(source).relative_to(src).as_posix().replace("/", "_") + ".o")
        _run(["gcc", "-c", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{src}", source, "-o", str(obj)],
             tmp_path)
        objects.append(str(obj))
    exe = tmp_path / "sketch"
    _run(["g++", "-std=gnu++11", "-O2", f"-I{src}", f"-I{STUB}", str(_sketch_as_cpp(library, tmp_path)),
          str(STUB / "core_stub.cpp"), *objects, "-o", str(exe)], tmp_path)
    printed = _run([str(exe)], tmp_path).splitlines()
    manifest = read_manifest(exported["arduino"])
    expected = reference_outputs(manifest, _zero_point_input(manifest))[0]
    assert printed[0] == "zoo: status 0, 0 us"
    assert printed[1].split() == [str(int(v)) for v in expected]
    assert printed[2] == f"largest output: {int(np.argmax(expected))}"


STUB_ZEPHYR = """cmake_minimum_required(VERSION 3.20)
project(stub_zephyr_app C)
# Stand-ins for the Zephyr build system (the Zephyr SDK is not installed here): Kconfig's output
# and the zephyr_* functions a module's CMakeLists.txt calls.
set({config} y)
add_library(zephyr_interface INTERFACE)
macro(zephyr_library_named name)
  set(ZEPHYR_CURRENT_LIBRARY ${{name}})
  add_library(${{name}} STATIC)
  target_link_libraries(${{name}} PUBLIC zephyr_interface)
endmacro()
function(zephyr_library_sources)
  target_sources(${{ZEPHYR_CURRENT_LIBRARY}} PRIVATE ${{ARGN}})
endfunction()
function(zephyr_include_directories)
  target_include_directories(zephyr_interface INTERFACE ${{ARGN}})
endfunction()
function(zephyr_library_compile_definitions)
  target_compile_definitions(${{ZEPHYR_CURRENT_LIBRARY}} PRIVATE ${{ARGN}})
endfunction()
add_subdirectory({module_cmake} module)
add_executable(app main.c)
target_link_libraries(app PRIVATE {library} zephyr_interface)
"""

STUB_MAIN = """#include <stdio.h>
#include "model.h"
int main(void)
{
    static int8_t input[ZOO_INPUT_BYTES], output[ZOO_OUTPUT_BYTES];
    unsigned i;
    for (i = 0; i < sizeof input; ++i) {
        input[i] = (int8_t)ZOO_INPUT_ZERO_POINT;
    }
    if (zoo_invoke(input, output) != 0) {
        return 1;
    }
    for (i = 0; i < sizeof output; ++i) {
        printf("%d\\n", output[i]);
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("gcc") is None, reason="needs cmake and gcc")
def test_zephyr_module_builds_in_a_stub_project(exported, tmp_path):
    tree = exported["zephyr"]
    module = yaml.safe_load((tree / "zephyr" / "module.yml").read_text())
    assert module["name"] == "mcc-zoo"
    cmake_dir = tree / module["build"]["cmake"]
    kconfig = (tree / module["build"]["kconfig"]).read_text()
    assert (cmake_dir / "CMakeLists.txt").is_file()
    symbol = kconfig.split("config ", 1)[1].split()[0]
    assert symbol == "MCC_ZOO" and "\tbool " in kconfig and f"CONFIG_{symbol}" in (cmake_dir / "CMakeLists.txt").read_text()
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(STUB_ZEPHYR.format(config=f"CONFIG_{symbol}", module_cmake=cmake_dir,
                                                           library="mcc_zoo"))
    (app / "main.c").write_text(STUB_MAIN)
    _run(["cmake", "-S", str(app), "-B", str(app / "build"), "-G", "Ninja"], tmp_path)
    _run(["cmake", "--build", str(app / "build")], tmp_path)
    printed = [int(v) for v in _run([str(app / "build" / "app")], tmp_path).split()]
    manifest = read_manifest(tree)
    assert printed == [int(v) for v in reference_outputs(manifest, _zero_point_input(manifest))[0]]


def test_unknown_format_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["export", "m.tflite", "-o", str(tmp_path / "o"), "--format", "keil"])
    assert result.exit_code == 2 and "keil" in result.output
