"""What quart-cdn logs (quart_cdn._log): values cut short, repeats and floods rate-limited."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from quart_cdn._log import BURST, MAX_MESSAGE, WINDOW, LogLimiter, cut

LOGGER = logging.getLogger("quart_cdn.test_log")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def messages() -> Iterator[list[str]]:
    """The messages LOGGER is given, as they come."""
    handler = _Collect()
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.DEBUG)
    yield handler.messages
    LOGGER.removeHandler(handler)


def test_cut_keeps_short_text_and_says_what_it_left_out() -> None:
    assert cut("short") == "short"
    assert cut(ValueError("boom")) == "boom"
    assert cut("x" * 250) == "x" * 200 + "... (50 more characters)"
    assert cut("y" * 1_000_000, 80) == "y" * 80 + "... (999,920 more characters)"


def test_limiter_logs_first_then_once_per_window_with_the_count(
    clock: Clock, messages: list[str]
) -> None:
    limiter = LogLimiter(LOGGER, clock=clock)
    for _ in range(75):  # a failing origin polled 75 times in a second
        limiter.log(logging.WARNING, "Manifest %s failed", "m.json")
    assert messages == ["Manifest m.json failed"]
    clock.now += WINDOW
    assert limiter.log(logging.WARNING, "Manifest %s failed", "m.json")
    assert messages[1] == "Manifest m.json failed (74 more in the last minute)"
    clock.now += WINDOW
    limiter.log(logging.WARNING, "Manifest %s failed", "m.json")
    assert messages[2] == "Manifest m.json failed"  # nothing was left out in between


def test_limiter_distinct_messages_are_each_logged(clock: Clock, messages: list[str]) -> None:
    limiter = LogLimiter(LOGGER, clock=clock)
    for n in range(10):
        limiter.log(logging.WARNING, "error %d", n)
    assert messages == [f"error {n}" for n in range(10)]


def test_limiter_remembers_cut_texts_not_callers_values(clock: Clock) -> None:
    """Its memory of past messages holds short texts, whatever the values logged."""
    limiter = LogLimiter(LOGGER, clock=clock, burst=10**9)
    for n in range(1_000):
        limiter.log(logging.WARNING, "%d %s", n, "v" * 100_000)
    assert max(map(len, limiter._last)) <= MAX_MESSAGE + 40


def test_limiter_burst_then_one_summary_line_then_the_count(
    clock: Clock, messages: list[str]
) -> None:
    """50,000 distinct warnings in a minute: BURST lines, one saying the rest are counted,
    and at the next window one with the count."""
    limiter = LogLimiter(LOGGER, clock=clock)
    logged = sum(limiter.log(logging.WARNING, "file %d missing", n) for n in range(50_000))
    assert logged == BURST
    assert len(messages) == BURST + 1
    assert messages[-1] == (
        f"quart-cdn logged {BURST} records in the last minute; the next ones are counted, "
        "not logged, until it has passed"
    )
    clock.now += WINDOW
    limiter.log(logging.WARNING, "file %d missing", 50_000)
    assert messages[-2:] == [
        f"... {50_000 - BURST:,} more quart-cdn log records were left out in the last minute",
        "file 50000 missing",
    ]


def test_limiter_records_stay_under_one_kilobyte(clock: Clock, messages: list[str]) -> None:
    limiter = LogLimiter(LOGGER, clock=clock)
    limiter.log(logging.WARNING, "%s", "z" * 37_500_081)
    limiter.log(logging.WARNING, "z" * 5_000_000)
    assert len(messages) == 2
    assert all(len(message) <= MAX_MESSAGE + 40 < 1024 for message in messages)


def test_limiter_keeps_few_keys(clock: Clock, messages: list[str]) -> None:
    """The memory of past messages is bounded: old ones are forgotten first."""
    limiter = LogLimiter(LOGGER, clock=clock, burst=10**9)
    for n in range(5_000):
        limiter.log(logging.WARNING, "distinct %d", n)
    assert len(limiter._last) <= 1_000
    assert len(messages) == 5_000


def test_limiter_message_with_percent_and_no_args(clock: Clock, messages: list[str]) -> None:
    LogLimiter(LOGGER, clock=clock).log(logging.WARNING, "100% of 'a%s' failed")
    assert messages == ["100% of 'a%s' failed"]


def test_limiter_window_text(clock: Clock, messages: list[str]) -> None:
    limiter = LogLimiter(LOGGER, clock=clock, window=5)
    limiter.log(logging.WARNING, "x")
    limiter.log(logging.WARNING, "x")
    clock.now += 5
    limiter.log(logging.WARNING, "x")
    assert messages == ["x", "x (1 more in the last 5 s)"]
