"""PD001: a file that cannot be parsed is a finding (exit 1, every format), and a file
that declares its encoding (PEP 263) is read in it and linted like any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.lint.test_cli import _lint, _validate

NO_TIMEOUT = "import requests\n\n\ndef fetch(url):\n    return requests.get(url)\n"


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"x = 1\n\ndef broken(:\n    pass\n", 3, "SyntaxError: invalid syntax"),
        (b"x = 1\nif x:\nreturn\n", 3, "IndentationError"),
        (b"x = 1\ny = '\xff\xfe'\n", 2, "bytes that are not utf-8"),
        (b"x = 1\ny = 2\x00\n", 2, "a null byte"),
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", 1, "unknown encoding"),
        (b"# coding: ascii\nname = '\xc3\xa9'\n", 2, "bytes that are not ascii"),
    ],
    ids=["syntax", "indentation", "undecodable", "null-byte", "unknown-codec", "not-ascii"],
)
def test_a_file_that_cannot_be_parsed_is_a_finding(
    tmp_path: Path, content: bytes, line: int, words: str
) -> None:
    (tmp_path / "broken.py").write_bytes(content)
    code, out, _ = _lint(".", cwd=tmp_path)
    assert code == 1, out
    first = out.splitlines()[0]
    assert first.startswith(f"broken.py:{line}:"), out
    assert " PD001 cannot parse: " in first and words in first, first
    assert "1 finding in 1 files (1 not parsed)" in out


def test_valid_files_next_to_it_are_still_linted(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def (:\n")
    (tmp_path / "app.py").write_text(NO_TIMEOUT)
    code, out, _ = _lint(".", cwd=tmp_path)
    assert code == 1
    assert [line.split(": ")[1].split()[0] for line in out.splitlines()[:2]] == ["PD201", "PD001"]


@pytest.mark.parametrize(
    "head",
    [b"# -*- coding: latin-1 -*-\n", b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\n"],
    ids=["emacs-latin-1", "vim-cp1252-line-2"],
)
def test_a_declared_encoding_is_read_and_linted(tmp_path: Path, head: bytes) -> None:
    body = "AUTHOR = 'Jos\xe9'\n" + NO_TIMEOUT
    (tmp_path / "legacy.py").write_bytes(head + body.encode("latin-1"))
    code, out, _ = _lint(".", cwd=tmp_path)
    assert code == 1, out
    line = head.count(b"\n") + 6  # the requests.get line
    assert out.splitlines()[0].startswith(f"legacy.py:{line}:12: PD201"), out
    assert "PD001" not in out and "(0 not parsed)" in out


def test_clean_files_with_an_encoding_or_a_bom_exit_0(tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nNAME = '\xe9t\xe9'\n")
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbfNAME = '\xc3\xa9t\xc3\xa9'\n")
    code, out, _ = _lint(".", cwd=tmp_path)
    assert code == 0, out
    assert "0 findings in 2 files (0 not parsed)" in out


def test_ignored_pd001_exits_0_but_still_says_the_file_was_not_parsed(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def (:\n")
    code, out, _ = _lint(".", "--ignore", "PD001", cwd=tmp_path)
    assert code == 0
    assert "broken.py: skipped, cannot parse" in out
    # --select picks the rules that run; none ran on this file, so it is reported.
    code, out, _ = _lint(".", "--select", "PD2", cwd=tmp_path)
    assert code == 1 and "broken.py:1:5: PD001" in out


def test_sarif_and_json_carry_the_parse_finding(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_bytes(b"x = 1\ny = '\xff'\n")
    code, out, _ = _lint(".", "--format", "sarif", cwd=tmp_path)
    sarif = json.loads(out)
    _validate(sarif)
    assert code == 1
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "PD001" and result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 2
    code, out, _ = _lint(".", "--format", "json", cwd=tmp_path)
    assert code == 1
    [finding] = json.loads(out)["findings"]
    assert (finding["id"], finding["location"]["path"], finding["location"]["line"]) == (
        "PD001",
        "broken.py",
        2,
    )


def test_nothing_to_lint_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no python here\n")
    code, _, err = _lint("empty", cwd=tmp_path)
    assert code == 2
    assert err.strip() == "perfdoctor: error: no Python file to lint in empty"
