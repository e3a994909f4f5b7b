"""gankit: generative adversarial networks whose theory you can check."""

__version__ = "0.1.0"
