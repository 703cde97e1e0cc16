"""Bounded loopback load test of a running `tally serve`: concurrent ingest and reads.

    python bench/load.py --url http://127.0.0.1:3000 --admin-key tk_... [--requests 2000] [--clients 16]

Sends exactly --requests requests from --clients threads (half ingest batches
of --batch messages, half reads across the stats APIs), then prints throughput,
p50/p99 latency and the error count, and exits non-zero on any error.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

READS = (
    "/v1/stats?scope=24h",
    "/api/analytics/overview",
    "/api/credits/balance",
    "/v1/stats/messages",
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float


def create_key(url: str, admin_key: str, account: str) -> str:
    response = requests.post(
        f"{url}/v1/keys",
        json={
            "account": account,
            "scopes": ["events:write", "stats:read", "billing:read"],
            "name": "load",
        },
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=30,
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret


def run(url: str, key: str, total: int, clients: int, batch: int) -> tuple[list[Sample], float]:
    local = threading.local()
    headers = {"Authorization": f"Bearer {key}"}
    run_id = secrets.token_hex(4)

    def one(number: int) -> Sample:
        session: requests.Session | None = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.perf_counter()
        try:
            if number % 2 == 0:
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                events = [
                    {
                        "id": f"load-{run_id}-{number}-{n}",
                        "kind": "message",
                        "occurred_at": now,
                        "channel": "sms",
                        "status": "sent",
                        "to": "+213661234567",
                    }
                    for n in range(batch)
                ]
                response = session.post(
                    f"{url}/v1/events", json={"events": events}, headers=headers, timeout=60
                )
                kind = "ingest"
            else:
                response = session.get(
                    url + READS[(number // 2) % len(READS)], headers=headers, timeout=60
                )
                kind = "read"
            status = response.status_code
        except requests.RequestException:
            kind, status = "error", 0
        if not 200 <= status < 300 and status:
            print(f"{kind} {status}: {response.text[:300]}", file=sys.stderr)
        return Sample(kind, status, time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        samples = list(pool.map(one, range(total)))
    return samples, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(samples: list[Sample], elapsed: float, clients: int) -> int:
    errors = sum(1 for sample in samples if not 200 <= sample.status < 300)
    print(f"requests: {len(samples)} from {clients} clients in {elapsed:.2f} s")
    print(f"throughput: {len(samples) / elapsed:.1f} req/s")
    for kind in ("ingest", "read"):
        times = [s.seconds * 1000 for s in samples if s.kind == kind]
        if times:
            print(
                f"{kind}: n={len(times)} p50={statistics.median(times):.1f} ms "
                f"p99={percentile(times, 0.99):.1f} ms"
            )
    every = [s.seconds * 1000 for s in samples]
    print(f"all: p50={statistics.median(every):.1f} ms p99={percentile(every, 0.99):.1f} ms")
    print(f"errors: {errors}")
    failed = Counter((s.kind, s.status) for s in samples if not 200 <= s.status < 300)
    for (kind, status), count in sorted(failed.items()):
        print(f"  {kind} -> {status or 'connection error'}: {count}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch", type=int, default=10, help="messages per ingest request")
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("the load test only targets a loopback server")
    key = create_key(args.url, args.admin_key, f"load-{secrets.token_hex(4)}")
    samples, elapsed = run(args.url, key, args.requests, args.clients, args.batch)
    return 1 if report(samples, elapsed, args.clients) else 0


if __name__ == "__main__":
    sys.exit(main())
