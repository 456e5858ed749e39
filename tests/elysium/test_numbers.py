"""The one strict number parser every query and path number goes through."""

from __future__ import annotations

import pytest

from elysium import numbers


def test_ascii_digits_in_range_are_numbers() -> None:
    assert numbers.whole("0", "n", 0, 10) == 0
    assert numbers.whole("10", "n", 0, 10) == 10
    assert numbers.whole("007", "n", 0, 10) == 7
    assert numbers.whole("2147483647", "from", 0, 2**31 - 1) == 2**31 - 1
    assert numbers.decimal("2.5", "delay", 0, 60) == 2.5
    assert numbers.decimal("60", "delay", 0, 60) == 60.0
    assert numbers.decimal("0.25", "speed", 0.25, 16) == 0.25


# Each of these is taken by str.isdigit(), int() or float(), and refused here.
LOOSE = ["²", "١٢", "１２", "𝟙", "৩", " 5", "5 ", "+5", "-0", "1_0", "0x10", "", "5\n", "\u200b5"]


@pytest.mark.parametrize("raw", LOOSE)
def test_anything_but_ascii_digits_is_refused_with_one_message(raw: str) -> None:
    with pytest.raises(numbers.NumberError) as err:
        numbers.whole(raw, "limit", 1, 200)
    assert str(err.value) == "limit must be a whole number from 1 to 200" and err.value.name == "limit"


@pytest.mark.parametrize("raw", [*LOOSE, "1e1", "inf", "nan", "Infinity", "1.", ".5", "1.2.3", "1,5"])
def test_decimals_are_digits_with_one_point(raw: str) -> None:
    with pytest.raises(numbers.NumberError) as err:
        numbers.decimal(raw, "delay", 0, 60)
    assert str(err.value) == "delay must be a number from 0 to 60 (digits and an optional decimal point)"


@pytest.mark.parametrize("raw", ["0", "201", "99999999999999999999", "1" + "0" * 20, "9" * 5000])
def test_out_of_range_and_overlong_values_are_refused(raw: str) -> None:
    with pytest.raises(numbers.NumberError):
        numbers.whole(raw, "limit", 1, 200)
    with pytest.raises(numbers.NumberError):
        numbers.decimal(raw + ".5", "delay", 1, 200)


def test_the_loose_inputs_really_are_loose() -> None:
    """The cases above matter: the built-ins take them (or call them digits)."""
    assert "²".isdigit() and int("١٢") == 12 and int("１２") == 12 and int(" 5") == 5 and int("1_0") == 10
    assert float("1e1") == 10.0 and float("inf") > 0 and float("১") == 1.0
