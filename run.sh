#!/usr/bin/env bash
# One entry point for people and CI:  bash run.sh demo   |   bash run.sh test [pytest args]
# Installs what is missing (Debian packages, a virtual environment in .venv, this package),
# then runs the demo or the test suite. Safe to run again; it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(cmake ninja-build gcc g++ clang gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm ccache)
VENV=.venv

install_debian_packages() {
  local missing=() installed
  # Debian's own python3 needs python3-venv for `python3 -m venv` (ensurepip); others ship it.
  # Asked only while the venv is still to be made (the import takes seconds on a busy machine).
  [ -x "$VENV/bin/python" ] || python3 -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
  # one dpkg query for the whole list: the names it reports installed, one a line
  installed=$'\n'$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null \
    | awk '/ install ok installed$/ {print $1}' || true)$'\n'
  for pkg in "${APT_PACKAGES[@]}"; do
    [[ "$installed" == *$'\n'"$pkg"$'\n'* ]] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "==> installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_python_packages() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  # uv (from PyPI, into the venv) installs the dependencies in parallel from its own cache: the
  # venv's set-up takes a fraction of pip's time, which counts most on CI's fresh clones.
  [ -x "$VENV/bin/uv" ] || "$VENV/bin/pip" install -q uv
  local uv=("$VENV/bin/uv" pip install -q --python "$VENV/bin/python")
  local site; site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  local stamp="$VENV/.deps-compiled-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing Python dependencies into $VENV (first run takes a few minutes)"
    # constraints.txt: the versions the tests last passed with (a fresh machine gets no newer ones)
    "${uv[@]}" --constraint constraints.txt scikit-build-core ".[test]"
    # Bytecode for every installed module, written once: uv writes none, and where
    # PYTHONDONTWRITEBYTECODE is set no process does, so each one compiled the sources again (a
    # TensorFlow import: about 12 s of CPU from source, 6 s from bytecode). compileall writes
    # it whatever that variable says.
    "$VENV/bin/python" -m compileall -q -j 0 "$site" >/dev/null || true
    touch "$stamp"
  fi
  # The package itself is rebuilt and reinstalled every time (seconds) so tests run what a user installs.
  "${uv[@]}" --no-deps --no-build-isolation --reinstall-package mcucompress . >/dev/null
  "$VENV/bin/python" -m compileall -q -j 0 "$site/mcucompress" >/dev/null || true
}

case "${1:-}" in
  demo)
    install_debian_packages; install_python_packages; shift
    exec "$VENV/bin/mcucompress" demo "$@" ;;
  test)
    install_debian_packages; install_python_packages; shift
    # every core, one test file per worker at a time (module fixtures are built once); -n 0 turns it off
    cd tests && exec "../$VENV/bin/python" -m pytest -q -p no:cacheprovider -n auto --dist loadfile "$@" ;;
  setup)
    install_debian_packages; install_python_packages ;;
  *)
    echo "usage: bash run.sh demo | test [pytest args] | setup" >&2; exit 2 ;;
esac
