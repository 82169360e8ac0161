"""Validation of step outputs: what a step's output must satisfy and what to do when it does not."""

from host.validation.spec import Alternative, OnFail, Validation

__all__ = ["Alternative", "OnFail", "Validation"]
