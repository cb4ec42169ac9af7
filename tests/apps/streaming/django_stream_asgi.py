"""The one-file Django project of ``django_stream`` as an ASGI application."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_stream")
application = get_asgi_application()
