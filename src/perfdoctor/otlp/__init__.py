"""OpenTelemetry in and out: OTLP JSON files read into the store, and the store written as OTLP.

``decode`` reads OTLP JSON (JSON Lines or one document, optionally gzipped) into
plain span records; ``mapping`` turns the spans of one trace into perfdoctor's
model by their semantic-convention attributes (old and new names); ``encode``
writes traces back as OTLP JSON; ``command`` is the CLI glue.  None of it needs
an OpenTelemetry package: OTLP JSON is plain JSON.
"""
