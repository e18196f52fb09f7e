"""Argument types shared by the `spikax` sub-commands."""

from __future__ import annotations

import argparse


def number_type(cast, ok, expected: str):
    """An argparse `type`: `cast(text)`, refused with "expected ..., got ..." when that fails or `ok` says no."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse
