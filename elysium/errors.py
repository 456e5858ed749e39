"""The base of errors that carry a stable, wire-visible code."""

from __future__ import annotations


class CodedError(Exception):
    """An error answered to a peer: ``code`` is stable, ``message`` is for humans."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
