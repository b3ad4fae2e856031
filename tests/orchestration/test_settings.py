"""Settings read from the environment: a bad value fails at start with a line that names it."""

import re

import pytest

from orchestration.pipeline import settings


def test_parallel_loads_reads_a_whole_number_and_defaults_to_four(monkeypatch):
    monkeypatch.delenv("PARALLEL_LOADS", raising=False)
    assert settings.load().parallel_loads == 4
    monkeypatch.setenv("PARALLEL_LOADS", " 12 ")
    assert settings.load().parallel_loads == 12


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_parallel_loads_names_the_setting_and_the_value(monkeypatch, value):
    monkeypatch.setenv("PARALLEL_LOADS", value)
    expected = f"PARALLEL_LOADS must be a whole number from 1 up, not '{value}'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        settings.load()


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_flag_names_the_setting_and_the_value(monkeypatch, value):
    monkeypatch.setenv("LOAD_PERSONAL_DATA", value)
    expected = f"LOAD_PERSONAL_DATA must be true or false, not '{value}'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        settings.load()
