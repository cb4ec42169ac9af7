"""The process trace's name under ``perfdoctor run``: the program, or its command."""

from __future__ import annotations

import sys

import pytest

from perfdoctor.capture.auto import _process_name


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["manage.py", "send_digest", "--dry-run"], "manage.py send_digest"),
        (["manage.py", "--settings=shop.settings", "send_digest"], "manage.py send_digest"),
        (["/venv/bin/django-admin", "send_digest"], "django-admin send_digest"),
        (["-m", "django", "send_digest"], "django-admin send_digest"),
        (["manage.py"], "manage.py"),
        (["/venv/bin/celery", "-A", "shop", "worker"], "celery"),
        (["-m", "celery", "-A", "shop", "worker"], "celery"),
        (["-u", "nightly.py", "--full"], "nightly.py"),
    ],
)
def test_a_management_command_names_its_trace(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], name: str
) -> None:
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, *argv], raising=False)
    assert _process_name() == name
