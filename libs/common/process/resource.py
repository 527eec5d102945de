"""What starts and stops is an async context manager, as aiokafka's clients are."""

from types import TracebackType
from typing import Self


class Resource:
    """`async with` starts it and stops it; a subclass's stop returns at once when stopped."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
