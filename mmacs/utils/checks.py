# Copyright (c) mmacs contributors. All rights reserved.
"""Argument checks whose errors name the argument and the bad value.

``bool`` is an ``int`` to Python; none of these accept it as a number.
"""
from numbers import Real


def is_int(value) -> bool:
    """``value`` is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """``value`` is a real number and not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_int(value, name: str, min_value=None) -> int:
    """``value`` if it is an int (>= ``min_value`` when given); else a
    TypeError ('an int') or a ValueError ('an int >= m')."""
    if min_value is None:
        if not is_int(value):
            raise TypeError(f'{name} must be an int, got {value!r}')
    elif not is_int(value) or value < min_value:
        raise ValueError(
            f'{name} must be an int >= {min_value}, got {value!r}')
    return value


def check_number(value, name: str, min_value=0, strict: bool = False):
    """``value`` if it is a number ``>= min_value`` (``>`` when
    ``strict``); else a ValueError."""
    if not is_number(value) or value < min_value or (strict
                                                     and value == min_value):
        raise ValueError(f'{name} must be a number {">" if strict else ">="} '
                         f'{min_value}, got {value!r}')
    return value


def check_fraction(value,
                   name: str,
                   low_open: bool = False,
                   high_open: bool = False):
    """``value`` if it is a number in ``[0, 1]`` (0 left out when
    ``low_open``, 1 when ``high_open``); else a ValueError naming the
    interval."""
    inside = is_number(value) and (0 < value if low_open else 0 <= value) \
        and (value < 1 if high_open else value <= 1)
    if not inside:
        interval = ('(' if low_open else '[') + '0, 1' + (
            ')' if high_open else ']')
        raise ValueError(
            f'{name} must be a number in {interval}, got {value!r}')
    return value
