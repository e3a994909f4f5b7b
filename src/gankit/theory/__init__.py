"""``gankit theory``: the claims of Goodfellow et al. (2014), each measured beside its prediction.

One 1-D experiment drives every row: the ``gauss1d`` preset (p_data = N(2, 0.5²), an MLP G
from z ~ N(0, 1)) is trained with the real loop while snapshots of G and D are kept. p_g of a
snapshot comes from :func:`gankit.exact.pushforward_masses_1d` (a quadrature grid over z pushed
through G), so D*, C(G) and JSD are computed, not estimated from samples.

Rows (claim, predicted, measured, tolerance, pass):
  1. V(D*, G) = −log 4 + 2·JSD by quadrature, for several pairs of densities (Theorem 1).
  2. With G fixed, D trained to convergence matches D* (Proposition 1).
  3. That D's Monte-Carlo value of V is within 0.02 of C(G) and not above it beyond sampling error.
  4. After full training: JSD ≤ 0.02 nats, D within [0.4, 0.6] where p_data lives, C(G) ≈ −log 4.
  5. Saturation: at a confident D, the gradient reaching G through log(1 − D(G(z))) is the one
     through −log D(G(z)) times D/(1 − D).

Further rows: Proposition 2 (descent on C(p_g) with D = D*) and Arjovsky et al.'s example 1 (WGAN).

``gankit theory --all`` adds the instability of real training (:mod:`.instability`): saturation stalling the
minimax game against D* (:mod:`.stall`), the Dirac-GAN of Mescheder et al. (2018) with its eigenvalues per
training method (:mod:`.dirac`), and mode collapse counted per mode and seed (:mod:`.collapse`); their
figures in :mod:`.instability_figures`.

One idea a module: :mod:`.claims` (the table), :mod:`.grid` (the 1-D grid and its densities),
:mod:`.snapshots` (G and D kept during training), one module an experiment (:mod:`.identity`,
:mod:`.fixed_g`, :mod:`.equilibrium`, :mod:`.saturation`, :mod:`.proposition2`, :mod:`.wgan`),
:mod:`.training_figures` (figure 1 and the curves) and :mod:`.run` (all in turn).
"""

from __future__ import annotations

from .claims import Claim, claims_json, format_table
from .equilibrium import equilibrium_claims
from .fixed_g import fit_discriminator, fixed_g_claims, logit_claim
from .identity import identity_claims
from .instability import instability_claims
from .proposition2 import proposition2_claims
from .run import THEORY_PRESET, run_claims
from .saturation import confident_d_claim, saturation_claim
from .wgan import wgan_claims

__all__ = [
    "Claim",
    "claims_json",
    "format_table",
    "run_claims",
    "THEORY_PRESET",
    "fit_discriminator",
    "identity_claims",
    "fixed_g_claims",
    "logit_claim",
    "equilibrium_claims",
    "saturation_claim",
    "confident_d_claim",
    "proposition2_claims",
    "wgan_claims",
    "instability_claims",
]
