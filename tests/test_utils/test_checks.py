# Copyright (c) mmacs contributors. All rights reserved.
import pytest

from mmacs.utils import check_fraction, check_int, check_number


def test_check_int_names_the_argument_and_the_value():
    assert check_int(3, 'n', 1) == 3
    with pytest.raises(ValueError, match=r'^n must be an int >= 1, got 0$'):
        check_int(0, 'n', 1)
    with pytest.raises(ValueError, match='got True'):
        check_int(True, 'n', 0)
    with pytest.raises(TypeError, match=r"^seed must be an int, got '1'$"):
        check_int('1', 'seed')


def test_check_number_and_fraction_bounds():
    assert check_number(0, 'w') == 0
    with pytest.raises(ValueError, match=r'w must be a number >= 0, got -1'):
        check_number(-1, 'w')
    with pytest.raises(ValueError, match=r't must be a number > 0, got 0'):
        check_number(0, 't', strict=True)
    assert check_fraction(1, 'f', low_open=True) == 1
    with pytest.raises(ValueError, match=r'f must be a number in \(0, 1\]'):
        check_fraction(0, 'f', low_open=True)
    with pytest.raises(ValueError, match=r'p must be a number in \[0, 1\]'):
        check_fraction(1.5, 'p')
    with pytest.raises(ValueError, match=r'q must be a number in \[0, 1\)'):
        check_fraction(1, 'q', high_open=True)
    with pytest.raises(ValueError, match='got False'):
        check_fraction(False, 'p')
