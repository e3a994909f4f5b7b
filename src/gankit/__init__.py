"""gankit: generative adversarial networks whose theory you can check."""

# The one place the version is written: pyproject.toml reads it from here (setuptools' dynamic attr,
# parsed without importing gankit), so the package, its installed metadata and `gankit --version` agree.
__version__ = "0.1.0"

__all__ = ["__version__", "load_config", "train", "load_run"]


def __getattr__(name: str):
    # the API imports torch and the training code (seconds): only when used, so the CLI starts fast
    if name in ("load_config", "train", "load_run", "Run"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
