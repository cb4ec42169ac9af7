"""``perfdoctor bench`` and ``perfdoctor compare``: drive chosen endpoints, measure them,
and say whether a change made them faster or slower.

:mod:`.spec` parses what to drive, :mod:`.targets` calls an app in-process
(WSGI or ASGI) or over HTTP, :mod:`.sides` and :mod:`.worker` run the app in a
worker process (one per side of an interleaved A/B run, the old commit's from
:mod:`.baseline`), :mod:`.run` schedules the rounds of requests and writes the
result JSON. :mod:`.compare` compares two results (or the two sides of one) with
the statistics of :mod:`.verdict` and :mod:`.bootstrap`, printed by
:mod:`.compare_text` and :mod:`.compare_json`.
"""
