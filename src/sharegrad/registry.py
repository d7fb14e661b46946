"""Name -> constructor registries, filled by the modules of a plug-in folder.

A plug-in folder (``models/``, ``attacks/``, ``defenses/``, ``sync/``) imports
every module in it on first use, and each module registers what it defines
with a decorator. Adding a model, attack, defense or sync method is therefore
adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

from sharegrad.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str, **declared) -> Callable[[T], T]:
        """Register under ``name``; ``declared`` (keyword attributes such as an attack's ``modality`` or
        ``cell_settings``) is set on the object, so what the pipeline asks of a plug-in lives in its file."""

        def decorate(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            for key, value in declared.items():
                setattr(obj, key, value)
            self._entries[name] = obj
            return obj

        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")
        self._loaded = True

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return self._entries[name]
