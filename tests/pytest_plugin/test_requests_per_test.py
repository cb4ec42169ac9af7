"""`pytest --perfdoctor`: requests made one after another in one test are not an N+1.

The Django test client's requests join the test's trace; each is marked, and
repeats are counted per request: five requests to ``/user/<id>/``, one row each,
are five requests.  A loop inside one request is still found.
"""

from __future__ import annotations

from _pytest.pytester import Pytester

from tests.pytest_plugin.samples import DJANGO_FILES, write

USER_VIEW = """

def user(request, pk):
    return JsonResponse({"name": Author.objects.get(pk=pk).name})


def authors(request, ids):
    names = [Author.objects.get(pk=int(pk)).name for pk in ids.split(",")]
    return JsonResponse(names, safe=False)
"""

TESTS = """import pytest

from blog.models import Author


@pytest.fixture
def people(db):
    for i in range(6):
        Author.objects.create(name=f"a{i}")


def test_five_users(client, people):
    for pk in range(1, 6):
        assert client.get(f"/user/{pk}/").status_code == 200


def test_five_authors_in_one_request(client, people):
    assert len(client.get("/authors/1,2,3,4,5/").json()) == 5
"""


def test_requests_in_one_test_are_counted_per_request(pytester: Pytester) -> None:
    files = dict(DJANGO_FILES)
    files["blog/views.py"] = (
        files["blog/views.py"].replace(
            "from blog.models import Article", "from blog.models import Article, Author"
        )
        + USER_VIEW
    )
    files["blog/urls.py"] = files["blog/urls.py"].replace(
        "urlpatterns = [",
        'urlpatterns = [\n    path("user/<int:pk>/", views.user),\n'
        '    path("authors/<str:ids>/", views.authors),',
    )
    files["test_blog.py"] = TESTS
    write(pytester, files)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--perfdoctor", timeout=120)
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    # Only the loop inside one request is an N+1.
    assert "n-plus-one-query in test_blog.py::test_five_authors_in_one_request" in out
    assert "n-plus-one-query in test_blog.py::test_five_users" not in out
