"""The app's own tests, run with its own pytest."""

from app import app


def test_books():
    response = app.test_client().get("/books")
    assert response.status_code == 200
    assert len(response.get_json()["books"]) == 6


def test_books_fixed():
    response = app.test_client().get("/books/fixed")
    assert response.status_code == 200
    assert len(response.get_json()["books"]) == 6
