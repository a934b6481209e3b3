"""Inference service: the Open Inference Protocol over ONNX Runtime, with dynamic batching."""
