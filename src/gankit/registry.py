"""A name → object mapping whose unknown-name error lists the valid names."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects chosen by name from config; ``registry[name]`` raises a one-line error listing the valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REG.register("name")`` adds the decorated object under ``name``."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return add

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._items) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)
