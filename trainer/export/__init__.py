"""From a trained network to a served graph: ONNX, int8 and its parity, a parent's graph imported, the gates fitted and checked."""
