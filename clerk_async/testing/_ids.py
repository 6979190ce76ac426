"""Clerk-looking identifiers drawn from a seeded generator, so runs repeat exactly."""

from __future__ import annotations

import random

__all__ = ["IdFactory"]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class IdFactory:
    def __init__(self, seed: int | str | None) -> None:
        self.rng = random.Random(seed)

    def token(self, length: int = 27) -> str:
        return "".join(self.rng.choices(_BASE62, k=length))

    def new(self, prefix: str) -> str:
        """``user_2abc…``: a type prefix and 27 base62 characters, like Clerk's ids."""
        return f"{prefix}_{self.token()}"
