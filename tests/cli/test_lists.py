"""Comma-separated benchmark options parse one way and refuse bad values with an example."""

from __future__ import annotations

import pytest

from vfl.cli.lists import name_list, number_list
from vfl.core.errors import ConfigError


def test_names_and_numbers_skip_blanks() -> None:
    assert name_list(" zpaillier, ou,,") == ["zpaillier", "ou"]
    assert number_list(
        "1e6, 1e7", "--rows", "1e6", lambda x: int(float(x)), lambda n: n >= 100, "at least 100"
    ) == [1_000_000, 10_000_000]


@pytest.mark.parametrize(
    ("text", "message"), [("1,x", "not a list of numbers"), ("", r"in \(0, 1\]"), ("1,1.5", r"in \(0, 1\]")]
)
def test_bad_lists_are_refused_with_an_example(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        number_list(text, "--subsample", "1,0.5", float, lambda s: 0 < s <= 1, "each share must be in (0, 1]")
    assert err.value.hint == "e.g. --subsample 1,0.5"
