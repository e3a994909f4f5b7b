"""``gankit live``: a toy GAN trained before your eyes in the browser (GAN Lab's view, on gankit's real run,
with exact densities and the theory's numbers), or a run directory followed while another process trains it."""

from .serve import live_config, serve_game, serve_run

__all__ = ["live_config", "serve_game", "serve_run"]
