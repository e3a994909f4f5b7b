"""Statistics (gankit.stats): reported values averaged per name and flushed as one JSON object a line;
per-step sums on the device; metrics.jsonl read tolerantly after a kill, cut back on resume, never written
through a planted link."""

import json
import math

import pytest
import torch

from gankit.stats import LOCAL_PREFIXES, Collector, StepSums, read_jsonl, report, truncate_jsonl


def test_truncation_keeps_whole_rows_up_to_the_step_and_drops_damaged_ones(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": 1, "loss/d": 1.0}, {"step": 2, "loss/d": 0.5}, {"step": 3, "loss/d": 0.2}]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    text += '{"step": "x"}\n{"step": null}\n{"step": true}\n{"step": 2.5}\n[1, 2]\n'
    path.write_bytes(text.encode() + b"\xff\xfe garbage\n" + b'{"step": 4, "loss')  # and a torn last line
    truncate_jsonl(path, 2)
    assert read_jsonl(path) == rows[:2]


def test_a_planted_metrics_link_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("DATA")
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(victim)
    with pytest.raises(OSError):
        Collector(run)
    assert victim.read_text() == "DATA"


def _strict(line):
    """json.loads that refuses NaN and Infinity, which are not JSON."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_report_without_a_collector_does_nothing_and_after_close_reaches_no_one():
    report("loss/d", 1.0)  # no active collector: nothing to do, nothing raised
    c = Collector(None)
    with c:
        report("loss/d", 2.0)
    report("loss/d", 100.0)  # closed: no longer the target
    assert c.flush(1) == {"loss/d": 2.0}


def test_flush_writes_the_means_since_the_last_flush_one_json_object_a_line(tmp_path):
    with Collector(tmp_path) as c:
        for v in (1.0, 2.0, 6.0):
            report("loss/d", v)
        report("loss/g", torch.tensor(0.5))
        report("loss/g", torch.tensor(1.5))
        assert c.flush(10) == {"loss/d": 3.0, "loss/g": 1.0}
        assert c.flush(11) == {}  # nothing reported since: no row, no line
        report("loss/d", 4)
        assert c.flush(12) == {"loss/d": 4.0}
        assert c.last == {"loss/d": 4.0, "loss/g": 1.0}  # the latest value of every name
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [_strict(line) for line in lines] == [
        {"step": 10, "loss/d": 3.0, "loss/g": 1.0},
        {"step": 12, "loss/d": 4.0},
    ]
    assert read_jsonl(tmp_path / "metrics.jsonl") == [_strict(line) for line in lines]


def test_a_non_finite_mean_still_makes_a_line_of_json(tmp_path):
    with Collector(tmp_path) as c:
        report("loss/d", float("inf"))
        report("loss/g", torch.tensor(float("nan")))
        row = c.flush(1)
    assert row["loss/d"] == float("inf") and math.isnan(row["loss/g"])
    line = _strict((tmp_path / "metrics.jsonl").read_text())
    assert line["step"] == 1 and set(line) == {"step", "loss/d", "loss/g"}


def test_a_collector_appends_to_the_metrics_of_an_earlier_one(tmp_path):
    for step in (1, 2):
        with Collector(tmp_path) as c:
            report("loss/d", float(step))
            c.flush(step)
    assert read_jsonl(tmp_path / "metrics.jsonl") == [{"step": 1, "loss/d": 1.0}, {"step": 2, "loss/d": 2.0}]


def test_reduce_applies_to_shared_statistics_and_not_to_local_ones():
    seen = []

    def reduce(t):
        seen.append(t.clone())
        return t * 10

    with Collector(None) as c:
        report("loss/d", 1.0)
        report("loss/g", 2.0)
        for prefix in LOCAL_PREFIXES:
            report(prefix + "x", 3.0)
        row = c.flush(5, reduce=reduce)
    assert row == {"loss/d": 10.0, "loss/g": 20.0, **{p + "x": 3.0 for p in LOCAL_PREFIXES}}
    assert len(seen) == 1 and seen[0].dtype == torch.float64  # one collective for all shared names


def test_step_sums_means_are_per_interval_and_current_holds_the_sums():
    s = StepSums()
    assert s.means() == {} and s.current(("a",)) == {}
    for a, b in ((1.0, 10.0), (2.0, 20.0), (6.0, 0.0)):
        s.add({"a": torch.tensor(a), "b": torch.tensor(b)})
    assert {k: v.item() for k, v in s.current(("a",)).items()} == {"a": 9.0}
    means = s.means()
    assert list(means) == ["a", "b"] and all(v.dim() == 0 for v in means.values())
    assert {k: v.item() for k, v in means.items()} == {"a": 3.0, "b": 10.0}
    s.add({"a": torch.tensor(-1.0), "b": torch.tensor(4.0)})  # a new interval: the old steps are gone
    assert {k: v.item() for k, v in s.means().items()} == {"a": -1.0, "b": 4.0}
    assert {k: v.item() for k, v in means.items()} == {"a": 3.0, "b": 10.0}  # earlier means are not overwritten


def test_step_sums_keep_a_non_finite_step_in_the_sum():
    s = StepSums()
    s.add({"loss": torch.tensor(1.0)})
    s.add({"loss": torch.tensor(float("nan"))})
    s.add({"loss": torch.tensor(1.0)})
    assert math.isnan(s.current(("loss",))["loss"].item())


def test_read_jsonl_strict_and_tolerant_of_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss/d": 0.5}\n\n{"step": 2, "loss/d": 0.25}\n{"step": 3, "lo')
    with pytest.raises(json.JSONDecodeError):
        read_jsonl(path)
    assert read_jsonl(path, torn_ok=True) == [{"step": 1, "loss/d": 0.5}, {"step": 2, "loss/d": 0.25}]
    path.write_text('{"step": 1}\n[1, 2]\n')  # not an object: kept when strict, skipped when tolerant
    assert read_jsonl(path) == [{"step": 1}, [1, 2]] and read_jsonl(path, torn_ok=True) == [{"step": 1}]


def test_read_jsonl_of_a_missing_file(tmp_path):
    assert read_jsonl(tmp_path / "none.jsonl", torn_ok=True) == []
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "none.jsonl")


def test_truncation_of_a_missing_file_creates_nothing_and_a_later_step_keeps_everything(tmp_path):
    truncate_jsonl(tmp_path / "metrics.jsonl", 5)
    assert not (tmp_path / "metrics.jsonl").exists()
    rows = [{"step": 1, "x": 1.0}, {"step": 2, "x": 2.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    truncate_jsonl(tmp_path / "metrics.jsonl", 2)
    assert read_jsonl(tmp_path / "metrics.jsonl") == rows
    truncate_jsonl(tmp_path / "metrics.jsonl", 0)
    assert read_jsonl(tmp_path / "metrics.jsonl") == []


def test_a_name_reported_as_tensors_and_floats_averages_them_all(tmp_path):
    """Values of one name may come as tensors and as plain numbers, in either order: the mean of all."""
    from gankit import stats

    with stats.Collector(tmp_path) as c:
        for v in (torch.tensor(1.0), 2.0, torch.tensor([3.0, 5.0])):  # the last one counts as its mean, 4
            stats.report("x", v)
        stats.report("y", 1.0)
        stats.report("y", torch.tensor(3.0))
        row = c.flush(1)
    assert row == {"x": pytest.approx(7.0 / 3.0), "y": pytest.approx(2.0)}
