"""The waiting benchmarks' table: each figure beside its baseline and its goal."""

from typing import Any

Result = dict[str, Any]
HEAD = ["| benchmark | waitroom | baseline | figure | goal |", "|---|---|---|---|---|"]


def table(result: Result) -> str:
    return "\n".join(
        HEAD + reads(result["status_reads"]) + polls(result["pollers"]) + held(result["streams"])
    )


def reads(r: Result) -> list[str]:
    w = r["waitroom"]
    return [
        f"| GetQueueStatus, {r['sessions']:,} people along a line of {r['line']:,}, "
        f"c={r['concurrency']} | {w['rps']:,.0f}/s | bare {r['bare']['rps']:,.0f}/s "
        f"| {r['ratio']:.2f} of bare | >= 0.9 |",
        f"| Redis calls per status read (idle {w['redis_idle_calls_per_s']}/s taken off) "
        f"| {w['redis_calls_per_read']} | | | <= 0.01 |",
        f"| Redis commands per status read (those inside scripts too) "
        f"| {w['redis_commands_per_read']} | | | |",
    ]


def polls(p: Result) -> list[str]:
    rows = [
        f"| {row['people']:,} pollers, one poll each {p['period_s']:.0f} s "
        f"({row['polls_per_s']:,.0f}/s, late p99 {row['late_p99_s']} s) "
        f"| {row['redis_calls_per_s']:,.1f} Redis calls/s | idle {row['redis_idle_per_s']:,.1f}/s "
        f"| {row['redis_commands_per_s']:,.0f} commands/s | |"
        for row in p["sizes"]
    ]
    return [*rows, f"| Redis calls/s, largest size / smallest | {p['growth']:.2f} | | | <= 1.10 |"]


def held(s: Result) -> list[str]:
    if "failed" in s:
        return [f"| open streams | FAILED: {s['failed'][:200]} | | | |"]
    w, b, a = s["waitroom"], s["bare"], s["waitroom"]["admission"]
    return [
        f"| memory per open stream ({w['streams']:,} streams, one process) "
        f"| {w['bytes_per_stream'] / 1000:.1f} kB | bare {b['bytes_per_stream'] / 1000:.1f} kB "
        f"| {s['memory_ratio']:.2f} of bare | <= 16 KB |",
        f"| CPU per update sent, steady ({w['steady_updates']:,} in {w['steady_s']:.0f} s) "
        f"| {w['cpu_us_per_update']} us | bare {b['cpu_us_per_update']} us | | |",
        f"| CPU per update sent, an admission of {a['admitted']:,} ({a['updates']:,} updates) "
        f"| {a['cpu_us_per_update']} us | | | |",
        f"| admission step to the last update it caused ({a['affected']:,} streams moved) "
        f"| {a['to_last_update_s']} s | | p50 {a['to_update_p50_s']} s, "
        f"p99 {a['to_update_p99_s']} s | |",
    ]
