"""The bench's results: the machine, versions, targets met or not, the JSON file and the table."""

import json
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import flash_watch
from bench.ghz import GHZ

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results"


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    return {
        "cpus": os.cpu_count(),
        "cpu": model.group(1) if model else platform.processor(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
    }


def versions(redis_version: str) -> dict[str, str]:
    jars = sorted((ROOT / ".cache/kafka/libs").glob("kafka_2.13-*.jar"))
    kafka = jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "unknown"
    return {
        "python": platform.python_version(),
        **{name: metadata.version(name) for name in ("grpcio", "protobuf", "aiokafka", "redis")},
        "redis_server": redis_version,
        "kafka": kafka,
        "ghz": _module_version(GHZ),
    }


def _module_version(binary: Path) -> str:
    """The module version a `go install`ed binary was built from (its own --version says dev)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    try:
        out = subprocess.run([go, "version", "-m", str(binary)], capture_output=True, text=True)
    except OSError:
        return "unknown"
    found = re.search(r"^\s*mod\s+\S+\s+(\S+)", out.stdout, re.MULTILINE)
    return found.group(1) if found else "unknown"


def _target(
    name: str, figure: float, limit: float, at_least: bool, unit: str = ""
) -> dict[str, Any]:
    met = figure >= limit if at_least else figure <= limit
    wanted = f"{'>=' if at_least else '<='} {limit:g}{unit}"
    return {"name": name, "figure": figure, "target": wanted, "met": met}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = result["grpc"]
    admission = result["admission"]

    def worst(method: str) -> float:
        return float(min(r["ratio"] for r in rows if r["method"] == method))

    return [
        _target("JoinQueue rps / bare (lowest over concurrencies)", worst("JoinQueue"), 0.8, True),
        _target("GetQueueStatus rps / bare (lowest)", worst("GetQueueStatus"), 0.9, True),
        _target("JoinQueue p99 at half of peak", result["half_peak"]["p99_ms"], 10, False, " ms"),
        _target("admissions per second", admission["rate"], 10_000, True),
        _target("admissions / plain producer", admission["ratio"], 0.5, True),
        _target(
            "Redis bytes per person waiting",
            result["redis_memory"]["bytes_per_person"],
            200,
            False,
        ),
    ]


def write(result: dict[str, Any], stamp: str) -> Path:
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def table(result: dict[str, Any]) -> str:
    warnings = [f"WARNING: {w}" for w in result.get("warnings", [])]
    parts = [*_grpc(result), "", *_system(result), "", *_cpu(result), "", *_targets(result)]
    return "\n".join([*parts, *warnings])


def _grpc(result: dict[str, Any]) -> list[str]:
    p = result["processes"]
    lines = [
        f"gRPC, ghz, {result['grpc'][0]['requests']} calls a run "
        f"(bare {p['bare']} / waitroom {p['waitroom']} serving processes)",
        f"{'method':<15}{'conc':>5}{'bare rps':>10}{'waitroom rps':>14}{'ratio':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}",
    ]
    for r in result["grpc"]:
        w = r["waitroom"]
        lines.append(
            f"{r['method']:<15}{r['concurrency']:>5}{r['bare']['rps']:>10.0f}{w['rps']:>14.0f}"
            f"{r['ratio']:>7.2f}{w['p50_ms']:>8.1f}{w['p99_ms']:>8.1f}"
        )
    h = result["half_peak"]
    bare = f"; bare server at that rate: p99 {h['bare']['p99_ms']:.1f} ms" if "bare" in h else ""
    lines.append(
        f"JoinQueue at half of peak ({h['asked_rps']} of {h['peak_rps']:.0f} rps): "
        f"p50 {h['p50_ms']:.1f} ms, p90 {h['p90_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms{bare}"
    )
    lines += _floor(result["grpc"])
    lines.append(f"{'serving processes':<20}{'bare rps':>10}{'waitroom rps':>14}{'ratio':>7}")
    for s in result["scaling"]:
        lines.append(
            f"{s['processes']['bare']:>4} / {s['processes']['waitroom']:<13}"
            f"{s['bare']['rps']:>10.0f}{s['waitroom']['rps']:>14.0f}{s['ratio']:>7.2f}"
            f"   (JoinQueue, concurrency {s['concurrency']})"
        )
    return lines


def _floor(rows: list[dict[str, Any]]) -> list[str]:
    """The floor beside the bare server and the waitroom, where it was measured."""
    lines = []
    for r in rows:
        if "floor" in r:
            lines.append(
                f"{r['method']} c={r['concurrency']}, one Redis script call a request (the floor): "
                f"{r['floor']['rps']:.0f} rps, {r['floor_ratio']:.2f} of bare; "
                f"the waitroom {r['waitroom']['rps'] / r['floor']['rps']:.2f} of the floor"
            )
    return lines


def _system(result: dict[str, Any]) -> list[str]:
    a, f, m = result["admission"], result["flash"], result["redis_memory"]
    j = f["joins"]
    return [
        f"Admission: {a['people']} people, {a['rate']:.0f}/s to QUEUE_READY acknowledged "
        f"(first after {a['first_admission_s']:.2f} s, all after {a['all_acknowledged_s']:.2f} s); "
        f"plain producer {a['baseline']['rate']:.0f}/s; ratio {a['ratio']:.2f}; "
        f"{a['duplicates']} duplicates",
        f"Flash crowd: {f['people']} joins at concurrency {f['concurrency']}, {j['rps']:.0f}/s, "
        f"p50 {j['p50_ms']:.1f} / p90 {j['p90_ms']:.1f} / p99 {j['p99_ms']:.1f} ms; "
        f"all joined after {f['all_joined_s']:.1f} s, last QUEUE_READY after "
        f"{f['last_ready_s']:.1f} s (read after {f['last_ready_read_s']:.1f} s)",
        *flash_watch.lines(result),
        f"Redis memory per person waiting: {m['bytes_per_person']:.0f} bytes "
        f"({m['people']} people{_memory_baseline(m)})",
    ]


# The process groups of bench/cpu.py, in the order the CPU table shows them.
CPU_GROUPS = (
    ("server", "server"),
    ("stack waitroom", "stack wr"),
    ("redis", "redis"),
    ("kafka", "kafka"),
    ("stack stats", "stats"),
    ("stack checkout", "checkout"),
    ("ghz", "ghz"),
    ("total", "total"),
)


def cpu_row(label: str, figures: dict[str, Any], unit: str) -> str:
    us = figures.get(f"cpu_us_per_{unit}", {})
    cells = "".join(f"{us.get(name, 0):>{len(short) + 2}}" for name, short in CPU_GROUPS)
    return f"{label:<32}{cells}{figures.get('machine_busy', 0) * 100:>6.0f}%"


def _cpu(result: dict[str, Any]) -> list[str]:
    """CPU µs per call (per person for admission and the crowd) of each process, and busy %."""
    header = "".join(f"{short:>{len(short) + 2}}" for _, short in CPU_GROUPS)
    lines = [
        "CPU per call in µs, by process (server: the one under load), and the machine's busy share",
        f"{'':<32}{header}{'busy':>7}",
    ]
    for r in result["grpc"]:
        if "cpu_us_per_call" not in r["waitroom"]:  # results from before the meter
            return []
        for side in ("bare", "floor", "waitroom"):
            if side in r:
                label = f"{r['method']} c={r['concurrency']} {side}"
                lines.append(cpu_row(label, r[side], "call"))
    h = result["half_peak"]
    if "bare" in h:
        lines.append(cpu_row(f"JoinQueue {h['asked_rps']}/s bare", h["bare"], "call"))
        lines.append(cpu_row(f"JoinQueue {h['asked_rps']}/s waitroom", h, "call"))
    lines.append(cpu_row("admission, per person", result["admission"], "person"))
    lines.append(cpu_row("flash crowd, per person", result["flash"], "person"))
    for side in ("watch", "poll"):
        if side in result.get("flash_watch", {}):
            lines.append(
                cpu_row(f"flash, {side}ing, per person", result["flash_watch"][side], "person")
            )
    return lines


def _memory_baseline(memory: dict[str, Any]) -> str:
    if "baseline_bytes_per_person" not in memory:
        return ""
    return (
        f"; the DESIGN.md layout {memory['baseline_bytes_per_person']:.0f} bytes, "
        f"ratio {memory['ratio']:.2f}"
    )


def _targets(result: dict[str, Any]) -> list[str]:
    lines = ["Targets"]
    for t in result["targets"]:
        mark = "met  " if t["met"] else "SHORT"
        lines.append(f"  {mark} {t['name']:<50}{t['figure']:>10.2f}  ({t['target']})")
    floors = [r for r in result["grpc"] if "floor" in r]
    if floors:
        ceiling = ", ".join(f"{r['method']} {r['floor_ratio']:.2f}" for r in floors)
        lines.append(f"  (one Redis script call a request, and nothing else, reaches {ceiling})")
    return lines
