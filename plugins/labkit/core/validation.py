"""The error every lab's checks raise: it says what differs (rows, schemas, states, outcomes)."""

from __future__ import annotations


class ValidationError(AssertionError):
    pass
