"""Create the tables and a few rows; prints the versions this ran on."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mxsite.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from shop.models import Author, Book  # noqa: E402

call_command("migrate", run_syncdb=True, verbosity=0)
for i in range(6):
    Book.objects.create(title=f"book {i}", author=Author.objects.create(name=f"author {i}"))
print(json.dumps({"python": "{}.{}".format(*sys.version_info[:2]), "django": django.get_version()}))
