"""`make bench` / `make bench-quick`: the waitroom against a bare server, side by side."""

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc

from bench.memory import per_person
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]
GHZ = ROOT / ".cache/bin/ghz"
BARE = "127.0.0.1:50061"
WAITROOM = "127.0.0.1:50051"
ADMIN = (("authorization", f"Bearer {os.environ.get('WAITROOM_ADMIN_TOKEN', 'dev-admin-token')}"),)


def ghz(target: str, method: str, data: str, concurrency: int, requests: int) -> dict:
    """One ghz run; the figures that matter, and a failure if any call failed."""
    out = subprocess.run(
        [
            str(GHZ),
            "--insecure",
            # ghz cannot resolve methods through Python's reflection service: give it the proto
            "--import-paths",
            str(ROOT / "protos"),
            "--proto",
            "waitroomapi/waitroom/v1/waitroom.proto",
            "--call",
            method,
            "-d",
            data,
            "-c",
            str(concurrency),
            "-n",
            str(requests),
            "--connections",
            str(min(concurrency, 8)),
            "-O",
            "json",
            target,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout)
    codes = report.get("statusCodeDistribution", {})
    latency = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"] or []}
    errors = {c: n for c, n in codes.items() if c != "OK"}
    return {
        "rps": report["rps"],
        "count": report["count"],
        "p50_ms": latency.get(50, 0),
        "p99_ms": latency.get(99, 0),
        "errors": sum(errors.values()),
        "codes": codes,
    }


async def prepare(event_id: str, sessions: int) -> list[str]:
    async with grpc.aio.insecure_channel(WAITROOM) as channel:
        admin, queue = pb_grpc.AdminServiceStub(channel), pb_grpc.WaitroomServiceStub(channel)
        # one slot: people stay in line, so GetQueueStatus measures the waiting path
        await admin.CreateEvent(
            pb.CreateEventRequest(event_id=event_id, max_concurrent=1, batch_size=1), metadata=ADMIN
        )
        replies = await asyncio.gather(
            *(
                queue.JoinQueue(pb.JoinQueueRequest(user_id=f"status-{n}", event_id=event_id))
                for n in range(sessions)
            )
        )
    return [r.session_id for r in replies]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    requests, levels = (8_000, [50]) if args.quick else (40_000, [10, 50, 200])
    people = 100_000 if args.quick else 1_000_000
    bare = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_server", BARE.split(":")[1]], cwd=ROOT
    )
    time.sleep(1.5)
    try:
        event_id = f"bench-{uuid.uuid4().hex[:8]}"
        sessions = asyncio.run(prepare(event_id, 500))
        status_data = json.dumps([{"session_id": s} for s in sessions])
        join_data = json.dumps(
            {"user_id": "u{{.RequestNumber}}-{{.WorkerID}}", "event_id": event_id}
        )
        rows = []
        for c in levels:
            for method, data in (("JoinQueue", join_data), ("GetQueueStatus", status_data)):
                full = f"waitroom.v1.WaitroomService/{method}"
                base = ghz(BARE, full, data, c, requests)
                real = ghz(WAITROOM, full, data, c, requests)
                if real["errors"] or base["errors"]:
                    raise AssertionError(f"{method}: calls failed: {real['codes']}")
                rows.append(
                    {
                        "method": method,
                        "concurrency": c,
                        "bare": base,
                        "waitroom": real,
                        "ratio": real["rps"] / base["rps"],
                    }
                )
    finally:
        bare.terminate()
        bare.wait()
    memory = asyncio.run(per_person("redis://127.0.0.1:6379/14", people))
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "requests_per_run": requests,
        "grpc": rows,
        "redis_memory": memory,
    }
    path = ROOT / "bench/results" / time.strftime("%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps(result, indent=2))
    print(
        f"\n{'method':<15}{'conc':>5}{'bare rps':>10}{'waitroom rps':>14}{'ratio':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}"
    )
    for r in rows:
        w = r["waitroom"]
        print(
            f"{r['method']:<15}{r['concurrency']:>5}{r['bare']['rps']:>10.0f}{w['rps']:>14.0f}"
            f"{r['ratio']:>7.2f}{w['p50_ms']:>8.1f}{w['p99_ms']:>8.1f}"
        )
    print(
        f"\nRedis memory per person waiting: {memory['bytes_per_person']:.0f} bytes "
        f"({memory['people']} people)\nresults: {path.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
