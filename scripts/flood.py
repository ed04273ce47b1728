#!/usr/bin/env python3
"""A connection and request flood against one HTTP endpoint, from a source address of its own.

wrk cannot choose its source address, and on loopback every client is 127.0.0.1: a flood from wrk and the
honest requester would share the node's per-peer limits. This flooder binds its sockets to --source (for
example 127.0.0.2, which Linux routes on lo like any 127/8 address), so the node sees two peers, as it would
on a real network.

    scripts/flood.py --url http://127.0.0.1:7800/telemetry --source 127.0.0.2 --connections 256 --seconds 30

Each connection sends keep-alive GETs one after another and reconnects when the server closes it. Prints one
JSON line: answers per second by status, refused or reset connections, and latency percentiles (ms).
"""

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def worker(host, port, path, source, stop, stats):
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(0.01)
            continue
        try:
            while time.monotonic() < stop:
                sent = time.monotonic()
                writer.write(request)
                await writer.drain()
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                stats["latencies"].append(time.monotonic() - sent)
                stats["status"][status] = stats["status"].get(status, 0) + 1
                if b"connection: close" in head.lower():
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError):
            stats["dropped"] += 1
        finally:
            writer.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--source", default="127.0.0.2", help="source address of every connection")
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    url = urlsplit(args.url)
    stats = {"status": {}, "latencies": [], "connect_errors": 0, "dropped": 0}
    start = time.monotonic()
    stop = start + args.seconds
    await asyncio.gather(
        *(worker(url.hostname, url.port or 80, url.path or "/", args.source, stop, stats) for _ in range(args.connections))
    )
    elapsed = time.monotonic() - start
    lat = sorted(stats["latencies"])
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * (len(lat) - 1)))] * 1000, 2) if lat else None
    answers = sum(stats["status"].values())
    print(json.dumps({
        "seconds": round(elapsed, 1),
        "answers_per_s": round(answers / elapsed),
        "status": {str(k): v for k, v in sorted(stats["status"].items())},
        "connect_errors": stats["connect_errors"],
        "dropped_connections": stats["dropped"],
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
    }))


if __name__ == "__main__":
    asyncio.run(main())
