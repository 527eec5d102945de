"""ghz, the gRPC load tool: one run and the figures that matter from its JSON report."""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GHZ = ROOT / ".cache/bin/ghz"
SERVICE = "waitroom.v1.WaitroomService"


@dataclass(frozen=True, slots=True)
class Load:
    """What one ghz run sends: a method, its data (a ghz template), how much and how fast."""

    method: str
    data: str
    concurrency: int
    requests: int
    rps: int = 0  # 0: as fast as the server answers
    connections: int = 8


def run(target: str, load: Load) -> dict[str, Any]:
    """One ghz run; raises if ghz fails or if any call did not end OK."""
    command = [
        str(GHZ),
        "--insecure",
        # ghz cannot resolve methods through Python's reflection service: give it the proto
        "--import-paths",
        str(ROOT / "protos"),
        "--proto",
        "waitroomapi/waitroom/v1/waitroom.proto",
        "--call",
        f"{SERVICE}/{load.method}",
        "-d",
        load.data,
        "-c",
        str(load.concurrency),
        "-n",
        str(load.requests),
        "--connections",
        str(min(load.concurrency, load.connections)),
        "-O",
        "json",
    ]
    if load.rps:
        command += ["--rps", str(load.rps)]
    out = subprocess.run([*command, target], capture_output=True, text=True, check=True)
    return summary(json.loads(out.stdout), load)


def summary(report: dict[str, Any], load: Load) -> dict[str, Any]:
    codes: dict[str, int] = report.get("statusCodeDistribution") or {}
    failed = sum(n for code, n in codes.items() if code != "OK")
    if failed or report["count"] != load.requests:
        raise AssertionError(
            f"{load.method}: {failed} failed calls of {report['count']} "
            f"(asked {load.requests}): {codes} {report.get('errorDistribution')}"
        )
    latency = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"] or []}
    return {
        "rps": report["rps"],
        "count": report["count"],
        "seconds": report["total"] / 1e9,
        "p50_ms": latency.get(50, 0.0),
        "p90_ms": latency.get(90, 0.0),
        "p99_ms": latency.get(99, 0.0),
        "codes": codes,
    }


def unique_joins(event_id: str, prefix: str) -> str:
    """JoinQueue data whose user id is new on every request of one run."""
    return json.dumps({"user_id": f"{prefix}{{{{.RequestNumber}}}}", "event_id": event_id})


def statuses(session_ids: list[str]) -> str:
    """GetQueueStatus data: ghz goes round the list, one session per request."""
    return json.dumps([{"session_id": s} for s in session_ids])
