"""The network: ResNet50 with its heads (decision, diagnosis, acquisition, out-of-distribution), and BatchNorm restored."""
