"""A run described from its config.yaml: which generator samples (its EMA), whether its objective is of
the minimax family, its toy target, the sample counts behind its metrics; in the words the page uses.

Every metric names what it was measured on: the sampling generator (:data:`SAMPLER_RULE`), named from
config.yaml's ``train.ema_kimg`` and ``train.ema_rampup`` (or an older config's ``train.ema``) as
:func:`gankit.config.describe_ema` names it, the number of samples and the feature network (or exact
densities). config.yaml is read as plain YAML, key by key: what cannot be read is said in words, and
never stops the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import TrainConfig, describe_ema, ema_half_life_kimg
from .targets import JSD_SAMPLES, toy_target
from .values import UNREAD, finite_number, kind_of, whole_number, writable

if TYPE_CHECKING:  # read.py asks this module which series to draw: the reader imports it, not back
    from .read import Run

# σ(logit) is D(x), and V(D, G) the game's value (−log 4 at its equilibrium), only for a D trained by
# the cross-entropy of eq. 1: objectives minimax and nonsaturating. Runs of other objectives (older
# ones logged these series too) get no such curves.
GAME_KEYS = ("V", "D/real", "D/fake")
SAMPLER_RULE = (
    "Metrics, figures and samples of a run are computed on its sampling generator: the EMA copy "
    "of G (G_ema) when train.ema_kimg > 0 (train.ema > 0 in older configs), otherwise G itself; "
    "during training, a run with an EMA measures the raw G beside it."
)
RAW_G = "G (raw)"  # the raw G of a run that keeps an EMA copy, where both are shown
RAW_PREFIX = "raw/"  # metrics.jsonl: the raw G's value of <key> is logged as raw/<key>


def setting(run: Run, section: str, key: str) -> Any:
    """config.yaml's ``section.key`` as read (any YAML value), or None when the section or key is absent."""
    sec = run.config.get(section)
    return sec.get(key) if isinstance(sec, dict) else None


def setting_text(run: Run, section: str, key: str) -> str | None:
    """A name from config.yaml (data, model, objective), or None when absent or not text."""
    v = setting(run, section, key)
    return writable(v) if isinstance(v, str) and v else None


def mode_count(run: Run) -> int | None:
    """How many separate modes the run's toy target has (None for images, continuous shapes, or unknown)."""
    target = toy_target(run.config.get("data"))
    return target.modes if target is not None else None


def game_objective(run: Run) -> bool:
    """Whether config.yaml names an objective whose D is trained by eq. 1's cross-entropy (the
    minimax family), so that σ(logit) is D(x) and V(D, G) the game's value; False when unknown."""
    from ..objectives import OBJECTIVES  # the registry says which objectives are of the minimax family

    name = setting(run, "objective", "name")
    return isinstance(name, str) and name in OBJECTIVES and OBJECTIVES[name].probabilistic


def ema_setting(run: Run) -> tuple[float, float | str | None] | str:
    """The run's EMA as (train.ema_kimg, train.ema_rampup), or why config.yaml does not tell (in words,
    following "config.yaml"; a ramp-up that cannot be read is such words too). config.yaml is read as
    training wrote it, not validated: each EMA key on its own, a number where one belongs (text is not
    one), the defaults of :class:`gankit.config.TrainConfig` for a key not given, and an old ``train.ema``
    decay read as its half-life as TrainConfig reads it; so a problem elsewhere in the config costs
    nothing, and a bad EMA key is named."""
    if run.ema is None:
        run.ema = _read_ema(run)
    return run.ema


def _read_ema(run: Run) -> tuple[float, float | str | None] | str:
    """:func:`ema_setting`'s answer, from config.yaml's train section."""
    t = run.config.get("train")
    if not isinstance(t, dict) or ("ema_kimg" not in t and "ema" not in t):
        return "gives no train.ema_kimg"  # a resolved config names it: the default would be a guess
    if "ema_kimg" in t and "ema" in t:
        return "gives both train.ema_kimg and train.ema (an old decay)"
    defaults = TrainConfig.model_fields  # the values training takes for a key not given
    if "ema" in t:  # an older config: a constant decay per step
        d = finite_number(t["ema"])
        if d is None or not 0 <= d < 1:
            return f"has train.ema {kind_of(t['ema'])}, not a decay in [0, 1)"
        batch = whole_number(t.get("batch_size", defaults["batch_size"].default), lo=1, hi=2**63)
        if d == 0:
            return 0.0, None
        if batch is None:
            return f"gives train.ema {d:g} with no batch size"
        return ema_half_life_kimg(d, batch), None
    kimg = finite_number(t["ema_kimg"])
    if kimg is None or kimg < 0:
        return f"has train.ema_kimg {kind_of(t['ema_kimg'])}, not a half-life of 0 kimg or more"
    ramp = t.get("ema_rampup", defaults["ema_rampup"].default)
    if ramp is not None and ((r := finite_number(ramp)) is None or not r > 0):
        return (kimg, f"has train.ema_rampup {kind_of(ramp)}, not a ramp-up > 0 or null") if kimg > 0 else (0.0, None)
    return kimg, None if ramp is None else finite_number(ramp)


def sampler(run: Run) -> str:
    """The generator behind the run's metrics, figures and samples, in words (see SAMPLER_RULE), as
    :func:`gankit.config.describe_ema` names it."""
    ema = ema_setting(run)
    if isinstance(ema, str):
        return f"G_ema or G (config.yaml {ema})"
    kimg, ramp = ema
    if isinstance(ramp, str):  # the half-life is known, the ramp-up is not
        return f"G_ema (EMA half-life {kimg:g} kimg; config.yaml {ramp})"
    return describe_ema(kimg, ramp)


def keeps_ema(run: Run) -> bool | None:
    """Whether config.yaml says the run keeps an EMA copy of G (None: it does not say)."""
    ema = ema_setting(run)
    return None if isinstance(ema, str) else ema[0] > 0


def ema_copy(run: Run) -> str:
    """The run's EMA copy in words, where its values are shown beside the raw G's (raw/ series, eval.json's
    raw): its half-life when config.yaml names one, else just G_ema (raw values are logged only with one)."""
    return sampler(run) if keeps_ema(run) else "G_ema"


def eval_generator(run: Run) -> str:
    """The generator eval.json's values were measured on, in words: its "generator" ("G_ema" or "G"), named as
    config.yaml describes it; an older eval.json without one measured the sampling generator."""
    gen = (run.evaluation or {}).get("generator")
    if gen is None:
        return sampler(run)
    if gen is UNREAD:
        return "G_ema or G (eval.json's generator cannot be read)"
    if gen == "G_ema":
        return ema_copy(run)
    if gen == "G":
        keeps = keeps_ema(run)
        return RAW_G if keeps else "G (no EMA)" if keeps is False else "G"
    return gen  # another name, as written


def eval_samples(run: Run) -> str:
    """How many samples the metrics logged during training were measured on (train.eval_samples)."""
    n = whole_number(setting(run, "train", "eval_samples"), lo=1, hi=2**63)
    return f"{n} samples" if n is not None else "train.eval_samples samples (not a count in config.yaml)"


def jsd_basis(run: Run) -> str:
    """How a toy run's JSD is computed, in words (see :func:`gankit.evaluate.evaluate_toy`): p_g pushed
    through G on a quadrature grid when the target and z are both 1-D, else from JSD_SAMPLES samples."""
    target = toy_target(run.config.get("data"))
    if target is not None and target.dim == 1 and setting(run, "model", "z_dim") == 1:
        p_g = "pushed through G on a quadrature grid over z"
    else:
        p_g = f"from {JSD_SAMPLES:,} samples"
    return f"JSD from exact densities: p_data's grid-cell masses exact, p_g's {p_g}"
