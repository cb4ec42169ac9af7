"""Request each path of app.py once with Flask's test client; run under ``perfdoctor run``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from app import app, seed

seed()
client = app.test_client()


def fetch(path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, (response.status_code, response.data[:500])


# map(), not a for-loop: the driver's own loop is not the one the app runs.
list(map(fetch, sys.argv[1:]))
