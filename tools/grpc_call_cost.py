"""CPU per gRPC aio unary call on loopback, by payload size: what a shared-memory hop could save.

`.venv/bin/python tools/grpc_call_cost.py` prints, for payloads of 1 byte, one 128 px image
(49,152 bytes) and sixteen, the CPU time of client and server (one process) per call. The
figures and what they mean for the preprocessor-to-inference hop: docs/serving-profile.md.
"""

from __future__ import annotations

import asyncio
import resource

import grpc

IMAGE_BYTES = 128 * 128 * 3


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"ok"


async def main() -> None:
    limit = [
        ("grpc.max_receive_message_length", 64 << 20),
        ("grpc.max_send_message_length", 64 << 20),
    ]
    server = grpc.aio.server(options=limit)
    handler = grpc.method_handlers_generic_handler(
        "t.T", {"E": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=limit) as channel:
        call = channel.unary_unary("/t.T/E")
        for size in (1, IMAGE_BYTES, 16 * IMAGE_BYTES) * 2:
            payload = b"x" * size
            for _ in range(50):
                await call(payload)
            calls = 1000 if size <= IMAGE_BYTES else 200
            started = _cpu_s()
            for _ in range(calls):
                await call(payload)
            per_call_us = (_cpu_s() - started) * 1e6 / calls
            print(f"{size:>8} bytes: {per_call_us:7.0f} CPU-us per call (client and server)")
    await server.stop(None)


if __name__ == "__main__":
    asyncio.run(main())
