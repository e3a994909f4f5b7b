"""Statistics (gankit.stats): reported values averaged per name and flushed as one JSON object a line, with
given values (learning rates) and time columns (wall time continued by a resume, throughput); images to
TensorBoard; rows and images to sinks (the trackers); per-step sums on the device; metrics.jsonl read
tolerantly after a kill, cut back on resume, never written through a planted link."""

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


# --- the columns every training row carries: given values (learning rates) and times --------------------------


def test_given_values_and_time_columns_join_a_row_and_make_none_alone(tmp_path):
    with Collector(tmp_path, images_per_step=64) as c:
        assert c.flush(1, given={"lr/g": 1e-4}) == {}  # nothing reported: no row, whatever is given
        report("loss/d", 1.0)
        first = c.flush(2, given={"lr/g": 1e-4, "lr/d": 2e-4})
        report("loss/d", 2.0)
        second = c.flush(5, reduce=lambda t: t * 10, given={"lr/g": 3e-5})  # given values are not reduced
    assert list(first) == ["loss/d", "lr/g", "lr/d", "time/wall_s", "time/img_per_s"]
    assert second["loss/d"] == 20.0 and second["lr/g"] == 3e-5
    assert 0 < first["time/wall_s"] < second["time/wall_s"]
    # throughput: the images of the steps since the last row over the seconds since it (the same clock)
    assert second["time/img_per_s"] == pytest.approx(3 * 64 / (second["time/wall_s"] - first["time/wall_s"]))
    assert read_jsonl(tmp_path / "metrics.jsonl") == [{"step": 2, **first}, {"step": 5, **second}]
    with Collector(None) as c:  # without images_per_step (a collector outside training): no time columns
        report("x", 1.0)
        assert c.flush(1) == {"x": 1.0}


def test_a_resumed_collector_continues_the_wall_time_of_the_last_row(tmp_path):
    rows = [{"step": 4, "loss/d": 1.0, "time/wall_s": 50.0}, {"step": 8, "loss/d": 1.0, "time/wall_s": 100.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Collector(tmp_path, start_step=8, images_per_step=10) as c:
        report("loss/d", 1.0)
        row = c.flush(10)
    assert 100.0 < row["time/wall_s"] < 160.0
    assert row["time/img_per_s"] == pytest.approx(2 * 10 / (row["time/wall_s"] - 100.0))
    with Collector(tmp_path, start_step=0, images_per_step=10) as c:  # a new run starts at 0 whatever is there
        report("loss/d", 1.0)
        assert c.flush(1)["time/wall_s"] < 60.0


def test_last_value_reads_the_tail_and_skips_what_is_not_a_number(tmp_path):
    from gankit.stats import last_value

    path = tmp_path / "metrics.jsonl"
    assert last_value(path, "time/wall_s") == 0.0  # no file
    lines = [{"step": 1, "t": 3.5}, {"step": 2, "t": "nan"}, {"step": 3, "t": True}, {"step": 4}, [1]]
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in lines) + b'{"step": 5, "t": 9')
    assert last_value(path, "t") == 3.5  # the torn line, the text, the bool and the row without it are skipped
    path.write_text("".join(json.dumps({"step": s, "t": float(s)}) + "\n" for s in range(1, 2000)))
    assert last_value(path, "t", tail=100) == 1999.0  # only the tail is read
    path.write_text(json.dumps({"step": 1, "t": 7.0}) + "\n" + "x" * 200 + "\n")
    assert last_value(path, "t", tail=100) == 0.0  # not within the tail: a clock that starts again
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    assert last_value(link, "t") == 0.0  # a planted link is not read


# --- images and sinks --------------------------------------------------------------------------------------


class _Sink:
    def __init__(self):
        self.rows, self.images, self.closed = [], [], []

    def log(self, row, step):
        self.rows.append((step, dict(row)))

    def image(self, tag, path, step):
        self.images.append((tag, path.name, step))

    def close(self, failed=False):
        self.closed.append(failed)


def test_images_go_to_tensorboard_and_rows_and_images_to_the_sinks(tmp_path):
    import io

    import numpy as np
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    pixels = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "grid.png")
    Image.fromarray(np.dstack([pixels, np.full((12, 20), 255, np.uint8)])).save(tmp_path / "rgba.png")
    sink = _Sink()
    with Collector(tmp_path, tensorboard=True, sinks=[sink]) as c:
        report("loss/d", 0.5)
        c.flush(3)
        c.image("samples", tmp_path / "grid.png", 3)
        c.image("samples", tmp_path / "rgba.png", 6)  # a matplotlib figure's RGBA: sent as RGB
    assert sink.rows == [(3, {"loss/d": 0.5})] and sink.closed == [False]
    assert sink.images == [("samples", "grid.png", 3), ("samples", "rgba.png", 6)]
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0})
    events.Reload()
    shown = events.Images("samples")
    assert [(e.step, e.width, e.height) for e in shown] == [(3, 20, 12), (6, 20, 12)]
    for e in shown:  # the pixels themselves, losslessly
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB")), pixels)


def test_sinks_end_as_failed_when_an_exception_ends_the_collector(tmp_path):
    sink = _Sink()
    with pytest.raises(RuntimeError):
        with Collector(None, sinks=[sink]):
            raise RuntimeError("diverged")
    assert sink.closed == [True]
    sink = _Sink()
    c = Collector(None, sinks=[sink])
    try:
        raise ValueError("out of memory")
    except ValueError:
        c.close()  # closed while an exception is handled (a session's clean-up): failed
    assert sink.closed == [True]
    (tmp_path / "metrics.jsonl").symlink_to(tmp_path / "elsewhere")
    sink = _Sink()
    with pytest.raises(OSError):
        Collector(tmp_path, sinks=[sink])  # the collector cannot open: the sinks given are ended
    assert sink.closed == [True]
