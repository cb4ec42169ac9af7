"""The capture walk recognises the library frames that run a loop for the user
(marshmallow, Jinja2 here; DRF and Django templates in test_drf.py) and keeps
names and places only."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path
from typing import Any

import jinja2
import marshmallow
from marshmallow import Schema, fields

from perfdoctor import callsite, triggers


def _capture() -> dict[str, Any] | None:
    """What the hot path records for an operation issued here."""
    _frames, _framework, raw = callsite.capture(sys._getframe(1), 5)
    return None if raw is None else triggers.describe(raw)


class BookSchema(Schema):
    title = fields.String()
    shelf = fields.Method("where")

    def where(self, book: dict[str, str]) -> dict[str, Any] | None:
        return _capture()


def test_a_schema_field_is_the_trigger_and_the_user_method_is_inside_it() -> None:
    [dumped] = BookSchema(many=True).dump([{"title": "secret title"}])
    trigger = dumped["shelf"]
    assert trigger is not None
    assert (trigger["kind"], trigger["class"], trigger["field"]) == (
        "marshmallow-schema", "BookSchema", "shelf"
    )
    assert Path(trigger["path"]).resolve() == Path(__file__).resolve()
    # One user frame (where) lies between the operation and the schema's loop.
    assert trigger["inside"] == 1
    assert "secret title" not in str(trigger)


def test_a_jinja2_template_line_is_the_trigger(tmp_path: Path) -> None:
    (tmp_path / "list.html").write_text(
        "<ul>\n{% for row in rows %}\n  <li>{{ row }} {{ probe() }}</li>\n{% endfor %}\n</ul>\n"
    )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path))
    seen: list[dict[str, Any] | None] = []
    env.globals["probe"] = lambda: seen.append(_capture()) or ""
    env.get_template("list.html").render(rows=["a value"])
    [trigger] = seen
    assert trigger is not None
    assert (trigger["kind"], trigger["template"], trigger["line"]) == ("jinja2-template", "list.html", 3)
    assert Path(trigger["path"]) == tmp_path / "list.html"


def test_library_files_are_still_classified_as_before() -> None:
    fields_py = str(Path(marshmallow.fields.__file__))
    assert callsite.classify(fields_py) == callsite.SKIP
    assert callsite.classify(str(Path(jinja2.__file__))) == callsite.SKIP


def test_a_plain_stack_has_no_trigger() -> None:
    assert _capture() is None


def test_a_venv_inside_the_project_has_no_user_frames_in_its_bin() -> None:
    # Wagtail's bakery demo with its venv in the project folder: an N+1 with no
    # frame of the app's own was placed at venv/bin/gunicorn, line 8. This
    # checkout's venv is inside the project too, and pytest runs from its bin/.
    scripts = Path(sysconfig.get_paths()["scripts"])
    assert callsite.classify(str(scripts / "gunicorn")) == callsite.SKIP
    assert callsite.classify(str(Path(__file__))) == callsite.USER
