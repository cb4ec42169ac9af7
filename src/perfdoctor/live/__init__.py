"""``perfdoctor run --live``: one line per finished request while you develop.

``tail.py`` reads the requests the app's processes write to the store,
``detect.py`` runs the per-request detectors on each, ``line.py`` says what a
request's line holds, ``limiter.py`` keeps a busy app from flooding the
terminal, and ``render.py`` writes the lines (coloured on a terminal).

All of it runs in the ``perfdoctor run`` process, not in the app's: the app
only writes its traces to the store as it always does.
"""
