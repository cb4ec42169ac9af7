"""Serve three endpoints once each, captured: ``python -m shop.run TRACES [NAME...]``.

With names, only those endpoints are served.

Each "request" is a named trace, the way a web framework integration names them;
the session is new per request, as in a web app.
"""

import sys

import perfdoctor

perfdoctor.instrument(sys.argv[1])

from shop.legacy.report import comment_counts  # noqa: E402
from shop.models import seeded_session  # noqa: E402
from shop.views import post_titles  # noqa: E402

for name, view in [
    ("GET /api/posts", post_titles),
    ("GET /admin/posts", post_titles),
    ("GET /api/comments", comment_counts),
]:
    if sys.argv[2:] and name not in sys.argv[2:]:
        continue
    session = seeded_session()
    with perfdoctor.trace(name, "http"):
        view(session)
    session.close()
perfdoctor.flush()
perfdoctor.uninstrument()
