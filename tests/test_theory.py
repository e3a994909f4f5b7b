import json
import math

import pytest
import torch

from gankit.theory import identity_claims, saturation_claim
from gankit.cli import main
from gankit.nets import MLPDiscriminator, MLPGenerator


def test_identity_rows_pass_and_include_the_extremes():
    rows = identity_claims()
    assert len(rows) >= 4 and all(r.passed for r in rows)
    by_name = {r.check: r for r in rows}
    same = next(r for name, r in by_name.items() if "itself" in name)
    assert same.measured == pytest.approx(-math.log(4), abs=1e-9)  # p_g = p_data: −log 4
    disjoint = next(r for name, r in by_name.items() if "disjoint" in name)
    assert disjoint.measured == pytest.approx(0.0, abs=1e-9)  # JSD = log 2: C(G) = 0


def test_saturation_ratio_is_d_over_one_minus_d():
    G = MLPGenerator(1, 1, hidden=8, layers=1, act="tanh")
    D = MLPDiscriminator(1, hidden=4, layers=1)
    with torch.no_grad():
        D.net[-1].bias.fill_(-6.0)  # a discriminator confident that G's samples are fake
    claim, d_fake = saturation_claim(G, D)
    assert claim.passed
    assert d_fake < 0.05 and claim.measured == pytest.approx(claim.theory, rel=1e-9)


def test_gankit_theory_passes_every_row(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["theory", "--out", str(tmp_path), "--json"])
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert e.value.code == 0, out
    assert len(rows) >= 10
    for row in rows:
        assert set(row) == {"check", "theory", "measured", "tolerance", "passed"}
        assert row["passed"], row
    assert (tmp_path / "figure1.png").stat().st_size > 10000
    assert (tmp_path / "curves.png").stat().st_size > 10000
    assert json.loads((tmp_path / "claims.json").read_text()) == rows
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5 and "figure1" in page
