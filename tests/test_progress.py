"""Progress without a terminal: plain lines on stderr, at least every tenth of the run and every 30 s."""

import io

from gankit.progress import Progress, format_duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_plain_lines_every_tenth_of_the_run():
    out, clock = io.StringIO(), Clock()
    p = Progress(0, 100, enabled=True, stream=out, clock=clock)
    for step in range(1, 101):
        clock.now += 0.1  # 10 steps/s: never 30 s between lines
        p.step(step, {"loss/d": 0.5, "loss/g": 1.25})
    lines = out.getvalue().splitlines()
    assert [int(line.split()[2].split("/")[0]) for line in lines] == list(range(10, 101, 10))
    assert lines[0] == "train: step 10/100 (10%), 10 steps/s, ETA 9s, loss/d 0.5, loss/g 1.25"


def test_a_line_at_least_every_30_seconds():
    out, clock = io.StringIO(), Clock()
    p = Progress(0, 1000, enabled=True, stream=out, clock=clock)
    for step in range(1, 21):
        clock.now += 16.0  # a slow run: the tenths are 100 steps apart
        p.step(step, {})
    steps = [int(line.split()[2].split("/")[0]) for line in out.getvalue().splitlines()]
    assert steps == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # 32 s apart


def test_a_resumed_run_counts_from_where_it_starts():
    out, clock = io.StringIO(), Clock()
    p = Progress(50, 100, enabled=True, stream=out, clock=clock)
    for step in range(51, 101):
        clock.now += 1.0
        p.step(step, {})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("train: step 60/100 (60%), 1 steps/s, ETA 40s") and lines[-1].startswith(
        "train: step 100/100"
    )


def test_disabled_prints_nothing():
    out = io.StringIO()
    p = Progress(0, 10, enabled=False, stream=out)
    for step in range(1, 11):
        p.step(step, {"loss/d": 1.0})
    assert out.getvalue() == ""


def test_durations():
    assert [format_duration(s) for s in (0, 9.6, 65, 3725)] == ["0s", "10s", "1m05s", "1h02m"]
