"""metrics.jsonl: read tolerantly after a kill, cut back on resume, never written through a planted link."""

import json

import pytest

from gankit.stats import Collector, read_jsonl, truncate_jsonl


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
