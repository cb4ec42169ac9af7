"""Create the site's two users (what the tests log in as)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERS = {"alice": "alice-password", "bob": "bob-password"}


class Command(BaseCommand):
    help = "Create the users alice and bob."

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        for name, password in USERS.items():
            if not model.objects.filter(username=name).exists():
                model.objects.create_user(name, f"{name}@example.com", password)
