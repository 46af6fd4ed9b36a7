"""Options shared by several commands."""

import click

unsafe_deserialization_option = click.option(
    "--unsafe-deserialization", is_flag=True, default=False,
    help="Load Keras files that carry Python code (Lambda layers, modules outside Keras). "
         "Such code runs on this machine: use only for files you trust.")

boards_dir_option = click.option(
    "--boards-dir", type=click.Path(file_okay=False, exists=True), default=None,
    help="A folder of your own board files (NAME.yaml, checked against the board schema); "
         "--board looks there first, then among the shipped boards.")

OPTIMIZE_CHOICES = ("size", "speed", "none")
OPTIMIZE_HELP = ("Weight encoding of each fully connected layer (dense, sparse CSR, codebook, Huffman): "
                 "fewest bytes, fewest estimated instructions, or dense everywhere.")
