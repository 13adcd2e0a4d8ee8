"""A lean HTTP/1.1 load generator for the benchmarks: keep-alive connections on raw asyncio
streams, requests built as bytes, responses parsed just enough (status, headers, body).

httpx spent a whole core at ~200 requests/s here, so on a 2-core machine it, not the
server, set the baseline; this client costs a small fraction of the server's time per
request, so the figures measure the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Sample:
    """One response: status, client-side latency (s) and the headers asked for."""

    status: int
    latency_s: float
    headers: dict[str, str] = field(default_factory=dict)


def request_bytes(
    method: str, path: str, host: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """An HTTP/1.1 keep-alive request as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[str, bytes]:
    """A multipart/form-data body: (content type, bytes)."""
    boundary = "loadgen-8c1f0e7a2b"
    parts: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + value.encode() + b"\r\n")
    for name, (filename, data, ctype) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


async def _read_response(reader: asyncio.StreamReader, keep: tuple[str, ...]) -> tuple[int, dict]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    length, chunked = 0, False
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name in keep:
            headers[name] = value
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    elif length:
        await reader.readexactly(length)
    return status, headers


async def run(
    host: str,
    port: int,
    *,
    clients: int,
    seconds: float,
    make_request: Callable[[int], bytes],
    keep_headers: tuple[str, ...] = (),
) -> tuple[list[Sample], float]:
    """`clients` connections, each sending `make_request(i)` back to back for `seconds`.

    Returns every response and the elapsed time. `i` counts requests across all clients.
    """
    samples: list[Sample] = []
    counter = 0

    async def client() -> None:
        nonlocal counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                counter += 1
                data = make_request(counter)
                t0 = time.perf_counter()
                writer.write(data)
                status, headers = await _read_response(reader, keep_headers)
                samples.append(Sample(status, time.perf_counter() - t0, headers))
        finally:
            writer.close()

    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(client() for _ in range(clients)))
    return samples, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`; NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]
