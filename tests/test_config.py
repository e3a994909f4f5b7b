import pytest

from gankit.config import Config, build_config, load_config, parse_overrides, preset_names, read_config, save_config
from gankit.errors import GankitError


def test_every_preset_loads():
    names = preset_names()
    assert {"ring8", "grid25", "gauss1d"} <= set(names)
    for name in names:
        assert isinstance(load_config(name), Config)


def test_overrides_are_typed_and_nested():
    assert parse_overrides(["train.steps=5", "objective.name=hinge", "data.means=[1, 2]"]) == {
        "train": {"steps": 5},
        "objective": {"name": "hinge"},
        "data": {"means": [1, 2]},
    }
    cfg = load_config("ring8", overrides=["train.steps=7", "train.lr_d=3e-4", "objective.name=wgan-gp"])
    assert cfg.train.steps == 7 and cfg.train.lr_d == 3e-4 and cfg.objective.name == "wgan-gp"


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.stepz=3", r"unknown config key train.stepz \(did you mean train.steps\?\)"),
        ("trian.steps=3", r"unknown config key trian \(did you mean train\?\)"),
        ("train.steps=-1", r"config train.steps: .*greater than 0"),
        ("train.steps=many", r"config train.steps: .*integer"),
        ("train.beta1=1.5", r"config train.beta1: .*less than 1"),
        ("objective.name=wgan", r"config objective.name: unknown objective 'wgan'.*valid: hinge, lsgan"),
        ("data.name=ring9", r"config data.name: unknown dataset 'ring9'.*ring8"),
        ("model.g_act=gelu", r"config model.g_act: "),
        ("data.means=[1]", r"data.means is only used by data.name=mixture1d"),
        ("train.steps", r"--set expects section.key=value"),
    ],
)
def test_bad_config_is_one_line_naming_the_field(override, message):
    with pytest.raises(GankitError, match=message) as e:
        load_config("ring8", overrides=[override])
    assert "\n" not in str(e.value)


def test_mixture1d_needs_its_parameters():
    with pytest.raises(GankitError, match="mixture1d needs data.means, data.stds"):
        load_config(overrides=["data.name=mixture1d", "data.weights=[1]"])
    with pytest.raises(GankitError, match="same, non-zero length"):
        load_config(overrides=["data.name=mixture1d", "data.weights=[1]", "data.means=[0, 1]", "data.stds=[1]"])


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(GankitError, match="unknown preset 'ring'.*ring8"):
        load_config("ring")
    with pytest.raises(GankitError, match="config file not found"):
        load_config(file=tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(GankitError, match="not valid YAML"):
        load_config(file=bad)
    bad.write_text("- a list\n")
    with pytest.raises(GankitError, match="expected a mapping"):
        load_config(file=bad)


def test_saved_config_round_trips(tmp_path):
    cfg = load_config("gauss1d", overrides=["train.seed=3"])
    save_config(cfg, tmp_path / "config.yaml")
    assert read_config(tmp_path / "config.yaml") == cfg


def test_image_metrics_need_enough_samples_and_an_image_dataset():
    with pytest.raises(GankitError, match="train.eval_samples must be at least 10"):
        load_config("digits", overrides=["train.eval_samples=5"])
    with pytest.raises(GankitError, match="eval_features applies to images only"):
        load_config("ring8", overrides=["train.eval_features=classifier"])
    assert load_config("digits", overrides=["train.eval_features=none"]).train.eval_features == ""


MIX = ["data.name=mixture1d", "data.weights=[1, 1]", "data.means=[0, 1]", "data.stds=[1, 1]"]


@pytest.mark.parametrize(
    "override,field",
    [
        ("data.weights=[.nan, 1]", "data.weights.0"),
        ("data.weights=[1, .inf]", "data.weights.1"),
        ("data.means=[0, .inf]", "data.means.1"),
        ("data.means=[-.inf, 1]", "data.means.0"),
        ("data.stds=[1, .inf]", "data.stds.1"),
        ("data.stds=[.nan, 1]", "data.stds.0"),
        ("train.lr_d=.inf", "train.lr_d"),
        ("train.lr_g=.nan", "train.lr_g"),
        ("objective.r1_gamma=.inf", "objective.r1_gamma"),
        ("objective.gp_weight=.nan", "objective.gp_weight"),
        ("objective.clip=.inf", "objective.clip"),
        ("train.ema_kimg=.nan", "train.ema_kimg"),
    ],
)
def test_nan_and_infinity_are_refused_in_every_float_field(override, field):
    key = override.split("=")[0]
    with pytest.raises(GankitError, match=rf"config {field}: .*finite") as e:
        load_config("ring8", overrides=[*(m for m in MIX if not m.startswith(key + "=")), override])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("seed,ok", [(0, True), (2**64 - 1, True), (2**64, False), (10**30, False), (-1, False)])
def test_seeds_are_unsigned_64_bit(seed, ok):
    if ok:
        assert load_config("ring8", overrides=[f"train.seed={seed}"]).train.seed == seed
    else:
        with pytest.raises(GankitError, match="config train.seed: "):
            load_config("ring8", overrides=[f"train.seed={seed}"])


@pytest.mark.parametrize(
    "text,key",
    [
        ("train:\n  steps: 5\n  steps: 6\n", "steps"),
        ("train:\n  steps: 5\ntrain:\n  lr_g: 0.1\n", "train"),
        ("data:\n  name: ring8\nmodel:\n  z_dim: 2\n  g_hidden: 8\n  z_dim: 3\n", "z_dim"),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path, text, key):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(GankitError, match=f"duplicate key '{key}'"):
        load_config(file=f)


@pytest.mark.parametrize("text", ["? [1, 2]\n: 3\n", "{[1]: 2}\n", "train: {? {a: 1} : 3}\n"])
def test_a_key_that_is_a_list_or_mapping_is_one_line(tmp_path, text):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(GankitError, match="a key must be a name") as e:
        load_config(file=f)
    assert "\n" not in str(e.value)


def _laughs(levels: int, width: int = 10) -> str:
    """A "billion laughs" document: each level an alias list of ``width`` copies of the one below."""
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\ntrain:\n  augment: *a{levels}\n"


@pytest.mark.parametrize("levels", [5, 9, 30])
def test_alias_bombs_are_refused_at_once_with_a_short_line(tmp_path, levels):
    f = tmp_path / "bomb.yaml"
    f.write_text(_laughs(levels))
    with pytest.raises(GankitError, match="once its aliases are expanded") as e:
        load_config(file=f)
    assert len(str(e.value)) < 300


def test_deep_nesting_is_one_line(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("train: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(GankitError, match="nested too deeply|not valid YAML"):
        load_config(file=f)


def test_huge_inputs_are_shown_short():
    with pytest.raises(GankitError) as e:
        load_config("ring8", overrides=["train.augment=[" + ", ".join(["x"] * 5000) + "]"])
    assert len(str(e.value)) < 300


@pytest.mark.parametrize(
    "override,field",
    [
        ("train.steps=true", "train.steps"),
        ("train.lr_g=false", "train.lr_g"),
        ("model.z_dim=yes", "model.z_dim"),
        ("train.steps=2.5", "train.steps"),
    ],
)
def test_booleans_and_fractions_are_not_integers(override, field):
    with pytest.raises(GankitError, match=f"config {field}: "):
        load_config("ring8", overrides=[override])


def test_numbers_written_as_text_still_read():
    assert load_config("ring8", overrides=["train.lr_g=3e-4"]).train.lr_g == 3e-4  # YAML 1.1 reads 3e-4 as text


def test_an_override_given_twice_is_refused_on_the_command_line(capsys):
    from gankit.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "--preset", "ring8", "--set", "train.steps=3", "--set", "train.steps=4", "--dry-run"])
    assert e.value.code == 2 and "--set train.steps is given twice" in capsys.readouterr().err
    assert load_config("ring8", overrides=["train.steps=3", "train.steps=4"]).train.steps == 4  # Python: the last


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.weights=[1e308, 1e308]", "finite sum"),
        ("data.means=[0, 1e300]", "within"),
        ("data.stds=[1, 1e-300]", "within"),
        ("data.stds=[1e9, 1]", "within"),
    ],
)
def test_mixtures_that_a_network_cannot_fit_are_refused(override, message):
    key = override.split("=")[0]
    with pytest.raises(GankitError, match=message):
        load_config("ring8", overrides=[*(m for m in MIX if not m.startswith(key + "=")), override])


def test_resolutions_beyond_every_network_are_refused():
    with pytest.raises(GankitError, match="config data.resolution: .*1024"):
        load_config("digits", overrides=["data.resolution=100000"])


@pytest.mark.parametrize("decay,batch", [(0.999, 64), (0.9999, 64), (0.5, 8), (0.995, 256)])
def test_an_old_ema_decay_reads_as_the_same_average(decay, batch):
    from gankit.ema import ema_beta

    t = build_config({"train": {"ema": decay, "batch_size": batch}}).train
    assert t.ema_rampup is None and ema_beta(1000, batch, t.ema_kimg, t.ema_rampup) == pytest.approx(decay, rel=1e-12)
    assert build_config({"train": {"ema": 0}}).train.ema_kimg == 0


@pytest.mark.parametrize(
    "train,message",
    [({"ema": 0.9, "ema_kimg": 1}, "not also train.ema"), ({"ema": 1.5}, "must be in"), ({"ema": True}, "must be in")],
)
def test_an_old_ema_decay_is_checked(train, message):
    with pytest.raises(GankitError, match=message):
        build_config({"train": train})


def test_a_key_with_a_line_break_is_still_one_line():
    """--set $'0\\n0=1' names a key no config has; the error shows the line break escaped."""
    with pytest.raises(GankitError) as e:
        load_config(None, None, ["0\n0=1"])
    assert "\n" not in str(e.value) and "\\n" in str(e.value)


def test_accumulated_updates_cannot_reuse_one_fake_batch():
    with pytest.raises(GankitError, match="train.reuse_fake needs train.accumulate=1"):
        load_config("digits", overrides=["train.accumulate=2", "train.reuse_fake=true"])
    assert load_config("digits", overrides=["train.accumulate=4"]).train.accumulate == 4
