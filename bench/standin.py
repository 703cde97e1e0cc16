"""A stand-in for DynamoDB that answers every request at once with an empty success.

`{}` is DynamoDB's reply to an UpdateItem that wrote (no ReturnValues asked). Pointed at
by AWS_ENDPOINT_URL, it lets `bench.counters_cpu` time the counters function's own work,
HTTP included, in every process the function uses (tally.fanout's workers are other
processes, which an in-process stub of the client would not reach).

    python -m bench.standin PORT
"""

from __future__ import annotations

import asyncio
import sys

_REPLY = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/x-amz-json-1.0\r\n"
    b"x-amzn-RequestId: standin\r\n"
    b"Content-Length: 2\r\n\r\n{}"
)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(_REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
