"""``perfdoctor watch``: continuous checks over a sliding window of the trace store.

``window`` keeps the traces of the last few minutes, reading only the rows written
since the previous pass; ``problems`` turns a window into the problems it shows
(broken budgets, slow queries, error rates, findings new to the window); ``alerts``
tells a webhook when a problem starts and when it clears, once each; ``metrics``
serves the window's figures to Prometheus; ``command`` runs the passes.
"""
