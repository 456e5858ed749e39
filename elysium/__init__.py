"""Elysium's shared kernel: settings, tokens, logging, metrics, Redis key layout and the CLI."""

__version__ = "0.1.0"
