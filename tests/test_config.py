import pytest

from gankit.config import Config, load_config, parse_overrides, preset_names, read_config, save_config
from gankit.errors import GankitError


def test_every_preset_loads():
    names = preset_names()
    assert {"ring8", "grid25", "gauss1d"} <= set(names)
    for name in names:
        assert isinstance(load_config(name), Config)


def test_overrides_are_typed_and_nested():
    assert parse_overrides(["train.steps=5", "objective.name=hinge", "data.means=[1, 2]"]) == {
        "train": {"steps": 5}, "objective": {"name": "hinge"}, "data": {"means": [1, 2]}}
    cfg = load_config("ring8", overrides=["train.steps=7", "train.lr_d=3e-4", "objective.name=wgan-gp"])
    assert cfg.train.steps == 7 and cfg.train.lr_d == 3e-4 and cfg.objective.name == "wgan-gp"


@pytest.mark.parametrize("override,message", [
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
])
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
