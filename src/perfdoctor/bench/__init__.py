"""``perfdoctor bench``: drive chosen endpoints and measure them.

:mod:`.spec` parses what to drive, :mod:`.targets` calls an app in-process
(WSGI or ASGI) or over HTTP, :mod:`.run` schedules the requests, records
latencies in an HDR histogram and writes the JSON that ``perfdoctor compare``
reads.
"""
