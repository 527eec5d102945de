"""How long each part of the bench took, printed as it goes and kept for the JSON."""

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Phases:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        print(f"[bench] {self.elapsed():6.1f} s  {name} ...", flush=True)
        began = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - began, 1)
            print(f"[bench] {self.elapsed():6.1f} s  {name}: {self.seconds[name]} s", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started
