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

OPTIMIZE_CHOICES = ("fit", "size", "speed", "none")
OPTIMIZE_HELP = ("Weight encoding of each fully connected and conv2d layer (dense, sparse CSR, codebook, "
                 "Huffman): fit = the fastest for --board's core, compressing the layers that cost the "
                 "fewest instructions per byte saved until the image fits the board's flash (or "
                 "--flash-budget); size = fewest bytes; speed = fewest estimated instructions; none = dense.")
