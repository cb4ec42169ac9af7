"""The Django test site's fixtures, shared with the capture tests."""

from tests.capture.conftest import django_sqlite

__all__ = ["django_sqlite"]
