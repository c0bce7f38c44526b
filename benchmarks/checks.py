"""How long key checks take: N distinct keys against a local OpenAI-style server that answers
each ``GET /v1/models`` after a fixed delay, beside the bound ``N / parallelism x delay``.

    python benchmarks/checks.py                    # 1,000 keys, parallelism 50, 100 ms
    python benchmarks/checks.py --keys 5000 --parallelism 100
    python benchmarks/checks.py --smoke            # 100 keys: proves it works

The server runs in its own process (a threaded HTTP server), so that its work does not share
the checker's interpreter. Exits 1 if any key fails or the time is over ``--limit`` x bound.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Event

from llmform.checks import CheckTarget, KeySlot, run_checks
from llmform.secrets.base import SecretValue

BODY = json.dumps({"object": "list", "data": [{"id": "gpt-bench", "object": "model"}]}).encode()


def serve(delay: float, port_out: multiprocessing.SimpleQueue[int], stop: Event) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            time.sleep(delay)
            ok = self.headers.get("authorization", "").startswith("Bearer sk-bench-")
            self.send_response(200 if ok else 401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--limit", type=float, default=1.2, help="fail above this x the bound")
    parser.add_argument("--smoke", action="store_true", help="100 keys, no time limit")
    args = parser.parse_args()
    if args.smoke:
        args.keys, args.limit = 100, float("inf")

    ports: multiprocessing.SimpleQueue[int] = multiprocessing.SimpleQueue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.delay, ports, stop), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{ports.get()}/v1"
        work = targets(args.keys, base)
        started, cpu = time.perf_counter(), time.process_time()
        report = run_checks(work, parallelism=args.parallelism)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        stop.set()
        server.join(5)
    bound = args.keys / args.parallelism * args.delay
    print(
        f"{args.keys} keys, parallelism {args.parallelism}, {args.delay * 1000:.0f} ms each: "
        f"{wall:.2f} s (bound {bound:.2f} s, {wall / bound:.2f}x; checker CPU {cpu:.2f} s); "
        f"{report.requests} requests, {'all valid' if report.passed else 'FAILURES'}"
    )
    if not report.passed or report.requests != args.keys:
        return 1
    return 0 if wall <= args.limit * bound else 1


if __name__ == "__main__":
    sys.exit(main())
