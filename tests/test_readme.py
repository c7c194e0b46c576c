"""The README's file snippets are the files the tests use, byte for byte."""

from __future__ import annotations

import re

from .conftest import REPO


def test_file_snippets_match_the_files() -> None:
    text = (REPO / "README.md").read_text()
    snippets = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```\n", text, flags=re.S)
    assert len(snippets) >= 2
    for path, body in snippets:
        assert (REPO / path).read_text() == body, f"README snippet of {path} is out of date"


def test_first_screen_has_exactly_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    first_screen = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", first_screen, flags=re.S)
    assert len(blocks) == 2
    assert "kurator-compile build" in blocks[0]
    assert "pytest" in blocks[1]
