"""Which loop repeats a line: the loop the N+1 finding points at."""

from pathlib import Path

from perfdoctor.detectors._loops import enclosing_loop
from perfdoctor.model import Location

SOURCE = '''\
def view(articles):
    out = []
    for article in articles.all():
        name = article.author.name
        tags = [t.name for t in article.tags.all()]
        out.append((name, tags))
    return out


def one_liner(articles):
    return [a.author.name for a in articles]


def not_a_loop(articles):
    for article in load(articles):
        pass
'''


def _loop_line(tmp_path: Path, line: int) -> int | None:
    path = tmp_path / "views.py"
    path.write_text(SOURCE)
    found = enclosing_loop(Location(str(path), line, "view"))
    return found.line if found else None


def test_a_line_in_the_body_belongs_to_its_for_loop(tmp_path: Path) -> None:
    assert _loop_line(tmp_path, 4) == 3


def test_a_comprehension_over_a_related_manager_belongs_to_the_outer_loop(tmp_path: Path) -> None:
    assert _loop_line(tmp_path, 5) == 3


def test_a_one_line_comprehension_is_its_own_loop(tmp_path: Path) -> None:
    assert _loop_line(tmp_path, 11) == 11


def test_the_iterable_of_a_for_loop_is_not_inside_it(tmp_path: Path) -> None:
    assert _loop_line(tmp_path, 15) is None
