"""A plugin's own error is what the host reports, not a library internal it chose to hide."""

from __future__ import annotations

import pytest

from host.errors import FunctionFailedError
from host.resilience.translation import translate

pytestmark = pytest.mark.reliability


def raise_hiding_the_lookup() -> None:
    try:
        {}["tzdata.zoneinfo.Mars"]
    except KeyError:
        raise ValueError("timezone 'Mars/Phobos' is not a known IANA time zone") from None


def raise_keeping_the_lookup() -> None:
    try:
        {}["tzdata.zoneinfo.Mars"]
    except KeyError as error:
        raise ValueError("timezone 'Mars/Phobos' is not a known IANA time zone") from error


@pytest.mark.parametrize(
    ("raiser", "named"),
    [(raise_hiding_the_lookup, "ValueError"), (raise_keeping_the_lookup, "KeyError")],
    ids=["from-None-hides-the-context", "from-error-keeps-the-cause"],
)
def test_the_reported_error_follows_causes_but_not_hidden_contexts(
    raiser: object, named: str
) -> None:
    try:
        raiser()  # type: ignore[operator]
    except ValueError as raised:
        error = translate(raised, "clock.today", model=None)

    assert isinstance(error, FunctionFailedError)
    assert named in str(error)
