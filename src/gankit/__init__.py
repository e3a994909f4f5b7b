"""gankit: generative adversarial networks whose theory you can check."""

# The one place the version is written: pyproject.toml reads it from here (setuptools' dynamic attr,
# parsed without importing gankit), so the package, its installed metadata and `gankit --version` agree.
__version__ = "0.1.0"
