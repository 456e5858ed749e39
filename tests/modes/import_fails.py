"""A mode module that cannot be imported (its dependency is missing)."""

from __future__ import annotations

raise ImportError("No module named 'studio_physics'")
