"""Inference service: the Open Inference Protocol over ONNX Runtime, with dynamic batching."""

import os

# ONNX Runtime records usage telemetry (a session file in $TMPDIR, a database under
# ~/.cache/Microsoft) unless told not to before it is imported. A medical service keeps
# nothing and sends nothing it was not asked to.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
