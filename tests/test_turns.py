"""Turns (:mod:`summarizer.backends.turns`): answers that arrive together are processed
one per event-loop iteration, so work that became ready meanwhile runs between them."""

from __future__ import annotations

import asyncio

from summarizer.backends.turns import Turns


async def _burst(turns: Turns, answers: int) -> list[str]:
    """``answers`` answers wait for their turn at once; a request arrives (is ready to
    be sent) right after; the order in which they ran."""
    order: list[str] = []

    async def answer(i: int) -> None:
        await turns.take()
        order.append(f"answer {i}")

    async def request() -> None:
        order.append("request sent")

    waiting = [asyncio.ensure_future(answer(i)) for i in range(answers)]
    await asyncio.sleep(0)  # every answer is now waiting for its turn
    arrived = asyncio.ensure_future(request())
    await asyncio.gather(*waiting, arrived)
    return order


async def test_a_request_that_arrives_during_a_burst_goes_out_before_its_end() -> None:
    order = await _burst(Turns(), 20)
    assert order.index("request sent") <= 2  # not after the 20 answers
    assert [o for o in order if o != "request sent"] == [f"answer {i}" for i in range(20)]


async def test_a_cancelled_wait_gives_its_turn_to_the_next() -> None:
    turns, done = Turns(), []

    async def answer(i: int) -> None:
        await turns.take()
        done.append(i)

    tasks = [asyncio.ensure_future(answer(i)) for i in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert done == [0, 2, 3]


def test_turns_start_afresh_on_a_new_event_loop() -> None:
    turns = Turns()
    for _ in range(2):  # a loop closed with nothing pending must not leave a stale state
        assert asyncio.run(_burst(turns, 3)).count("request sent") == 1


def test_loops_in_two_threads_keep_their_own_turns() -> None:
    """A library user may run ``asyncio.run`` in several threads at once: one loop's
    waiters must never be dropped or released by the other's."""
    import threading

    turns, results, barrier = Turns(), {}, threading.Barrier(2)

    async def burst(name: str) -> None:
        async def answer(i: int) -> None:
            await turns.take()
            if i == 0:
                await asyncio.to_thread(barrier.wait, 10)  # both loops have waiters now
            results.setdefault(name, []).append(i)

        await asyncio.wait_for(asyncio.gather(*(answer(i) for i in range(5))), 10)

    threads = [threading.Thread(target=asyncio.run, args=(burst(n),)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {name: sorted(done) for name, done in results.items()} == {
        "a": [0, 1, 2, 3, 4],
        "b": [0, 1, 2, 3, 4],
    }
