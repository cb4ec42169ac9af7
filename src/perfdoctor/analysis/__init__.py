"""What the captured traces say: per-endpoint statistics, the detectors' run over a
store, budgets, sampling estimates and time breakdowns."""
