"""The app's own tests, run with its own pytest (no pytest-django)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mxsite.settings")
django.setup()

from django.test import Client  # noqa: E402


def test_books():
    response = Client().get("/books")
    assert response.status_code == 200
    assert len(response.json()["books"]) == 6


def test_books_fixed():
    response = Client().get("/books/fixed")
    assert response.status_code == 200
    assert len(response.json()["books"]) == 6
