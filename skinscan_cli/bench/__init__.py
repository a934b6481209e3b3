"""`skinscan bench`: what serving costs, measured in one run on one machine.

The limit first (the served ONNX file in ONNX Runtime alone, and decoding plus
resizing the same images), then the system end to end over gRPC, REST and the
job queue, so every ratio in the table compares numbers taken minutes apart on
the same machine.
"""
