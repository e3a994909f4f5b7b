"""Typed configuration: sections ``data``, ``model``, ``objective``, ``train``.

A config is resolved as defaults ← preset or YAML file ← ``--set key=value`` overrides, then
validated once, up front. Every problem becomes one :class:`GankitError` line that names the
field (``train.steps: must be greater than 0``), with a did-you-mean for unknown keys. The
resolved config is saved as ``config.yaml`` in the run directory and is all a run needs to
be rebuilt.
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import GankitError, one_line, unknown_name
from .files import write_atomic

# the registries know their built-in names without importing their modules (and torch): validating a
# config, `gankit train --dry-run` included, stays a fraction of a second
from .registry import AUGMENT_POLICIES, DATASETS, FEATURES, NETS, OBJECTIVES, TARGETS

__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "TrainConfig",
    "preset_names",
    "load_config",
    "parse_overrides",
    "check_unique_overrides",
    "describe_ema",
    "ema_half_life_kimg",
    "config_yaml",
    "save_config",
    "read_config",
]


def _not_bool(v: Any) -> Any:
    """A YAML true/false is not a number (pydantic would read it as 1/0): refused in number fields.
    Numbers written as text stay accepted (YAML 1.1 reads 3e-4 as text)."""
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {str(v).lower()}")
    return v


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]


class _Section(BaseModel):
    # allow_inf_nan=False: nan or ±inf in any float field (rates, weights, means, stds, γ) is refused
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
MIXTURE_RANGE = 1e6  # mixture1d: |means| and stds (and 1/stds) up to this
MIN_EVAL_SAMPLES = 10  # the k-NN metrics need more than k = 5 neighbours; IS uses 10 splits


def _registered(value: str, registry, kind: str) -> str:
    """``value`` if ``registry`` has it; else the registry's error, which lists the valid names."""
    if value not in registry:
        raise ValueError(str(unknown_name(kind, value, registry.names())))
    return value


class DataConfig(_Section):
    """What to learn: a toy target (exact density) or an image dataset, by name.

    ``mixture1d`` takes its weights, means and stds; image datasets read ``root`` (downloading
    only with ``download``), are resized to ``resolution`` if set and flipped at random if ``hflip``.
    """

    name: str = "ring8"
    weights: Optional[list[Float]] = None
    means: Optional[list[Float]] = None
    stds: Optional[list[Float]] = None
    root: Optional[str] = None
    download: bool = False
    resolution: Optional[Int] = Field(None, gt=0, le=1024)  # images are resized to this; 1024 is beyond every net
    hflip: bool = False
    # images held whole in memory (the fast path: a batch is an index into uint8 on the device), or read batch
    # by batch through a DataLoader's worker processes (data larger than memory); auto: by the data's size
    in_memory: Literal["auto", True, False] = "auto"
    workers: Optional[Int] = Field(None, ge=0)  # loader processes when streaming (null: one per spare core, 1-4)

    @field_validator("in_memory", mode="before")
    @classmethod
    def _in_memory(cls, v):
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        return v

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v in TARGETS or v in DATASETS:
            return v
        raise ValueError(str(unknown_name("dataset", v, TARGETS.names() + DATASETS.names())))

    @property
    def is_toy(self) -> bool:
        """Whether ``name`` is a toy target (with an exact density) rather than images."""
        return self.name in TARGETS

    @model_validator(mode="after")
    def _mixture(self) -> "DataConfig":
        given = [f for f in ("weights", "means", "stds") if getattr(self, f) is not None]
        if self.name == "mixture1d":
            if len(given) < 3:
                missing = sorted({"weights", "means", "stds"} - set(given))
                raise ValueError(f"mixture1d needs data.{', data.'.join(missing)}")
            assert self.weights is not None and self.means is not None and self.stds is not None  # all three given
            if not (len(self.weights) == len(self.means) == len(self.stds) >= 1):
                raise ValueError("data.weights, data.means and data.stds must have the same, non-zero length")
            if any(s <= 0 for s in self.stds) or any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("data.stds must be positive and data.weights non-negative with a positive sum")
            if not math.isfinite(sum(self.weights)):
                raise ValueError("data.weights must have a finite sum (they are normalised by it)")
            if any(abs(m) > MIXTURE_RANGE for m in self.means) or not all(
                1 / MIXTURE_RANGE <= s <= MIXTURE_RANGE for s in self.stds
            ):
                raise ValueError(
                    f"data.means must lie within ±{MIXTURE_RANGE:g} and data.stds within "
                    f"[{1 / MIXTURE_RANGE:g}, {MIXTURE_RANGE:g}] (a float32 network cannot fit more)"
                )
        elif given:
            raise ValueError(f"data.{given[0]} is only used by data.name=mixture1d")
        if self.is_toy:
            image_only = [f for f in ("root", "resolution", "workers") if getattr(self, f) is not None]
            image_only += [f for f in ("download", "hflip") if getattr(self, f)]
            image_only += ["in_memory"] if self.in_memory != "auto" else []
            if image_only:
                raise ValueError(f"data.{image_only[0]} is only used by image datasets, not {self.name}")
        return self

    def target_params(self) -> dict[str, Any]:
        """Keyword arguments for the target's builder."""
        if self.name == "mixture1d":
            return {"weights": self.weights, "means": self.means, "stds": self.stds}
        return {}


class ModelConfig(_Section):
    """The networks: ``name`` picks the builder (``mlp``, ``dcgan``, ``sngan``, ``biggan``, ``r3gan``); sizes of G and D.

    ``g_hidden``/``d_hidden`` are the width: hidden units of an MLP, base channels of a conv net
    (``g_layers``, ``d_layers`` and the activations apply to MLPs only).
    """

    name: str = "mlp"
    z_dim: Int = Field(2, gt=0)
    g_hidden: Int = Field(128, gt=0)
    g_layers: Int = Field(3, gt=0)
    d_hidden: Int = Field(128, gt=0)
    d_layers: Int = Field(3, gt=0)
    conditional: bool = False  # class-conditional G and D (image datasets with labels)
    g_act: Literal["relu", "leaky_relu", "elu", "silu", "tanh", "softplus"] = "relu"
    d_act: Literal["relu", "leaky_relu", "elu", "silu", "tanh", "softplus"] = "leaky_relu"
    spectral_norm: bool = False
    batch_norm: bool = True  # DCGAN: batch norm in G (and in D unless spectral_norm); false: none
    # BigGAN: the shared class embedding's size, and the resolution of G's and D's self-attention (0: none)
    shared_dim: Int = Field(128, gt=0)
    attention: Int = Field(0, ge=0)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _registered(v, NETS, "network")


class ObjectiveConfig(_Section):
    """The game: objective by name, and D regularisers (unset means the objective's default)."""

    name: str = "nonsaturating"
    gp_weight: Optional[Float] = Field(None, ge=0)  # WGAN-GP λ; default 10 for wgan-gp, else 0
    clip: Optional[Float] = Field(None, gt=0)  # weight clipping c; default 0.01 for wasserstein
    r1_gamma: Float = Field(0.0, ge=0)  # R1 weight γ: the loss adds γ/2·E‖∇D(x)‖²
    r2_gamma: Float = Field(0.0, ge=0)  # R2 weight γ: the loss adds γ/2·E‖∇D(G(z))‖² (R1 on fake data)
    ortho_reg: Float = Field(0.0, ge=0)  # β of BigGAN's orthogonal regularisation of G (the paper: 1e-4)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _registered(v, OBJECTIVES, "objective")


class TrainConfig(_Section):
    """The loop (Algorithm 1 of Goodfellow et al. 2014): d_steps D updates per G update, Adam."""

    @model_validator(mode="before")
    @classmethod
    def _old_ema(cls, data: Any) -> Any:
        """Configs written before the ramp had ``ema``: a constant decay d per step. Read it as the same
        average: half-life B·ln ½ / ln d images at batch B, no ramp (so old runs sample and resume)."""
        if not isinstance(data, dict) or "ema" not in data:
            return data
        data = dict(data)
        d = data.pop("ema")
        if "ema_kimg" in data:
            raise ValueError("give train.ema_kimg (the EMA's half-life), not also train.ema (an old decay)")
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d < 1:
            raise ValueError(f"train.ema (an old EMA decay) must be in [0, 1), got {reprlib.repr(d)}")
        batch = data.get("batch_size", cls.model_fields["batch_size"].default)
        data["ema_kimg"] = ema_half_life_kimg(d, batch) if d > 0 and isinstance(batch, int) else 0.0
        data["ema_rampup"] = None
        return data

    steps: Int = Field(10000, gt=0)  # generator updates
    batch_size: Int = Field(256, gt=0)
    d_steps: Int = Field(1, gt=0)  # k of Algorithm 1
    # gradient accumulation: each D and G update sums this many micro-batches of batch_size images (per
    # process), so that a large effective batch fits one GPU (BigGAN's num_D/G_accumulations)
    accumulate: Int = Field(1, gt=0)
    lr_g: Float = Field(1e-4, gt=0)
    lr_d: Float = Field(1e-4, gt=0)
    beta1: Float = Field(0.5, ge=0, lt=1)
    beta2: Float = Field(0.999, ge=0, lt=1)
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"  # decay of both rates to 0 at the end
    # G's exponential moving average (the copy that samples), as stylegan2-ada: its half-life in thousands
    # of images (global batch × steps; 0: no EMA), capped at ema_rampup × the images seen so far, so that
    # early on the average follows G closely (null: no ramp, a constant decay)
    ema_kimg: Float = Field(0.0, ge=0)
    ema_rampup: Optional[Float] = Field(0.01, gt=0)  # 1%: see the README's EMA section and RESULTS.md
    augment: str = ""  # DiffAugment policy: comma-separated of color, translation, cutout
    # ADA (Karras et al. 2020): D's inputs augmented with probability p, which moves toward the target of
    # r_t = E[sign(D(x_real))] (the paper: 0.6; 0: off) by at most 1 per ada_kimg thousand real images
    ada_target: Float = Field(0.0, ge=0, lt=1)
    ada_kimg: Float = Field(500.0, gt=0)
    seed: Int = Field(0, ge=0, lt=2**64)  # torch seeds are unsigned 64-bit
    device: Literal["auto", "cpu", "cuda"] = "auto"
    log_every: Int = Field(100, gt=0)
    eval_every: Int = Field(1000, ge=0)  # 0: only at the end
    sample_every: Int = Field(1000, ge=0)  # 0: only at the end
    checkpoint_every: Int = Field(1000, ge=0)  # 0: only at the end (and on SIGINT/SIGTERM)
    keep_checkpoints: Int = Field(1, ge=1)  # checkpoints/step_*.pt kept; checkpoints/last.pt is the newest
    # image runs: bf16 autocast, channels_last, fused Adam; null (auto) = on with CUDA, off on the CPU
    fast: bool | None = None
    cuda_graph: bool = True  # fast path on one GPU: replay the whole step from a CUDA graph (false: eager)
    reuse_fake: bool = False  # G step on the last D step's fake batch: one G forward a step (pytorch/examples)
    compile: bool = False  # torch.compile G and D (fused kernels; not with GP, R1 or R2); compiling takes a while
    sync_bn: bool = False  # data-parallel on GPUs: batch norm statistics over the global batch (SyncBatchNorm)
    eval_samples: Int = Field(2500, gt=0)  # toy: samples for mode statistics; images: samples for the metrics
    eval_features: str = ""  # images: feature network of the metrics logged while training ("" = none)
    tensorboard: bool = True
    progress: bool = True
    # experiment trackers that also receive the logged rows (see gankit.loggers): wandb, mlflow; each needs its
    # package, which training checks before it starts
    loggers: list[str] = Field(default_factory=list)

    @field_validator("loggers", mode="before")
    @classmethod
    def _loggers(cls, v):
        from .loggers import LOGGERS  # the valid names (gankit.loggers imports no tracker until one is used)

        if v is None:
            return []  # `--set train.loggers=` reads as null: none
        if isinstance(v, str):  # `--set train.loggers=wandb,mlflow`
            v = [p.strip() for p in v.split(",") if p.strip()]
        if not isinstance(v, list) or not all(isinstance(n, str) for n in v):
            return v  # the type check reports it
        for name in v:
            if name not in LOGGERS:
                raise ValueError(str(unknown_name("logger", name, LOGGERS)))
        return list(dict.fromkeys(v))  # each once, in the order given

    @field_validator("augment", mode="before")
    @classmethod
    def _policy(cls, v):
        if v is None:
            return ""  # `--set train.augment=` reads as null: no augmentation
        if not isinstance(v, str):
            return v  # the str type check reports it
        parts = [p.strip() for p in v.split(",") if p.strip()]
        bad = [p for p in parts if p not in AUGMENT_POLICIES]
        if bad:
            raise ValueError(f"unknown augmentation {bad[0]!r}; valid: {', '.join(AUGMENT_POLICIES)}")
        return ",".join(parts)

    @field_validator("fast", mode="before")
    @classmethod
    def _auto(cls, v):
        return None if isinstance(v, str) and v.strip().lower() == "auto" else v

    @field_validator("eval_features", mode="before")
    @classmethod
    def _features(cls, v):
        if v is None or (isinstance(v, str) and v.strip().lower() in ("", "none")):
            return ""  # off: also how `--set train.eval_features=` and `=none` read
        if not isinstance(v, str):
            return v  # the str type check reports it
        return _registered(v, FEATURES, "feature network")


class Config(_Section):
    """A whole run."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    train: TrainConfig = TrainConfig()
    # modules the run was trained with (`gankit --import MODULE`), registering its networks, datasets or
    # objectives: recorded so that opening the run can say which --import it needs; never imported from here
    plugins: list[str] = []

    @field_validator("plugins")
    @classmethod
    def _modules(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if not _MODULE_NAME.fullmatch(m)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a module name (such as mypkg.nets)")
        return v

    @model_validator(mode="after")
    def _fits(self) -> "Config":
        if self.data.is_toy and self.model.name not in ("mlp", "custom"):
            raise ValueError(f"model.name={self.model.name} needs an image dataset; toy targets use model.name=mlp")
        if not self.data.is_toy and self.model.name == "mlp":
            raise ValueError(
                f"data.name={self.data.name} is an image dataset: use model.name=dcgan, sngan, biggan or r3gan"
            )
        if self.model.conditional and self.data.is_toy:
            raise ValueError("model.conditional needs an image dataset with labels")
        if self.train.augment and self.data.is_toy:
            raise ValueError("train.augment applies to images only")
        if self.train.accumulate > 1 and self.train.reuse_fake:
            raise ValueError("train.reuse_fake needs train.accumulate=1 (one fake batch serves one G update)")
        if self.train.ada_target and self.data.is_toy:
            raise ValueError("train.ada_target applies to images only")
        if self.train.eval_features and self.data.is_toy:
            raise ValueError("train.eval_features applies to images only (toy runs log exact JSD and modes)")
        if self.train.eval_features and self.train.eval_samples < MIN_EVAL_SAMPLES:
            raise ValueError(f"train.eval_samples must be at least {MIN_EVAL_SAMPLES} for the image metrics")
        return self


def ema_half_life_kimg(decay: float, batch: int) -> float:
    """The half-life, in thousands of images, of an EMA with a constant ``decay`` per step of ``batch``
    images: decay^(n/batch) = ½ at n = batch·ln ½ / ln decay."""
    return batch * math.log(0.5) / math.log(decay) / 1000


def describe_ema(ema_kimg: float, ema_rampup: float | None) -> str:
    """How a run's generators are named where their numbers and pictures are shown."""
    if ema_kimg <= 0:
        return "G (no EMA)"
    ramp = f", ramp-up {ema_rampup:g}" if ema_rampup is not None else ""
    return f"G_ema (EMA half-life {ema_kimg:g} kimg{ramp})"


# --- presets, files, overrides ---------------------------------------------------------------
def preset_names() -> list[str]:
    """Names of the presets shipped in ``gankit/presets``."""
    return sorted(p.name[:-5] for p in resources.files("gankit.presets").iterdir() if p.name.endswith(".yaml"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (YAML 1.2 forbids it; PyYAML
    would silently keep the last value, so a config could say two things)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a name, not a list or mapping", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {reprlib.repr(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


MAX_CONFIG_NODES = 100_000  # a config is a few dozen values; aliases must not expand it beyond this


def _expanded_size(data: Any, limit: int = MAX_CONFIG_NODES) -> int:
    """How many values ``data`` holds once YAML aliases are expanded (shared objects counted at each
    use, as validation would walk them), counted up to just past ``limit``: a "billion laughs"
    document is a few lines of text but 10⁹ values."""
    sizes: dict[int, int] = {}

    def size(x: Any) -> int:
        if not isinstance(x, (dict, list)):
            return 1
        if id(x) not in sizes:
            sizes[id(x)] = limit + 1  # a cycle (which safe YAML cannot build) counts as too large
            items = list(x.values()) if isinstance(x, dict) else x
            total = 1
            for item in items:
                total += size(item)
                if total > limit:
                    break
            sizes[id(x)] = min(total, limit + 1)
        return sizes[id(x)]

    return size(data)


def _yaml_problem(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    at = f" at line {mark.line + 1}" if mark is not None else ""
    problem = getattr(e, "problem", None) or ""
    ours = problem.startswith(("duplicate key", "a key must be"))
    return f"not valid YAML{at}{': ' + problem if ours else ''}"


def _read_yaml(text: str, where: str) -> dict:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise GankitError(f"{where}: {_yaml_problem(e)}") from None
    except RecursionError:
        raise GankitError(f"{where}: nested too deeply to be a config") from None
    if _expanded_size(data) > MAX_CONFIG_NODES:
        raise GankitError(
            f"{where}: holds more than {MAX_CONFIG_NODES:,} values once its aliases are expanded; not a config"
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GankitError(f"{where}: expected a mapping of sections (data, model, objective, train)")
    return data


def _preset_dict(name: str) -> dict:
    if name not in preset_names():
        raise unknown_name("preset", name, preset_names())
    text = resources.files("gankit.presets").joinpath(f"{name}.yaml").read_text()
    return _read_yaml(text, f"preset {name}")


def _file_dict(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise GankitError(f"config file not found: {p}")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise GankitError(f"cannot read config file {p}: {e.__class__.__name__}") from None
    return _read_yaml(text, str(p))


def parse_overrides(items: list[str]) -> dict:
    """``["train.steps=100", "objective.name=hinge"]`` → nested dict; values are read as YAML (a later
    value of a key replaces an earlier one: see :func:`check_unique_overrides` for the command line)."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise GankitError(f"--set expects section.key=value, got {reprlib.repr(item)}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw  # not YAML: keep the text, the field's type check decides
        except RecursionError:
            raise GankitError(f"--set {key}: the value is nested too deeply") from None
        if _expanded_size(value) > MAX_CONFIG_NODES:
            raise GankitError(f"--set {key}: the value holds more than {MAX_CONFIG_NODES:,} values")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise GankitError(f"--set {key}: {part} is both a value and a section")
            node = nxt
        node[parts[-1]] = value
    return out


def check_unique_overrides(items: list[str]) -> None:
    """One line when the command line sets a key twice (``--set train.steps=3 --set train.steps=4``):
    as with a key given twice in a YAML file, which of the two was meant?"""
    seen: set[str] = set()
    for item in items:
        key = item.partition("=")[0].strip()
        if key in seen:
            raise GankitError(f"--set {key} is given twice")
        seen.add(key)


def _merge(base: dict, new: dict) -> dict:
    out = dict(base)
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _fields_at(loc: tuple) -> list[str]:
    """The valid keys of the config section at ``loc`` (for did-you-mean)."""
    model: Any = Config
    for part in loc:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return list(model.model_fields)


def _format_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = tuple(str(p) for p in err["loc"])
    name = ".".join(loc)
    if err["type"] == "extra_forbidden":
        valid = _fields_at(loc[:-1])
        close = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f" (did you mean {'.'.join(loc[:-1] + (close[0],))}?)" if close else ""
        return f"unknown config key {name}{hint}"
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if "input" in err and err["type"] not in ("value_error", "model_type"):
        msg += f" (got {reprlib.repr(err['input'])})"  # the input may be huge: a short repr
    return f"config {name}: {msg}" if name else f"config: {msg}"


def build_config(data: dict) -> Config:
    """Validate a nested dict into a :class:`Config`; the first problem is one GankitError line. A config
    whose plugins (``plugins``) are not imported says which ``--import`` its names need."""
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        # a key or value may hold a line break (``--set $'a\nb=1'``): escaped, the error stays one line
        problem = one_line(_format_error(e))
        plugins = data.get("plugins") if isinstance(data, dict) else None
        missing = (
            [m for m in plugins if isinstance(m, str) and m not in sys.modules] if isinstance(plugins, list) else []
        )
        if missing and "unknown" in problem:
            flags = " ".join(f"--import {m}" for m in missing)
            raise GankitError(f"{problem}; this run was trained with {flags}: pass it to open the run") from None
        raise GankitError(problem) from None


def load_config(
    preset: str | None = None, file: str | Path | None = None, overrides: list[str] | None = None
) -> Config:
    """Defaults ← preset (or YAML file) ← ``key=value`` overrides, validated."""
    if preset is not None and file is not None:
        raise GankitError("give --preset or --config, not both")
    data: dict = {}
    if preset is not None:
        data = _preset_dict(preset)
    elif file is not None:
        data = _file_dict(file)
    data = _merge(data, parse_overrides(overrides or []))
    return build_config(data)


def config_yaml(cfg: Config) -> str:
    """The resolved config as YAML text, every field in declaration order."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (every field, so the run can be rebuilt from it alone);
    atomically, so an interrupted write leaves the old file."""
    write_atomic(path, config_yaml(cfg))


def read_config(path: str | Path) -> Config:
    """Read a resolved ``config.yaml`` back (a run directory's)."""
    return build_config(_file_dict(path))
