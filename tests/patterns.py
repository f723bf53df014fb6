"""Which patterns this project holds. The kit holds all six; a project made with `make starter`
holds some, and a test about a pattern it does not hold is skipped, saying so."""

from __future__ import annotations

import pytest

from tools.shared.cfn import patterns_here

PATTERNS = patterns_here()


def has(*names: str) -> bool:
    return set(names) <= set(PATTERNS)


def needs(*names: str):
    """Run the test only where every pattern named is in this project."""
    return pytest.mark.skipif(not has(*names), reason=f"about the {' and '.join(names)} pattern(s), not in this project")


def needs_one_of(*names: str):
    return pytest.mark.skipif(not set(names) & set(PATTERNS), reason=f"needs one of {', '.join(names)}: none is in this project")
