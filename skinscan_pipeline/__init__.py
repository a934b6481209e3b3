"""From an image's bytes to its analysis: decode, check and resize it, run the model through
the inference service, and read the model's outputs into an Analysis.

The preprocessor serves it over gRPC and to its job workers; a gateway set to preprocess in
its own process (SKINSCAN_GATEWAY_PREPROCESS_IN_PROCESS) runs it directly, one gRPC hop fewer
per image. It is a library, not a service: it never imports grpc servers or settings.
"""
