# Copyright (c) mmacs contributors. All rights reserved.
"""The README stays short and every relative link of README.md and docs/
names a file of the repository."""
import re

import pytest

from mmacs.testing import REPO


def relative_links():
    pages = [REPO / 'README.md'] + sorted((REPO / 'docs').glob('*.md'))
    for page in pages:
        text = re.sub(r'```.*?```', '', page.read_text(), flags=re.S)
        for target in re.findall(r'\]\(([^)#\s]+)', text):
            if not re.match(r'[a-z]+://', target):
                yield page.relative_to(REPO), target


def test_readme_is_short():
    assert len((REPO / 'README.md').read_text().splitlines()) <= 250


@pytest.mark.parametrize('page,target', sorted(set(relative_links())),
                         ids=str)
def test_relative_link_names_a_file(page, target):
    path = (REPO / page).parent / target
    assert path.exists(), f'{page} links {target}, which does not exist'
