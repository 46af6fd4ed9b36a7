"""Boards and firmware: board files, firmware projects, cross builds, QEMU runs, budgets, flashing.

Entry points for other modules:
- `targets.firmware.write_firmware_project(export_dir, board)`: wrap an exported tree in a
  firmware project for a board (and, by default, cross-build it and check its flash/RAM budget;
  the figures land in `<project>/footprint.json`, key "summary" is a one-line report).
- `targets.runner.run_model(export_dir, board, data=None, samples=2, layers=False)`: cross-build,
  run on QEMU (with `layers`, the same run counts each kernel call, for `bench`), compare with the
  host build and the references; returns a RunReport. It builds in a locked
  per-(tree, board) workspace in the cache (`targets.workspace`), never inside the tree.
- `targets.board.load_board(name, boards_dir=None)` / `list_boards()`: shipped boards, or a folder
  of the user's; fields checked by `targets.board_schema`.
"""
