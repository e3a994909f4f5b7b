"""Snapshots of G and D kept during the theory's training run, and shells to load them back into."""

from __future__ import annotations

import copy

from torch import nn

__all__ = ["Snapshots"]


class Snapshots:
    """A training callback (``train(..., callback=snapshots)``) keeping G's and D's weights at the steps in
    ``keep`` and every ``every`` steps; after training, :meth:`load` puts a step's weights into the shells
    given to :meth:`use`."""

    def __init__(self, keep: set[int], every: int):
        self.keep, self.every = keep, every
        self.states: dict[int, tuple[dict, dict]] = {}  # step: (G's state_dict, D's state_dict)
        self.G: nn.Module | None = None
        self.D: nn.Module | None = None

    def __call__(self, step: int, G: nn.Module, D: nn.Module) -> None:
        if step in self.keep or step % self.every == 0:
            self.states[step] = (copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict()))

    def use(self, G: nn.Module, D: nn.Module) -> None:
        """The networks (built as training builds them) that :meth:`load` fills."""
        self.G, self.D = G, D

    def load(self, step: int) -> tuple[nn.Module, nn.Module]:
        """The shells holding G and D as they were at ``step``: the same two modules each call, so a caller
        that keeps one past the next load keeps a copy."""
        assert self.G is not None and self.D is not None, "call use() before load()"
        self.G.load_state_dict(self.states[step][0])
        self.D.load_state_dict(self.states[step][1])
        return self.G, self.D

    @property
    def steps(self) -> list[int]:
        """The steps kept, in order."""
        return sorted(self.states)
