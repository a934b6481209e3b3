"""The `skinscan` command: the top of the import graph, where the packages meet.

`skinscan up` (launcher), `skinscan analyze` (through the SDK), and the
trainer's own `train` and `evaluate` commands.
"""
