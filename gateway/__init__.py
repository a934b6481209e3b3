"""Gateway service: the public gRPC and REST entry, synchronous analyses and queued jobs."""
