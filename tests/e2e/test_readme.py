"""The README's walk-throughs, run in order as a reader would, and held to their samples."""

import os
import re
import subprocess
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import ROOT

SECTION = "## Walk-throughs"
MARK = "@@@ readme step"
FENCE = re.compile(r"^```(\S*)( no-run)?\n(.*?)^```\n", re.DOTALL | re.MULTILINE)


@dataclass
class Step:
    script: str
    sample: list[str]


def walkthrough_steps() -> list[Step]:
    """Every ```bash block of the walk-throughs, with the lines of the sample block after it."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    steps: list[Step] = []
    previous: Step | None = None
    previous_end = 0
    for block in FENCE.finditer(text, start, end):
        language, no_run, body = block.groups()
        follows = previous is not None and not text[previous_end : block.start()].strip()
        if language == "bash" and not no_run:
            previous = Step(body, [])
            steps.append(previous)
        elif follows and previous is not None and language != "bash":
            previous.sample = [line.strip() for line in body.splitlines() if line.strip()]
            previous = None
        else:
            previous = None
        previous_end = block.end()
    return steps


def line_pattern(sample_line: str) -> re.Pattern[str]:
    """A sample line as a pattern: `…` stands for anything."""
    return re.compile(".*".join(re.escape(part) for part in sample_line.split("…")))


def run_in_one_shell(steps: list[Step]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    script = "".join(f"echo '{MARK} {n}'\n{step.script}" for n, step in enumerate(steps))
    env = {**os.environ, "PATH": f"{ROOT / '.cache/bin'}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    outputs = re.split(rf"^{MARK} \d+\n", done.stdout, flags=re.MULTILINE)[1:]
    return done, outputs


def test_the_walkthroughs_have_steps_and_samples():
    steps = walkthrough_steps()
    assert len(steps) >= 10
    assert sum(1 for step in steps if step.sample) >= 10


@pytest.mark.parametrize("run", ["on the stack", "again on the same stack"])
def test_every_walkthrough_step_runs_and_prints_its_sample(run):
    steps = walkthrough_steps()
    done, outputs = run_in_one_shell(steps)
    failed = len(outputs) - 1
    assert done.returncode == 0, (
        f"step {failed} failed ({run}):\n{steps[failed].script}\n"
        f"stdout:\n{outputs[-1][-2000:] if outputs else ''}\nstderr:\n{done.stderr[-2000:]}"
    )
    assert len(outputs) == len(steps)
    for step, output in zip(steps, outputs, strict=True):
        printed = [line.strip() for line in output.splitlines()]
        for sample_line in step.sample:
            pattern = line_pattern(sample_line)
            assert any(pattern.fullmatch(line) for line in printed), (
                f"{sample_line!r} is not in what this step printed ({run}):\n{step.script}\n"
                f"{output[-3000:]}"
            )
