"""Theorem 1 by quadrature: V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g) for several pairs of densities."""

from __future__ import annotations

from ..distributions import GaussianMixture
from ..exact import LOG4, jsd, optimal_logit, simpson_grid, value
from .claims import Claim
from .grid import gauss

__all__ = ["identity_claims"]


def identity_claims() -> list[Claim]:
    """Theorem 1 by quadrature: V(D*, G) computed from D*'s logit equals −log 4 + 2·JSD."""
    pairs = [
        ("N(0,1) vs N(1,1)", gauss(0, 1), gauss(1, 1)),
        ("N(0,1) vs N(0,2²)", gauss(0, 1), gauss(0, 2)),
        ("½N(−2,½²)+½N(2,½²) vs N(0,1.5²)", GaussianMixture([1, 1], [-2, 2], [0.5, 0.5]), gauss(0, 1.5)),
        ("N(0,1) vs itself", gauss(0, 1), gauss(0, 1)),
        ("N(−5,0.3²) vs N(5,0.3²), nearly disjoint", gauss(-5, 0.3), gauss(5, 0.3)),
    ]
    x, w = simpson_grid(-20.0, 20.0, 400001)
    rows = []
    for name, pd, pg in pairs:
        lpd, lpg = pd.log_prob(x), pg.log_prob(x)
        v_star = value(lpd.exp(), lpg.exp(), optimal_logit(lpd, lpg), w).item()
        predicted = -LOG4 + 2 * jsd(lpd.exp(), lpg.exp(), w).item()
        rows.append(
            Claim(
                f"V(D*,G) = -log 4 + 2 JSD by quadrature [{name}]",
                predicted,
                v_star,
                1e-6,
                abs(v_star - predicted) <= 1e-6,
            )
        )
    return rows
