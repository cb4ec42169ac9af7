"""Per endpoint, the Python hot spots that ``run --profile`` sampled (trace attrs ``profile``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from perfdoctor.model import SERVER_KIND, Trace

if TYPE_CHECKING:  # the text report's; the analysis and other formats go without rich
    from rich.text import Text

TOP = 5


class Profiles:
    """Per endpoint, the summed ms of each hot spot and the profiled requests,
    gathered chunk by chunk (bounded by the distinct frames, not the traces)."""

    def __init__(self) -> None:
        self.totals: dict[str, dict[tuple[str, int, str], float]] = defaultdict(dict)
        self.profiled: dict[str, int] = defaultdict(int)

    def feed(self, traces: Iterable[Trace]) -> None:
        for trace in traces:
            summary = trace.attrs.get("profile")
            if trace.kind == SERVER_KIND or not isinstance(summary, dict):
                continue
            self.profiled[trace.name] += 1
            sums = self.totals[trace.name]
            for spot in summary.get("hotspots") or ():
                key = (str(spot["path"]), int(spot["line"]), str(spot["function"]))
                sums[key] = sums.get(key, 0.0) + float(spot["ms"])

    def top(self, top: int = TOP) -> dict[str, list[dict[str, Any]]]:
        result = {}
        for name, sums in self.totals.items():
            n = self.profiled[name]
            best = sorted(sums.items(), key=lambda item: (-item[1], item[0]))[:top]
            result[name] = [
                {"path": p, "line": line, "function": fn, "ms": round(ms / n, 2)}
                for (p, line, fn), ms in best
            ]
        return result


def endpoint_hotspots(traces: Sequence[Trace], top: int = TOP) -> dict[str, list[dict[str, Any]]]:
    """Endpoint name -> its top user-code frames, ``ms`` = mean per profiled request."""
    profiles = Profiles()
    profiles.feed(traces)
    return profiles.top(top)


def hotspot_lines(hotspots: dict[str, list[dict[str, Any]]]) -> list[Text]:
    """The text report's "hot spots" section (empty when nothing was profiled)."""
    from rich.text import Text

    lines = []
    for name, spots in hotspots.items():
        if not spots:
            continue
        lines.append(Text(f"  {name}", style="bold"))
        for spot in spots:
            line = Text(f"    {spot['ms']:>8.1f} ms  ")
            line.append(f"{spot['path']}:{spot['line']}", style="bold")
            line.append(f" in {spot['function']}", style="dim")
            lines.append(line)
    if lines:
        lines.insert(
            0, Text("Hot spots (run --profile; user code, mean ms per request)", style="bold")
        )
    return lines
