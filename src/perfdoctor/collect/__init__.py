"""``perfdoctor collect``: an OTLP/HTTP trace receiver that writes into the store.

``body`` turns a request body (OTLP protobuf or JSON, maybe gzipped) into spans;
``queue`` holds decoded spans, bounded, between the HTTP threads and the one
``writer`` thread, which maps and stores them with :mod:`perfdoctor.otlp` exactly
as ``perfdoctor import otlp`` does; ``server`` is the HTTP side and the command.
"""
