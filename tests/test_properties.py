"""Property-based tests (hypothesis): whatever a user types, a config or command line either works or
ends as one line ``gankit: error: ...`` with exit status 2, never a traceback."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit.cli import main
from gankit.config import Config, DataConfig, ModelConfig, ObjectiveConfig, TrainConfig, load_config, preset_names
from gankit.errors import GankitError

SECTIONS = {"data": DataConfig, "model": ModelConfig, "objective": ObjectiveConfig, "train": TrainConfig}
KEYS = [f"{sec}.{name}" for sec, model in SECTIONS.items() for name in model.model_fields]
VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(
        [
            "true",
            "null",
            "[1, 2]",
            "{a: 1}",
            "-1",
            "0",
            "1e9",
            "ring8",
            "digits",
            "nonsaturating",
            "dcgan",
            "mlp",
            "auto",
            "cuda",
            "translation,color",
            "'quoted",
            "[",
            "~",
            "!!python/object:os.system",
        ]
    ),
)
KEY = st.one_of(
    st.sampled_from(KEYS),
    st.sampled_from(["train", "data.", ".steps", "train.stepz", "a.b.c", ""]),
    st.text(max_size=10),
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message.strip() and "Traceback" not in message


@SETTINGS
@given(
    preset=st.sampled_from([None, *preset_names()]),
    pairs=st.lists(st.tuples(KEY, VALUES), max_size=4),
    raw=st.lists(st.text(max_size=15), max_size=2),
)
def test_any_overrides_give_a_config_or_one_line(preset, pairs, raw):
    overrides = [f"{k}={v}" for k, v in pairs] + raw
    try:
        cfg = load_config(preset, None, overrides)
    except GankitError as e:
        assert _one_line(str(e))
    else:
        assert isinstance(cfg, Config) and cfg.train.steps > 0 and cfg.train.batch_size > 0


@SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(st.tuples(KEY, VALUES), max_size=5).map(
            lambda kv: "\n".join(f"{k.split('.')[0]}:\n  {k.split('.')[-1]}: {v}" for k, v in kv)
        ),
    )
)
def test_any_config_file_gives_a_config_or_one_line(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if False else path.write_bytes(
        text.encode("utf-8", "surrogatepass")
    )
    try:
        cfg = load_config(None, str(path), [])
    except GankitError as e:
        assert _one_line(str(e))
    else:
        assert isinstance(cfg, Config)


TOKENS = [
    "train",
    "sample",
    "eval",
    "resume",
    "presets",
    "--preset",
    "--config",
    "--set",
    "--out",
    "--n",
    "--seed",
    "--steps",
    "--features",
    "--json",
    "--class",
    "--truncation",
    "--help",
    "--version",
    "ring8",
    "digits",
    "nope",
    "train.steps=-1",
    "model.name=foo",
    "train.steps=3",
    "x.npy",
    "x.png",
    "x.txt",
    ".",
    "-1",
    "0",
    "1e3",
    "classifier",
    "inception",
    "--inception-weights",
    "--download",
    "--dry-run",
]


@SETTINGS
@given(argv=st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)), max_size=7))
def test_any_command_line_works_or_is_one_line(argv, tmp_path_factory, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # no runs here: nothing trains, nothing is overwritten
    argv = [a for a in argv if a != "theory"]
    if "train" in argv:  # never start training: the second --dry-run survives an option that eats the first
        argv += ["--dry-run", "--dry-run"]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code in (0, 2), (argv, err)
    if e.value.code == 2:
        assert err.startswith("gankit: error: ") and _one_line(err), (argv, err)
