"""The one exception type users see.

Anything that is the user's problem (a corrupt model, an unsupported layer, data of the wrong
shape, a model that does not fit a board, a missing tool) raises McuError with a one-line message
that names the problem. The CLI prints it and exits with status 2; tracebacks are for our bugs.
"""


class McuError(Exception):
    """A problem with the user's input or environment, reported as one line."""

    exit_code = 2
