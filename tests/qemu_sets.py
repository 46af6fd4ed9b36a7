"""A test module's QEMU runs made together: every tree the module's selected cases run on a board
goes into as few firmwares as `targets/model_set.run_models` allows, built and run once, when
the first case asks for a run on that board. Each case then checks its own tree's report, so a
wrong output fails only the cases of that tree (their parametrized ids name them), and a tree
whose export or run failed raises its own error in the cases that read it. A run no case planned
is made when asked for, with the others asked for on that board since."""

from __future__ import annotations

from mcucompress.targets.model_set import run_models


def selected_params(request, test_name: str) -> list[dict]:
    """The parameters of each selected case of ``test_name`` in the requesting module (after -k
    and -m; under xdist's loadfile a module's cases all run in one worker)."""
    return [item.callspec.params for item in request.session.items
            if getattr(item, "originalname", None) == test_name and item.module is request.module]


class QemuSets:
    def __init__(self, samples: int, variant=None):
        """``variant(tree, **defines)``: a copy of ``tree`` built with extra defines."""
        self.samples = samples
        self._variant = variant
        self._makers = {}    # key -> zero-argument callable that exports the tree
        self._trees = {}     # key -> tree, or the exception its export raised
        self._planned = {}   # board -> keys to run on it, in order
        self._runs = {}      # (key, board) -> RunReport, or the exception its run raised

    def add(self, key, make, boards=()) -> None:
        """The tree ``make()`` exports, to be run on each of ``boards``."""
        self._makers.setdefault(key, make)
        for board in boards:
            self.plan(key, board)

    def plan(self, key, board) -> None:
        planned = self._planned.setdefault(board, [])
        if key not in planned and (key, board) not in self._runs:
            planned.append(key)

    def variant(self, key, **defines):
        """The key of ``key``'s tree built with ``defines`` besides its own."""
        derived = (key, tuple(sorted(defines.items())))
        self._makers.setdefault(derived, lambda: self._variant(self.tree(key), **defines))
        return derived

    def tree(self, key):
        if key not in self._trees:
            try:
                self._trees[key] = self._makers[key]()
            except Exception as error:  # noqa: BLE001 - raised again in each case that reads it
                self._trees[key] = error
        return _value(self._trees[key])

    def run(self, key, board):
        if (key, board) not in self._runs:
            self.plan(key, board)
            keys = []
            for k in self._planned.pop(board):
                try:
                    self.tree(k)
                    keys.append(k)
                except Exception as error:  # noqa: BLE001
                    self._runs[k, board] = error
            for k, report in zip(keys, run_models([self._trees[k] for k in keys], board, self.samples)):
                self._runs[k, board] = report
        return _value(self._runs[key, board])


def _value(result):
    if isinstance(result, BaseException):
        raise result
    return result
