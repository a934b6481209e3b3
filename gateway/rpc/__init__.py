"""The gateway's public gRPC face: thin servicers over the domain services, and the auth check."""
