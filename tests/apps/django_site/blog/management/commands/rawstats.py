"""``manage.py rawstats``: a few raw SQL reports, printed as JSON.

The statements have no parameters, so their ``%`` signs are plain SQL (Django only
reads ``%s`` placeholders when parameters are given): capture must not change that.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection

REPORTS = {
    "slugs_with_an_s": "SELECT COUNT(*) FROM blog_article WHERE slug LIKE '%s%'",
    "percent_label": "SELECT '100%%'",
    "articles": "SELECT COUNT(*) FROM blog_article",
}


class Command(BaseCommand):
    help = "Print a few counts computed with raw SQL."

    def handle(self, *args: Any, **options: Any) -> None:
        results = {}
        with connection.cursor() as cursor:
            for name, sql in REPORTS.items():
                cursor.execute(sql)
                results[name] = cursor.fetchone()[0]
        self.stdout.write(json.dumps(results, sort_keys=True))
