"""``gankit theory``: the claims of Goodfellow et al. (2014), each measured beside its prediction.

One 1-D experiment drives every row: the ``gauss1d`` preset (p_data = N(2, 0.5²), an MLP G
from z ~ N(0, 1)) is trained with the real loop while snapshots of G and D are kept. p_g of a
snapshot comes from :func:`gankit.theory.pushforward_masses_1d` (a quadrature grid over z pushed
through G), so D*, C(G) and JSD are computed, not estimated from samples.

Rows (claim, predicted, measured, tolerance, pass):
  1. V(D*, G) = −log 4 + 2·JSD by quadrature, for several pairs of densities (Theorem 1).
  2. With G fixed, D trained to convergence matches D* (Proposition 1).
  3. That D's Monte-Carlo value of V is within 0.02 of C(G) and not above it beyond sampling error.
  4. After full training: JSD ≤ 0.02 nats, D within [0.4, 0.6] where p_data lives, C(G) ≈ −log 4.
  5. Saturation: at a confident D, the gradient reaching G through log(1 − D(G(z))) is the one
     through −log D(G(z)) times D/(1 − D).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Config, load_config
from ..distributions import GaussianMixture
from ..objectives import minimax_d_loss, minimax_g_loss, nonsaturating_g_loss
from ..exact import (
    LOG4,
    density_descent,
    gaussian_quantile,
    jsd,
    optimal_logit,
    pushforward_masses_1d,
    simpson_grid,
    value,
    virtual_training_criterion,
    wasserstein1_1d,
)
from ..build import build_run
from ..training import train

__all__ = ["Claim", "run_claims", "fit_discriminator", "format_table", "THEORY_PRESET"]

THEORY_PRESET = "gauss1d"


@dataclass
class Claim:
    """One row of the table: what the theory predicts, what was measured, and whether they agree."""

    check: str
    theory: float | None  # None: a measurement reported for itself, with nothing to compare
    measured: float
    tolerance: float | None
    passed: bool


def fit_discriminator(D: nn.Module, sample_real: Callable[[int], Tensor], sample_fake: Callable[[int], Tensor],
                      steps: int = 3000, batch: int = 2048, lr: float = 2e-3) -> nn.Module:
    """Train D alone (G fixed) on the minimax D loss until it settles: Adam, cosine decay to 0.

    Fresh samples every step, so D fits the densities, not a finite sample.
    """
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        loss = minimax_d_loss(D(sample_real(batch)), D(sample_fake(batch)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return D


class _Grid:
    """Bins for the 1-D experiment: edges [B+1], centres [B], exact p_data masses [B]."""

    def __init__(self, target: GaussianMixture, bins: int = 2000):
        lo, hi = (float(v) for v in target.bounds(6.0))
        pad = 0.75 * (hi - lo)
        self.edges = torch.linspace(lo - pad, hi + pad, bins + 1, dtype=torch.float64)
        self.centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        self.width = float(self.edges[1] - self.edges[0])
        self.p_data = target.cell_masses([self.edges])

    def p_g(self, G: nn.Module, n_z: int = 2**20) -> Tensor:
        return pushforward_masses_1d(G, self.edges, n_z=n_z)

    def d_star(self, p_g: Tensor, min_mass: float = 0.0, fill: float = 0.5) -> Tensor:
        """D* = p_data/(p_data + p_g) per bin, from bin masses; ``fill`` where p_data + p_g ≤ ``min_mass``
        (a ratio of two vanishing masses is noise, and undefined where both are 0)."""
        both = self.p_data + p_g
        return torch.where(both > min_mass, self.p_data / both.clamp(min=1e-300), torch.full_like(both, fill))

    @torch.no_grad()
    def logits(self, D: nn.Module) -> Tensor:
        return D(self.centres[:, None].float()).double()


def _with_rest(p: Tensor) -> Tensor:
    """Masses plus one cell for whatever fell outside the grid, so they sum to 1."""
    return torch.cat([p, (1 - p.sum()).clamp(min=0).reshape(1)])


def _gauss(mu: float, sd: float) -> GaussianMixture:
    return GaussianMixture([1.0], [mu], [sd])


def identity_claims() -> list[Claim]:
    """Theorem 1 by quadrature: V(D*, G) computed from D*'s logit equals −log 4 + 2·JSD."""
    pairs = [
        ("N(0,1) vs N(1,1)", _gauss(0, 1), _gauss(1, 1)),
        ("N(0,1) vs N(0,2²)", _gauss(0, 1), _gauss(0, 2)),
        ("½N(−2,½²)+½N(2,½²) vs N(0,1.5²)", GaussianMixture([1, 1], [-2, 2], [0.5, 0.5]), _gauss(0, 1.5)),
        ("N(0,1) vs itself", _gauss(0, 1), _gauss(0, 1)),
        ("N(−5,0.3²) vs N(5,0.3²), nearly disjoint", _gauss(-5, 0.3), _gauss(5, 0.3)),
    ]
    x, w = simpson_grid(-20.0, 20.0, 400001)
    rows = []
    for name, pd, pg in pairs:
        lpd, lpg = pd.log_prob(x), pg.log_prob(x)
        v_star = value(lpd.exp(), lpg.exp(), optimal_logit(lpd, lpg), w).item()
        predicted = -LOG4 + 2 * jsd(lpd.exp(), lpg.exp(), w).item()
        rows.append(Claim(f"V(D*,G) = -log 4 + 2 JSD by quadrature [{name}]", predicted, v_star, 1e-6,
                          abs(v_star - predicted) <= 1e-6))
    return rows


def _mc_value(D: nn.Module, G: nn.Module, target: GaussianMixture, n: int = 2**20) -> tuple[float, float]:
    """Monte-Carlo V(D, G) = mean log D(x) + mean log(1 − D(G(z))) and its standard error."""
    with torch.no_grad():
        a = -F.softplus(-D(target.sample(n))).double()  # log D(x), x ~ p_data
        b = -F.softplus(D(G(torch.randn(n, 1)))).double()  # log(1 − D(G(z))), z ~ p_z
    return (a.mean() + b.mean()).item(), math.sqrt(a.var().item() / n + b.var().item() / n)


def saturation_claim(G: nn.Module, D: nn.Module, n: int = 32) -> tuple[Claim, float]:
    """Per sample, ∂/∂θ log(1 − σ(f)) = −σ(f)·∂f/∂θ and ∂/∂θ −log σ(f) = −(1 − σ(f))·∂f/∂θ, f = D(G(z; θ)).

    Both are multiples of the same vector, so their norms are in the ratio σ(f)/(1 − σ(f)) = e^f.
    Measured in float64 per sample through the real loss functions and autograd.
    """
    G64, D64 = copy.deepcopy(G).double().requires_grad_(True), copy.deepcopy(D).double()
    params = list(G64.parameters())
    z = torch.randn(n, 1, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    predicted, measured, d_fake = [], [], []
    for i in range(n):
        f = D64(G64(z[i : i + 1]))
        g_mm = torch.autograd.grad(minimax_g_loss(None, f), params, retain_graph=True)
        g_ns = torch.autograd.grad(nonsaturating_g_loss(None, f), params)
        norm = lambda gs: torch.sqrt(sum(g.square().sum() for g in gs))  # noqa: E731
        measured.append((norm(g_mm) / norm(g_ns)).item())
        predicted.append(math.exp(f.item()))
        d_fake.append(torch.sigmoid(f).item())
    rel = max(abs(m / p - 1) for m, p in zip(measured, predicted))
    geo = lambda v: math.exp(sum(math.log(t) for t in v) / len(v))  # noqa: E731
    claim = Claim(f"saturation: |grad log(1-D(G(z)))| / |grad -log D(G(z))| = D/(1-D) at a confident D "
                  f"(geometric mean over {n} samples; max relative error {rel:.1e})",
                  geo(predicted), geo(measured), 1e-6, rel <= 1e-6)
    return claim, geo(d_fake)


def logit_claim(grid: "_Grid", p_g: Tensor, D: nn.Module) -> tuple[Claim, dict]:
    """The logit form: with D = σ(f), the pointwise maximiser of p_data·log σ(f) + p_g·log(1 − σ(f))
    is f* = log(p_data/p_g) (set the derivative p_data·(1 − σ(f)) − p_g·σ(f) to zero).

    Compared where both densities are at least 1% of their peaks; error weighted by (p_data+p_g)/2.
    """
    mask = (grid.p_data >= 0.01 * grid.p_data.max()) & (p_g >= 0.01 * p_g.max())
    f_star = grid.p_data.log() - p_g.log()
    f = grid.logits(D)
    w = 0.5 * (grid.p_data + p_g)[mask]
    err = (((f - f_star)[mask]).abs() * w).sum().item() / w.sum().item()
    claim = Claim("G fixed: D's logit = log(p_data/p_g) where both densities are >= 1% of their peaks; "
                  "mean |f - f*| weighted by (p_data+p_g)/2, nats", 0.0, err, 0.1, err <= 0.1)
    fig = {"x": grid.centres.numpy(), "f": f.numpy(), "f_star": torch.where(mask, f_star, torch.nan).numpy(),
           "p_data": (grid.p_data / grid.width).numpy(), "p_g": (p_g / grid.width).numpy()}
    return claim, fig


def proposition2_claims(steps: int = 100, lr: float = 0.5) -> tuple[list[Claim], dict]:
    """Proposition 2 on a grid of 200 cells: p_g a normalised histogram, D = D* at every step."""
    edges = torch.linspace(-4.0, 6.0, 201, dtype=torch.float64)
    p_data = GaussianMixture([0.3, 0.7], [0.0, 3.0], [0.6, 0.8]).cell_masses([edges])
    p_data = p_data / p_data.sum()
    p_g0 = _gauss(-1.0, 1.0).cell_masses([edges])
    hist = density_descent(p_data, p_g0 / p_g0.sum(), steps, lr)
    c, j = hist["C"], hist["jsd"]
    rise = (c[1:] - c[:-1]).max().item()  # > 0 would break monotonicity (beyond rounding)
    rows = [
        Claim(f"Proposition 2 on a 200-cell grid, D = D* at each step: C(p_g) falls monotonically "
              f"(largest step-to-step rise {rise:.1e}) to -log 4 in {steps} steps", -LOG4, c[-1].item(), 1e-4,
              abs(c[-1].item() + LOG4) <= 1e-4 and rise <= 1e-12),
        Claim("Proposition 2: JSD(p_data || p_g) at the end, nats", 0.0, j[-1].item(), 1e-4, j[-1].item() <= 1e-4),
    ]
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig = {"x": centres.numpy(), "width": float(edges[1] - edges[0]), "p_data": p_data.numpy(),
           "p_g": hist["p_g"].numpy(), "C": c.numpy(), "jsd": j.numpy()}
    return rows, fig


def _wgan_critic_gradient(theta: float, eps: float, steps: int = 1000, seed: int = 0) -> float:
    """d/dθ of the WGAN generator loss −E[D(θ + εz)] with a WGAN-GP critic trained between
    N(0, ε²) and N(θ, ε²) (λ = 10, Adam 1e-3, β = (0.5, 0.9))."""
    from ..nets import MLPDiscriminator
    from ..objectives import gradient_penalty, wasserstein_d_loss, wasserstein_g_loss

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    D = MLPDiscriminator(1, 64, 2)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(steps):
        real = eps * torch.randn(256, 1, generator=gen)
        fake = theta + eps * torch.randn(256, 1, generator=gen)
        loss = wasserstein_d_loss(D(real), D(fake)) + 10.0 * gradient_penalty(D, real, fake)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    th = torch.tensor(theta, requires_grad=True)
    (g,) = torch.autograd.grad(wasserstein_g_loss(None, D(th + eps * torch.randn(4096, 1, generator=gen))), th)
    return g.item()


def wgan_claims(eps: float = 0.01) -> tuple[list[Claim], dict]:
    """Example 1 of Arjovsky et al. (2017): p_data = N(0, ε²), p_θ = N(θ, ε²), ε = 0.01.

    For θ ≫ ε the supports do not overlap (to float64 precision): JSD = log 2 whatever θ, so
    the optimal discriminator's minimax loss is flat in θ and its gradient vanishes, while
    W1 = |θ| keeps pointing to θ = 0, and a WGAN-GP critic passes that slope of 1 on to G.
    """
    thetas = [0.25, 0.5, 1.0, 2.0, 4.0]
    pd = _gauss(0.0, eps)
    jsds, w1s, g_mm, g_ns = [], [], [], []
    z = torch.randn(4096, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    for th in thetas:
        x, w = simpson_grid(-20 * eps, th + 20 * eps, 200001)
        pg = _gauss(th, eps)
        jsds.append(jsd(pd.prob(x), pg.prob(x), w).item())
        w1s.append(wasserstein1_1d(gaussian_quantile(0.0, eps), gaussian_quantile(th, eps)))
        # G(z) = θ + εz against D = D* of the current θ, held fixed; differentiate through the samples.
        theta = torch.tensor(th, dtype=torch.float64, requires_grad=True)
        xs = theta + eps * z
        f_star = pd.log_prob(xs) - _gauss(th, eps).log_prob(xs)  # log p_data − log p_g, D* fixed
        (gm,) = torch.autograd.grad(minimax_g_loss(None, f_star), theta, retain_graph=True)
        (gn,) = torch.autograd.grad(nonsaturating_g_loss(None, f_star), theta)
        g_mm.append(gm.item())
        g_ns.append(gn.item())
    critic = {th: _wgan_critic_gradient(th, eps) for th in (0.5, 1.0, 2.0)}
    far = max(critic.values(), key=lambda g: abs(abs(g) - 1))
    w1_err = max(abs(w - abs(t)) for w, t in zip(w1s, thetas))
    rows = [
        Claim(f"WGAN example, N(0,{eps}^2) vs N(theta,{eps}^2), theta in {thetas}: JSD = log 2 for every theta "
              "(value farthest from log 2)", math.log(2), min(jsds, key=lambda v: abs(v - math.log(2))), 1e-9,
              all(abs(v - math.log(2)) <= 1e-9 for v in jsds)),
        Claim("WGAN example: minimax generator gradient d/dtheta E log(1 - D*(G(z))) with D = D* vanishes "
              "(largest |gradient|)", 0.0, max(abs(g) for g in g_mm), 1e-8, max(abs(g) for g in g_mm) <= 1e-8),
        Claim("WGAN example: W1 = |theta| via quantile functions (largest error)", 0.0, w1_err, 1e-9,
              w1_err <= 1e-9),
        Claim("WGAN example: a trained WGAN-GP critic gives |d/dtheta| of the generator loss = 1 "
              f"at theta in {sorted(critic)} (value farthest from 1)", 1.0, abs(far), 0.15,
              all(abs(abs(g) - 1) <= 0.15 for g in critic.values())),
    ]
    fig = {"theta": thetas, "jsd": jsds, "w1": w1s, "g_minimax": g_mm, "g_nonsat": g_ns,
           "critic": critic}
    return rows, fig


def dynamics_claims(steps: int | None = None) -> tuple[list[Claim], dict]:
    """The ``bimodal1d`` preset trained with ``minimax`` and with ``nonsaturating``, same seed.

    Reports per objective the JSD reached, the modes kept (a mode counts when it receives at
    least 10% of its share of p_g's mass within 3σ), and the share of steps where ‖∇_θ G‖ < 1e-3.
    """
    rows, fig = [], {}
    for name in ("minimax", "nonsaturating"):
        over = ["train.progress=false", "train.tensorboard=false", f"objective.name={name}"]
        if steps is not None:
            over.append(f"train.steps={steps}")
        cfg = load_config("bimodal1d", overrides=over)
        norms: list[float] = []

        def grad_norm(step: int, G: nn.Module, D: nn.Module) -> None:
            if step > 0:  # G's gradients of this step are still in .grad after its update
                norms.append(math.sqrt(sum(p.grad.square().sum().item() for p in G.parameters())))

        res = train(cfg, None, callback=grad_norm)
        target = res.target
        grid = _Grid(target)
        p_g = grid.p_g(res.G, n_z=2**18)
        j = jsd(_with_rest(grid.p_data), _with_rest(p_g)).item()
        kept = 0
        for mu, sd, wk in zip(target.means[:, 0], target.stds[:, 0], target.weights):
            near = (grid.centres - mu).abs() <= 3 * sd
            kept += int(p_g[near].sum().item() >= 0.1 * wk.item())
        flat = sum(n < 1e-3 for n in norms) / len(norms)
        k = len(target.weights)
        rows += [
            Claim(f"bimodal target, {name} objective, {cfg.train.steps} steps: JSD(p_data || p_g) reached, nats",
                  None, j, None, True),
            Claim(f"bimodal target, {name}: modes kept (of {k})", None, float(kept), None, True),
            Claim(f"bimodal target, {name}: share of steps with |grad_theta G loss| < 1e-3", None, flat, None, True),
        ]
        fig[name] = {"x": grid.centres.numpy(), "p_data": (grid.p_data / grid.width).numpy(),
                     "p_g": (p_g / grid.width).numpy(), "norms": norms, "jsd": j}
    return rows, fig


def run_claims(out_dir: str | Path | None = None, log: Callable[[str], None] = lambda s: None,
               cfg: Config | None = None) -> list[Claim]:
    """Run the experiment, return the rows, and write the figures to ``out_dir`` if given.

    Runs on one CPU thread: the networks are tiny, so extra threads only add overhead, and on
    a loaded machine OpenMP threads that wait on each other can make the run many times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_claims(out_dir, log, cfg)
    finally:
        torch.set_num_threads(threads)


def _run_claims(out_dir: str | Path | None, log: Callable[[str], None], cfg: Config | None) -> list[Claim]:
    t0 = time.perf_counter()
    cfg = cfg or load_config(THEORY_PRESET, overrides=["train.progress=false", "train.tensorboard=false"])
    steps = cfg.train.steps
    fixed_step = max(1, steps // 10)  # early: p_g overlaps p_data only in part
    mid_step = max(fixed_step, steps // 4)
    keep = {0, fixed_step, mid_step, steps}
    curve_every = max(1, steps // 40)
    snaps: dict[int, tuple[dict, dict]] = {}

    def snapshot(step: int, G: nn.Module, D: nn.Module) -> None:
        if step in keep or step % curve_every == 0:
            snaps[step] = (copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict()))

    rows = identity_claims()
    log(f"identity rows done ({time.perf_counter() - t0:.1f}s)")

    # The full GAN run (Algorithm 1), keeping snapshots for the fixed-G experiment and the figure.
    result = train(cfg, None, callback=snapshot)
    log(f"GAN trained for {steps} steps ({time.perf_counter() - t0:.1f}s)")
    target = result.target
    grid = _Grid(target)
    torch.manual_seed(cfg.train.seed + 1)
    _, G, D = build_run(cfg, torch.device("cpu"))  # shells to load snapshots into

    def load(step: int) -> tuple[nn.Module, nn.Module]:
        G.load_state_dict(snaps[step][0])
        D.load_state_dict(snaps[step][1])
        return G, D

    # --- Proposition 1: with G fixed, D trained to convergence is D* ---------------------------
    G_fixed = copy.deepcopy(load(fixed_step)[0]).requires_grad_(False)
    D_early = copy.deepcopy(D)
    torch.manual_seed(cfg.train.seed + 2)
    _, _, D_conv = build_run(cfg, torch.device("cpu"))
    fit_discriminator(D_conv, target.sample, lambda n: G_fixed(torch.randn(n, 1)))
    p_g = grid.p_g(G_fixed)
    pd, pg = _with_rest(grid.p_data), _with_rest(p_g)
    w = 0.5 * (grid.p_data + p_g)  # (p_data + p_g)/2 as bin masses
    d_star = grid.d_star(p_g)
    d_conv = torch.sigmoid(grid.logits(D_conv))
    err = ((d_conv - d_star).abs() * w).sum().item() / w.sum().item()
    rows.append(Claim(f"G fixed (step {fixed_step}): D trained to convergence = D*; mean |D - D*| "
                      "weighted by (p_data+p_g)/2", 0.0, err, 0.02, err <= 0.02))
    c_fixed = virtual_training_criterion(pd, pg).item()
    v_mc, se = _mc_value(D_conv, G_fixed, target)
    rows.append(Claim(f"G fixed: Monte-Carlo V(D,G) of that D (2^20 samples, s.e. {se:.1e}) = C(G), "
                      "never above it beyond 3 s.e.", c_fixed, v_mc, 0.02,
                      abs(v_mc - c_fixed) <= 0.02 and v_mc <= c_fixed + 3 * se))
    logit_row, logit_fig = logit_claim(grid, p_g, D_conv)
    rows.append(logit_row)
    log(f"fixed-G rows done ({time.perf_counter() - t0:.1f}s)")

    # --- Theorem 1 at the end of training: p_g = p_data, D = 1/2, C(G) = −log 4 -----------------
    G_end, D_end = result.G, result.D
    p_g_end = grid.p_g(G_end)
    jsd_end = jsd(_with_rest(grid.p_data), _with_rest(p_g_end)).item()
    rows.append(Claim(f"after {steps} steps of training: JSD(p_data || p_g) in nats", 0.0, jsd_end, 0.02,
                      jsd_end <= 0.02))
    order = torch.argsort(grid.p_data, descending=True)
    core = torch.zeros_like(grid.p_data, dtype=torch.bool)
    core[order[: int((grid.p_data[order].cumsum(0) < 0.95).sum()) + 1]] = True  # 95% highest-density bins
    d_end = torch.sigmoid(grid.logits(D_end))[core]
    far = d_end[(d_end - 0.5).abs().argmax()].item()
    rows.append(Claim("after training: D(x) on the 95% highest-density region of p_data "
                      "(value farthest from 1/2)", 0.5, far, 0.1, abs(far - 0.5) <= 0.1))
    c_end = virtual_training_criterion(_with_rest(grid.p_data), _with_rest(p_g_end)).item()
    rows.append(Claim("after training: C(G) = max_D V(D,G) = -log 4", -LOG4, c_end, 0.05, abs(c_end + LOG4) <= 0.05))

    # --- Saturation: a D that confidently rejects the initial G ---------------------------------
    G0 = copy.deepcopy(load(0)[0]).requires_grad_(False)
    torch.manual_seed(cfg.train.seed + 3)
    _, _, D_sat = build_run(cfg, torch.device("cpu"))
    fit_discriminator(D_sat, target.sample, lambda n: G0(torch.randn(n, 1)), steps=400, batch=512)
    sat, d_fake = saturation_claim(G0, D_sat)
    sat.check += f"; mean D(G(z)) = {d_fake:.1e}"
    rows.append(sat)
    log(f"Theorem 1 rows done ({time.perf_counter() - t0:.1f}s)")

    prop2_rows, prop2_fig = proposition2_claims()
    rows += prop2_rows
    wgan_rows, wgan_fig = wgan_claims()
    rows += wgan_rows
    log(f"Proposition 2 and WGAN rows done ({time.perf_counter() - t0:.1f}s)")
    dyn_rows, dyn_fig = dynamics_claims()
    rows += dyn_rows
    log(f"all rows done ({time.perf_counter() - t0:.1f}s)")

    if out_dir is not None:
        out = Path(out_dir)
        _figures(out, grid, snaps, load, fixed_step, mid_step, steps, D_early, D_conv, G_fixed)
        from ..plots import plot_dynamics, plot_logit, plot_proposition2, plot_wgan

        plot_logit(logit_fig, out / "logit.png")
        plot_proposition2(prop2_fig, out / "proposition2.png")
        plot_wgan(wgan_fig, out / "wgan.png")
        plot_dynamics(dyn_fig, out / "dynamics.png")
        log(f"figures written to {out_dir} ({time.perf_counter() - t0:.1f}s)")
    return rows


def _figures(out: Path, grid: _Grid, snaps, load, fixed_step, mid_step, steps, D_early, D_conv, G_fixed) -> None:
    from ..plots import plot_figure1, plot_theory_curves

    out.mkdir(parents=True, exist_ok=True)
    x = grid.centres.numpy()

    def stage(title: str, G: nn.Module, D: nn.Module) -> dict:
        p_g = grid.p_g(G, n_z=2**18)
        d_star = grid.d_star(p_g, min_mass=1e-4, fill=float("nan"))  # drawn only where there is mass
        return {"title": title, "x": x, "p_data": (grid.p_data / grid.width).numpy(),
                "p_g": (p_g / grid.width).numpy(), "D": torch.sigmoid(grid.logits(D)).numpy(),
                "D_star": d_star.numpy()}

    stages = [
        stage(f"(a) step {fixed_step}: D partly accurate", G_fixed, D_early),
        stage("(b) G fixed, D trained: D = D*", G_fixed, D_conv),
        stage(f"(c) step {mid_step}: p_g moves to p_data", *load(mid_step)),
        stage(f"(d) step {steps}: p_g = p_data, D = 1/2", *load(steps)),
    ]
    plot_figure1(stages, out / "figure1.png")
    curve = []
    for step in sorted(snaps):
        G, D = load(step)
        p_g = grid.p_g(G, n_z=2**16)
        pd, pg = _with_rest(grid.p_data), _with_rest(p_g)
        logits = torch.cat([grid.logits(D), torch.zeros(1, dtype=torch.float64)])
        curve.append((step, jsd(pd, pg).item(), virtual_training_criterion(pd, pg).item(), value(pd, pg, logits).item()))
    plot_theory_curves(curve, out / "curves.png")


def format_table(rows: list[Claim]) -> str:
    """The rows as an aligned text table."""
    head = ("claim", "theory", "measured", "tolerance", "pass")
    body = [(r.check, "-" if r.theory is None else f"{r.theory:.6g}", f"{r.measured:.6g}",
             "-" if r.tolerance is None else f"{r.tolerance:g}",
             "report" if r.tolerance is None else ("yes" if r.passed else "NO")) for r in rows]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(1, 5)]
    lines = []
    for row in [head] + body:
        nums = "  ".join(c.rjust(wd) for c, wd in zip(row[1:], widths))
        lines.append(f"{nums}  {row[0]}")
    return "\n".join(lines)


def claims_json(rows: list[Claim]) -> list[dict]:
    """The rows as JSON-ready dicts with keys check, theory, measured, tolerance, passed."""
    return [asdict(r) for r in rows]
