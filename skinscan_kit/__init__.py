"""The service kit: what the gateway, the preprocessor and the inference service share.

gRPC server start-up, health and shutdown (grpc_server, runner), the one
interceptor (timing, error mapping), typed settings, readiness by health
events, the receiving end of streamed uploads, and the Redis job queue.
Nothing here knows about a particular service.
"""
