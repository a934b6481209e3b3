"""The `skinscan` command: the top of the import graph, where the packages meet.

`skinscan up` (launcher), `skinscan analyze` (through the SDK), and the
trainer's own `train` and `evaluate` commands.
"""

import os

# ONNX Runtime records usage telemetry (a session file in $TMPDIR, a database under
# ~/.cache/Microsoft) unless told not to before it is imported. A medical service keeps
# nothing and sends nothing it was not asked to.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
