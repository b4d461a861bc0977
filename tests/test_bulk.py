"""The stages that make objects in bulk pause the garbage collector and give it back."""

from __future__ import annotations

import gc

import pytest

from dupfind import DEFAULT_RULES, PlanOptions, parse_rules, plan_all
from dupfind.bulk import collector_paused


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_off_inside_back_on_after_even_on_an_error(collector_on) -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it to the outer one
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0
    assert gc.isenabled()


def test_a_caller_that_turned_the_collector_off_finds_it_off(collector_on) -> None:
    gc.disable()
    plan_all([], parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False)
    assert not gc.isenabled()
    gc.enable()
    plan_all([], parse_rules(DEFAULT_RULES), PlanOptions(), lambda p: False)
    assert gc.isenabled()
