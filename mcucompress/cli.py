"""`mcucompress` command line. The only module that prints.

Each subcommand lives in `mcucompress/commands/<name>.py` as a click command named `command`;
it is imported only when used, so `mcucompress boards` does not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from mcucompress import __version__
from mcucompress.errors import McuError
from mcucompress.plain_text import visible
from mcucompress.quiet import preload_tensorflow

SUBCOMMANDS = {
    "export": "Quantize a model and write a self-contained C source tree.",
    "verify": "Build an exported tree on the host and compare it byte for byte with the references.",
    "info": "Per-layer table of a model or an exported tree: ops, shapes, MACs, bytes, arena.",
    "compress": "Prune, cluster, factorize or distill a Keras model.",
    "run": "Cross-build for a board, run on its QEMU machine and count instructions.",
    "bench": "Instruction counts, flash and RAM per model and core.",
    "flash": "Flash an exported firmware project to a board through pyOCD or OpenOCD.",
    "boards": "List the supported boards with their memories.",
    "demo": "Export, build and run a small model on an emulated Cortex-M and print a report.",
}
# Commands that load TensorFlow: it is imported up front with its native logging silenced.
NEEDS_TENSORFLOW = {"export", "verify", "info", "compress", "demo"}
# Commands that run TensorFlow's converter or the reference interpreters in the serving child:
# when the command line is the process's own, the child is forked from it once TensorFlow is
# imported, before the command runs anything with it.
CHECKS_AGAINST_REFERENCES = {"verify", "demo"}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in SUBCOMMANDS if _module_exists(name)]

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS or not _module_exists(name):
            return None
        if name in NEEDS_TENSORFLOW and not ctx.resilient_parsing:
            preload_tensorflow()
            if name in CHECKS_AGAINST_REFERENCES and (ctx.obj or {}).get("own_process"):
                from mcucompress.reference.serving_child import start_here

                start_here()
        return importlib.import_module(f"mcucompress.commands.{name}").command


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"mcucompress.commands.{name}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mcucompress")
def cli():
    """Compress Keras and int8 TFLite models into verified C for Cortex-M microcontrollers."""


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter is not for our users
    try:
        # Without argv the command line is this process's own (the console script, python -m):
        # no host program's threads run beside it, so the serving child may be forked from it.
        status = cli.main(args=argv, prog_name="mcucompress", standalone_mode=False,
                          obj={"own_process": argv is None})
    except McuError as error:  # names from files may hold controls: the line stays one plain line
        click.echo(f"error: {visible(error)}", err=True)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except NO_ARGS_IS_HELP as error:  # `mcucompress` alone: the help text is the answer
        error.show()
        return 2
    except click.ClickException as error:  # bad command line: one line like every other user error
        click.echo(f"error: {visible(_one_line(error))}", err=True)
        return 2
    return status if isinstance(status, int) else 0


NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


def _one_line(error: click.ClickException) -> str:
    message = " ".join(error.format_message().split())
    ctx = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


if __name__ == "__main__":
    sys.exit(main())
