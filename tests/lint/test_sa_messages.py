"""A SQLAlchemy lint finding carries the fix the runtime report prints for the same
N+1, with the real class and relation names."""

from __future__ import annotations

from pathlib import Path

from perfdoctor.lint import lint_paths
from perfdoctor.lint.config import LintConfig
from perfdoctor.orm.sa_loading import count_query

FIXTURES = Path(__file__).parent / "fixtures"


def _messages(folder: str) -> dict[tuple[str, str, int], str]:
    result = lint_paths([FIXTURES / folder], LintConfig())
    return {(Path(f.path).name, f.code, f.line): f.message for f in result.findings}


def test_eager_fix_names_class_relation_and_loader() -> None:
    found = _messages("flask_sqlalchemy")
    assert (
        "add .options(selectinload(Post.tags)) to the query"
        in found[("PD111_views.py", "PD111", 14)]
    )
    assert "joinedload(Post.author)" in found[("PD111_views.py", "PD111", 12)]


def test_dynamic_count_fix_is_the_runtime_query() -> None:
    found = _messages("flask_sqlalchemy")
    code, _ = count_query("User", "id", "posts", "Post", "id")
    message = found[("PD112_dynamic.py", "PD112", 13)]
    assert 'User.posts is lazy="dynamic"' in message
    assert f"session.execute({code})" in message


def test_schema_fix_is_one_chain_per_path() -> None:
    found = _messages("marshmallow_flask")
    message = found[("PD115_views.py", "PD115", 22)]
    assert "reads Article.author, UserProfile.user once per row" in message
    assert ".options(joinedload(Article.author).joinedload(UserProfile.user))" in message
