"""`mcucompress boards`: placeholder until the boards issue lands (lists board files)."""

import click

from mcucompress.resources import boards_dir


@click.command(help="List the supported boards with their memories.")
def command():
    for path in sorted(boards_dir().glob("*.yaml")):
        click.echo(path.stem)
