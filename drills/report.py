"""Drill results: one JSON file per drill under drills/results/, and one table for them all."""

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
RED, GREEN, RESET = "\033[31m", "\033[32m", "\033[0m"
COLUMNS = ("drill", "joined", "admitted", "completed", "errors", "recover s", "lost", "invariants")


def write(result: dict, folder: Path = RESULTS) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{result['drill']}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    return path


def broken(result: dict) -> list[str]:
    return [
        f"{name} ({check['broken']} of {check['checked']})"
        for name, check in result["invariants"].items()
        if not check["ok"]
    ]


def row(result: dict) -> tuple[str, ...]:
    errors = ", ".join(f"{code} {n}" for code, n in sorted(result["errors"].items())) or "0"
    faults = broken(result)
    verdict = "BROKEN: " + "; ".join(faults) if faults else f"all {len(result['invariants'])} hold"
    return (
        result["drill"],
        str(result["joined"]),
        str(result["admitted"]),
        str(result["completed"]),
        errors,
        str(result["recover_seconds"]),
        str(result["lost"]),
        verdict,
    )


def table(results: list[dict]) -> str:
    """A Markdown table, so that the README can carry it as it is printed."""
    rows = [COLUMNS, *(row(r) for r in results)]
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(COLUMNS))
    return "\n".join(lines)


def show(results: list[dict]) -> None:
    colour = sys.stdout.isatty()
    for line, result in zip(table(results).splitlines()[2:], results, strict=True):
        if colour:
            line = f"{GREEN if result['ok'] else RED}{line}{RESET}"
        if not result["ok"] and not colour:
            line += "  <-- BROKEN"
        print(line)


def print_table(results: list[dict]) -> None:
    print("\n".join(table(results).splitlines()[:2]))
    show(results)
    red, reset = (RED, RESET) if sys.stdout.isatty() else ("", "")
    for result in results:
        if not result["ok"]:
            print(f"{red}{result['drill']}: broken invariants: {'; '.join(broken(result))}{reset}")
