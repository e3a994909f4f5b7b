"""The Dirac-GAN of Mescheder, Geiger & Nowozin ("Which Training Methods for GANs do actually Converge?",
ICML 2018, section 2): p_data = δ₀, G = δ_θ, D(x) = ψx, the unique equilibrium (θ, ψ) = (0, 0).

The paper's convention throughout: L(θ, ψ) = E_z f(D(G(z))) + E_x f(−D(x)) with f(t) = −log(1 + e^{−t}),
D ascends L and G descends it. For the Dirac-GAN, L(θ, ψ) = f(ψθ) + f(0), whose gradient
vector field (G's and D's update directions) is

    v(θ, ψ) = (−ψ f'(ψθ), θ f'(ψθ)),        f'(t) = 1/(1 + e^t), f'(0) = ½.

Its Jacobian at (0, 0) is J = [[0, −f'(0)], [f'(0), 0]] with eigenvalues ±f'(0)i (their section 2), so:
  - simultaneous gradient steps x ← x + h v(x) have Jacobian I + hJ, eigenvalues 1 ± h f'(0) i of modulus
    √(1 + h² f'(0)²) > 1: the iterates spiral out slowly;
  - alternating steps (θ first, then ψ at the new θ) have Jacobian [[1, −a], [a, 1 − a²]], a = h f'(0),
    determinant 1 and trace 2 − a²: for a < 2 both eigenvalues have modulus 1 and the iterates circle;
  - R1 (γ/2 ‖∇_x D‖² = γ/2 ψ² on the real data, subtracted from D's objective) adds −γψ to
    D's direction: J_γ = [[0, −f'(0)], [f'(0), −γ]], eigenvalues −γ/2 ± √(γ²/4 − f'(0)²) with negative real
    part, and simultaneous steps with small h contract at the modulus of the eigenvalues of I + hJ_γ
    (their section 4, for the Dirac-GAN);
  - the non-saturating G descends −f(−ψθ): v = (−ψ f'(−ψθ), θ f'(ψθ)), the same Jacobian at (0, 0) as the
    minimax game, so the same eigenvalues and the same verdict, as the paper finds for it;
  - WGAN-GP: f(t) = t and the penalty γ/2 (|∇_x D| − g₀)² = γ/2 (|ψ| − g₀)² (their section 3). The field is
    not differentiable at ψ = 0, so no eigenvalues; instead d/dt ‖x‖²/2 = −γ(|ψ| − g₀)|ψ| ≥ 0 inside the disc
    ‖x‖ < g₀: the disc repels and the iterates never converge to (0, 0), the paper's verdict (not locally
    convergent).

RpGAN (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024, eq. 2) pairs a fake with a real sample:
D ascends f(D(G(z)) − D(x)) and G ascends f(D(x) − D(G(z))) (written here in the paper's convention, where
D is high on fakes). In the Dirac-GAN D(x) = ψ·0 = 0, so D's objective is f(ψθ − 0) = f(ψθ), L without the
constant f(0), and G descends −f(−ψθ): the field is exactly the non-saturating one, with the same eigenvalues
±f'(0)i at (0, 0). R1 on the real sample adds −γψ to D's direction as above; R2 (R1 on the fake sample
x̃ = θ: ∇_x̃ D = ψ as well) adds another −γψ, so RpGAN + R1 + R2 with weight γ each has J_{2γ} and converges
locally at the modulus of the eigenvalues of I + hJ_{2γ}, R3GAN's claim.

Everything runs in float64 NumPy: the maps are two-dimensional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .claims import Claim

__all__ = [
    "DiracGame",
    "GAMES",
    "f_prime",
    "step",
    "jacobian",
    "numerical_jacobian",
    "trajectory",
    "dirac_claims",
]

Field = Callable[[float, float], float]  # (θ, ψ) → one player's direction


def f_prime(t: float) -> float:
    """f'(t) for f(t) = −log(1 + e^{−t}): 1/(1 + e^t), written to stay finite for any t."""
    return 1.0 / (1.0 + math.exp(t)) if t < 0 else math.exp(-t) / (1.0 + math.exp(-t))


@dataclass(frozen=True)
class DiracGame:
    """One training method on the Dirac-GAN: the G direction as a function of (θ, ψ), the D direction as a
    function of (θ, ψ) (evaluated at G's new θ under alternating steps), and the closed-form Jacobian of the
    continuous field at (0, 0) (None where the field is not differentiable there)."""

    name: str
    g_dir: Field
    d_dir: Field
    jac: np.ndarray | None


def _games(gamma: float, g0: float) -> dict[str, DiracGame]:
    """The games of the rows; ``gamma`` the regularisers' weight, ``g0`` WGAN-GP's target gradient norm."""
    fp0 = f_prime(0.0)
    J0 = np.array([[0.0, -fp0], [fp0, 0.0]])
    JR = lambda g: np.array([[0.0, -fp0], [fp0, -g]])  # noqa: E731  D's direction gains −gψ
    mm_g: Field = lambda th, ps: -ps * f_prime(ps * th)  # noqa: E731  G descends f(ψθ)
    ns_g: Field = lambda th, ps: -ps * f_prime(-ps * th)  # noqa: E731  G descends −f(−ψθ)
    d: Field = lambda th, ps: th * f_prime(ps * th)  # noqa: E731  D ascends f(ψθ)

    def d_reg(g: float) -> Field:
        return lambda th, ps: th * f_prime(ps * th) - g * ps

    def gp_d(th: float, ps: float) -> float:  # f(t) = t: D ascends ψθ − γ/2 (|ψ| − g₀)²
        return th - gamma * (abs(ps) - g0) * float(np.sign(ps))

    return {
        "minimax": DiracGame("minimax", mm_g, d, J0),
        "nonsaturating": DiracGame("non-saturating", ns_g, d, J0),
        "r1": DiracGame(f"minimax + R1 (gamma={gamma:g})", mm_g, d_reg(gamma), JR(gamma)),
        "rpgan": DiracGame("RpGAN", ns_g, d, J0),  # f(ψθ − ψ·0) for D, −f(−ψθ) for G: the non-saturating field
        "rpgan_r1_r2": DiracGame(f"RpGAN + R1 + R2 (gamma={gamma:g} each)", ns_g, d_reg(2 * gamma), JR(2 * gamma)),
        "wgan_gp": DiracGame(f"WGAN-GP (gamma={gamma:g}, g0={g0:g})", lambda th, ps: -ps, gp_d, None),
    }


GAMMA, G0 = 0.3, 1.0  # γ < 2 f'(0) = 1: complex eigenvalues, so ‖x‖ contracts at one rate (no slow real mode)
GAMES = _games(GAMMA, G0)


def step(game: DiracGame, x: tuple[float, float], h: float, alternating: bool) -> tuple[float, float]:
    """One gradient step of size ``h`` from x = (θ, ψ): simultaneous (both directions at x) or alternating
    (θ first, then D's direction at the new θ)."""
    th, ps = x
    th_new = th + h * game.g_dir(th, ps)
    return th_new, ps + h * game.d_dir(th_new if alternating else th, ps)


def jacobian(game: DiracGame, h: float, alternating: bool) -> np.ndarray:
    """The closed-form Jacobian of :func:`step` at (0, 0). Simultaneous: I + hJ. Alternating: θ' = θ + h(J₀₀θ
    + J₀₁ψ) first, then ψ' = ψ + h(J₁₀θ' + J₁₁ψ), i.e. the lower row uses the new θ."""
    assert game.jac is not None, f"{game.name}: the field is not differentiable at (0, 0)"
    J = game.jac
    top = np.array([1.0 + h * J[0, 0], h * J[0, 1]])
    if not alternating:
        return np.eye(2) + h * J
    bottom = h * J[1, 0] * top + np.array([0.0, 1.0 + h * J[1, 1]])
    return np.vstack([top, bottom])


def numerical_jacobian(game: DiracGame, h: float, alternating: bool, eps: float = 1e-7) -> np.ndarray:
    """The Jacobian of :func:`step` at (0, 0) by central differences (the maps are smooth there, so the error
    is O(eps²) plus rounding, about 1e-9 at the default)."""
    cols = []
    for e in np.eye(2):
        plus = np.array(step(game, (eps * e[0], eps * e[1]), h, alternating))
        minus = np.array(step(game, (-eps * e[0], -eps * e[1]), h, alternating))
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=1)


def trajectory(game: DiracGame, x0: tuple[float, float], h: float, n: int, alternating: bool) -> np.ndarray:
    """The iterates x_0 … x_n of :func:`step`, [n + 1, 2]."""
    out = np.empty((n + 1, 2))
    out[0] = x0
    x = x0
    for k in range(1, n + 1):
        x = step(game, x, h, alternating)
        out[k] = x
    return out


def _rate_claim(game: DiracGame, h: float, n: int, alternating: bool, x0: float) -> tuple[Claim, np.ndarray]:
    """Measured rate (‖x_n‖/‖x_0‖)^{1/n} against the largest eigenvalue modulus r of the Jacobian at (0, 0).

    Tolerance: for the linear map A = VΛV⁻¹ with a complex pair |λ| = r, ‖Aⁿx‖/‖x‖ lies in [rⁿ/κ, rⁿκ],
    κ = cond(V), so |log rate − log r| ≤ log κ / n. The nonlinear terms: f'(t) = ½ − t/4 + … with
    |t| = |ψθ| ≤ ‖x‖²/2, below 1e-4 along every run from ‖x_0‖ = 1e-3 (the fastest, r = 1.00125, reaches
    ‖x‖ ≈ 1.2e-2 in 2,000 steps), so f' is off by under 3e-5 relative and the rate, √(1 + h²f'²) for the
    unregularised field, by under h²f'²·3e-5 ≈ 1e-7: whence the 1e-6 added.
    """
    A = jacobian(game, h, alternating)
    lam, V = np.linalg.eig(A)
    r = float(np.abs(lam).max())
    traj = trajectory(game, (x0, 0.0), h, n, alternating)
    rate = float((np.linalg.norm(traj[-1]) / x0) ** (1.0 / n))
    tol = r * math.log(np.linalg.cond(V)) / n + 1e-6
    how = "alternating" if alternating else "simultaneous"
    verdict = "spirals out" if r > 1 + 1e-12 else ("circles" if r > 1 - 1e-12 else "converges")
    lam_txt = ", ".join(f"{z.real:.6g}{z.imag:+.6g}i" for z in lam)
    claim = Claim(
        f"Dirac-GAN, {game.name}, {how} steps h={h:g}, {n} steps from |x0|={x0:g}: per-step rate "
        f"(|x_n|/|x_0|)^(1/n) = max |eigenvalue| of the Jacobian at (0,0) [{lam_txt}]: {verdict}",
        r,
        rate,
        tol,
        abs(rate - r) <= tol,
    )
    return claim, traj


def _wgan_gp_claim(h: float, n: int, x0: float) -> tuple[Claim, np.ndarray]:
    """WGAN-GP leaves the disc ‖x‖ < g₀: the smallest ‖x_k‖ over the second half is at least g₀.

    Why a bound holds in discrete time: ‖x + hv‖² = ‖x‖² + 2h x·v + h²‖v‖², and x·v = −γ(|ψ| − g₀)|ψ| ≥ 0
    when |ψ| ≤ g₀, so the norm never falls inside the disc; when |ψ| > g₀ it falls at most to
    |ψ|²(1 − 2hγ) + 2hγg₀|ψ| ≥ g₀² (for 2hγ ≤ 1), so once outside the disc the iterates stay outside.
    """
    game = GAMES["wgan_gp"]
    assert 2 * h * GAMMA <= 1
    traj = trajectory(game, (x0, 0.0), h, n, alternating=False)
    low = float(np.linalg.norm(traj[n // 2 :], axis=1).min())
    claim = Claim(
        f"Dirac-GAN, {game.name}, simultaneous steps h={h:g}, {n} steps from |x0|={x0:g}: not locally "
        "convergent, the disc |x| < g0 repels (d|x|^2/dt >= 0 inside it); smallest |x_k| over the second "
        "half >= g0",
        G0,
        low,
        0.0,
        low >= G0,
    )
    return claim, traj


def dirac_claims(h: float = 0.1, n: int = 2000, x0: float = 1e-3) -> tuple[list[Claim], dict]:
    """The Dirac-GAN rows (measured rate against the eigenvalue modulus, per method) and the figure's data:
    per method, the iterates from (θ, ψ) = (0.25, 0) beside those of the linearised map x ← Ax (the
    predicted spiral or circle; None for WGAN-GP, whose field has no Jacobian at (0, 0))."""
    rows, fig = [], {}
    cases = [
        ("minimax", False),
        ("minimax", True),
        ("nonsaturating", False),
        ("r1", False),
        ("rpgan", False),
        ("rpgan_r1_r2", False),
    ]
    start = (0.25, 0.0)
    for key, alternating in cases:
        claim, _ = _rate_claim(GAMES[key], h, n, alternating, x0)
        rows.append(claim)
        A = jacobian(GAMES[key], h, alternating)
        pred = np.empty((n + 1, 2))
        pred[0] = start
        for k in range(n):
            pred[k + 1] = A @ pred[k]
        label = GAMES[key].name + (", alternating" if alternating else ", simultaneous")
        fig[label] = {"traj": trajectory(GAMES[key], start, h, n, alternating), "pred": pred, "rate": claim.measured}
    claim, traj = _wgan_gp_claim(h, n, x0)
    rows.append(claim)
    fig[GAMES["wgan_gp"].name + ", simultaneous"] = {"traj": traj, "pred": None, "g0": G0}
    return rows, fig
