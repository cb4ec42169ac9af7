"""The demo app as a module-level WSGI app, for ``perfdoctor bench``::

    perfdoctor bench --app perfdoctor.demo.wsgi:app --endpoint "GET /articles"

Seeds the demo database on import if needed (the path ``perfdoctor audit``
uses: :func:`perfdoctor.demo.default_database`).
"""

from __future__ import annotations

from perfdoctor.demo import default_database
from perfdoctor.demo.app import create_app
from perfdoctor.demo.seed import ensure_seeded

database = default_database().absolute()
ensure_seeded(database)
app = create_app(database)
