"""Arguments already of their parameters' plain types pass as given, without pydantic; every
other case still gets the full rules (conversion, unknown, missing, bool-is-no-number)."""

from __future__ import annotations

from typing import Any

import pytest

from host.arguments import check_arguments
from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import InvalidArgumentsError


def info(*parameters: ParameterInfo) -> FunctionInfo:
    return FunctionInfo("units.take", "units", "take", "native", "", parameters, None)


COUNT = ParameterInfo("count", "int", True, None, "", int)
LABEL = ParameterInfo("label", "str", False, "", "", str)
ANY = ParameterInfo("extra", "widget", False, None, "", None)
PLAIN = info(COUNT, LABEL, ANY)

ACCEPTED = [
    pytest.param({"count": 3}, {"count": 3}, id="exact int"),
    pytest.param({"label": "x", "count": 3}, {"count": 3, "label": "x"}, id="parameter order"),
    pytest.param({"count": "3"}, {"count": 3}, id="numeric text converted"),
    pytest.param({"count": 3, "extra": [1]}, {"count": 3, "extra": [1]}, id="any type as is"),
]


@pytest.mark.parametrize(("given", "expected"), ACCEPTED)
def test_fitting_arguments_come_back_in_their_parameters_types(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    checked = check_arguments(PLAIN, given)

    assert checked == expected
    assert list(checked) == list(expected)
    assert [type(v) for v in checked.values()] == [type(v) for v in expected.values()]


REJECTED = [
    pytest.param({"count": True}, "argument 'count': expected int", id="bool for int"),
    pytest.param({"label": "x"}, "missing required argument 'count'", id="missing"),
    pytest.param({"count": 3, "colour": "red"}, "unknown argument 'colour'", id="unknown"),
    pytest.param({"count": 3, "label": 4}, "argument 'label': expected str", id="int for str"),
]


@pytest.mark.parametrize(("given", "problem"), REJECTED)
def test_arguments_that_do_not_fit_are_rejected_as_before(
    given: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidArgumentsError) as raised:
        check_arguments(PLAIN, given)

    assert any(problem in message for message in raised.value.problems)
