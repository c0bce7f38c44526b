"""How long key checks take: N distinct keys against a local OpenAI-style server that answers
each ``GET /v1/models`` after a fixed delay, beside a minimal HTTP/1.1 client on the same server.

    python benchmarks/checks.py                    # 1,000 keys, parallelism 50, 100 ms
    python benchmarks/checks.py --keys 5000 --parallelism 100
    python benchmarks/checks.py --smoke            # 100 keys: proves it works

The server runs in its own process (a threaded HTTP/1.1 server with keep-alive), so that its
work does not share the checker's interpreter. The checker runs as ``plan`` runs it: the CLI's
checker (``cli.common.key_checker``: the result cache, here in a fresh directory, the progress
line on stderr, the collector on over the checks' own objects only, off otherwise). Then a
minimal HTTP/1.1 client (one request at a time on each of ``parallelism`` kept-alive
connections, each key's request in turn, every answer read whole, no parsing beyond the status
line and the length) sends the same requests to the same server: the floor, i.e. what the
server and loopback cost, so that the rest is known to be the checker's. The server is asked
for its CPU time between the runs. Exits 1 if any key fails or the checker takes over
``--limit`` x the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Event

from llmform.checks.run import CheckReport, CheckTarget, KeySlot
from llmform.cli.common import key_checker
from llmform.collector import collector_off
from llmform.secrets.base import SecretValue

BODY = json.dumps({"object": "list", "data": [{"id": "gpt-bench", "object": "model"}]}).encode()


def serve(delay: float, port_out: multiprocessing.SimpleQueue[int], stop: Event) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            status, body = 200, BODY
            if self.path == "/cpu":  # asked between the timed runs: the server's CPU so far
                body = str(time.process_time()).encode()
            else:
                time.sleep(delay)
                if not self.headers.get("authorization", "").startswith("Bearer sk-bench-"):
                    status = 401
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    with Server(("127.0.0.1", 0), Handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        port_out.put(int(httpd.server_address[1]))
        stop.wait()
        httpd.shutdown()


def targets(count: int, base: str) -> list[CheckTarget]:
    out = []
    for i in range(count):
        key = f"sk-bench-{i:06d}"
        slot = KeySlot("api_key", 0, SecretValue(key), hashlib.sha256(key.encode()).hexdigest())
        out.append(CheckTarget(f"config.bench/c{i}", "openai", base, (slot,), ("gpt-bench",)))
    return out


def server_cpu(port: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    try:
        connection.request("GET", "/cpu")
        return float(connection.getresponse().read())
    finally:
        connection.close()


async def floor(port: int, count: int, parallelism: int) -> int:
    """The same ``count`` requests from a client that does nearly nothing; how many were 200."""
    keys = iter(range(count))
    ok = 0

    async def connection() -> None:
        nonlocal ok
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in keys:
            writer.write(
                f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer sk-bench-{i:06d}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            ok += head.startswith(b"HTTP/1.1 200 ")
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(parallelism)))
    return ok


def checker(work: list[CheckTarget], parallelism: int) -> CheckReport:
    """The checks as ``llmform plan`` makes them, with a result cache of their own (a fresh
    directory: nothing is taken from it, every verdict is written to it, as on a first plan)."""
    saved = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory() as cache, collector_off():
        os.environ["XDG_CACHE_HOME"] = cache  # where the checker's cache goes
        try:
            check = key_checker(True, parallelism, 900.0)
            assert check is not None
            return check(work)
        finally:
            if saved is None:
                del os.environ["XDG_CACHE_HOME"]
            else:
                os.environ["XDG_CACHE_HOME"] = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--limit", type=float, default=1.2, help="fail above this x the floor")
    parser.add_argument("--smoke", action="store_true", help="100 keys, no time limit")
    args = parser.parse_args()
    if args.smoke:
        args.keys, args.limit = 100, float("inf")

    ports: multiprocessing.SimpleQueue[int] = multiprocessing.SimpleQueue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.delay, ports, stop), daemon=True)
    server.start()
    try:
        port = ports.get()
        work = targets(args.keys, f"http://127.0.0.1:{port}/v1")
        served = server_cpu(port)
        started, cpu = time.perf_counter(), time.process_time()
        report = checker(work, args.parallelism)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        served, before_floor = server_cpu(port) - served, server_cpu(port)
        started = time.perf_counter()
        floor_ok = asyncio.run(floor(port, args.keys, args.parallelism))
        floor_wall = time.perf_counter() - started
        floor_served = server_cpu(port) - before_floor
    finally:
        stop.set()
        server.join(5)
    bound = args.keys / args.parallelism * args.delay
    print(
        f"{args.keys} keys, parallelism {args.parallelism}, {args.delay * 1000:.0f} ms each, "
        f"bound {bound:.2f} s\n"
        f"  checker {wall:.2f} s ({wall / bound:.2f}x), CPU {cpu:.2f} s, server CPU "
        f"{served:.2f} s; {report.requests} requests, "
        f"{'all valid' if report.passed else 'FAILURES'}\n"
        f"  floor   {floor_wall:.2f} s ({floor_wall / bound:.2f}x), server CPU "
        f"{floor_served:.2f} s\n"
        f"  checker / floor {wall / floor_wall:.2f}x (limit {args.limit:g}x); load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    if not report.passed or report.requests != args.keys or floor_ok != args.keys:
        return 1
    return 0 if wall <= args.limit * floor_wall else 1


if __name__ == "__main__":
    sys.exit(main())
