import asyncio

import pytest

from queued_jobs._once import LoadedOnce


class Loader:
    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> object:
        self.calls += 1
        await self.release.wait()
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.mark.asyncio
async def test_callers_arriving_while_it_loads_share_one_load_and_later_ones_none() -> None:
    loader = Loader("key")
    once = LoadedOnce(loader)

    waiting = [asyncio.create_task(once.get()) for _ in range(10)]
    await asyncio.sleep(0)
    loader.release.set()

    assert await asyncio.gather(*waiting) == ["key"] * 10
    assert await once.get() == "key"
    assert loader.calls == 1


@pytest.mark.asyncio
async def test_a_failed_load_is_not_kept_and_the_next_caller_tries_again() -> None:
    loader = Loader(OSError("storage down"), "key")
    loader.release.set()
    once = LoadedOnce(loader)

    with pytest.raises(OSError, match="storage down"):
        await once.get()
    assert await once.get() == "key"
    assert loader.calls == 2


@pytest.mark.asyncio
async def test_a_cancelled_caller_leaves_the_load_to_the_others() -> None:
    loader = Loader("key")
    once = LoadedOnce(loader)
    impatient = asyncio.create_task(once.get())
    patient = asyncio.create_task(once.get())
    await asyncio.sleep(0)

    impatient.cancel()
    await asyncio.sleep(0)
    loader.release.set()

    assert await patient == "key"
    assert impatient.cancelled()
    assert loader.calls == 1


def test_a_value_loaded_in_one_event_loop_is_kept_for_the_next() -> None:
    loader = Loader("key")
    loader.release.set()
    once = LoadedOnce(loader)

    assert asyncio.run(once.get()) == "key"  # pytest-asyncio's loop is not running here
    assert asyncio.run(once.get()) == "key"
    assert loader.calls == 1
