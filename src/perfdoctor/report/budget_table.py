"""The budget table of the terminal report: each endpoint's limits, measured, held or broken."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfdoctor.analysis.budgets import LIMITS, BudgetRow
from perfdoctor.report.evidence import num
from perfdoctor.report.names import MIN_ROOM, name_room, shorten_all


def budget_table(rows: list[BudgetRow], console: Console) -> Table:
    """One line per limit: a long endpoint name is cut in the middle to fit ``console``."""

    def build(names: list[str]) -> Table:
        return _table(rows, names)

    room = name_room(build, len(rows), console)
    return build(shorten_all([row.endpoint for row in rows], max(room, MIN_ROOM)))


def _table(rows: list[BudgetRow], names: list[str]) -> Table:
    table = Table(
        # A Text, not a str: rich would read "[tool.perfdoctor.budgets]" as markup.
        title=Text(
            "Budgets, [tool.perfdoctor.budgets] (dim: seed defaults, checked by their detectors)"
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("endpoint", no_wrap=True)
    table.add_column("limit")
    table.add_column("budget", justify="right", no_wrap=True)
    table.add_column("measured", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for row, name in zip(rows, names):
        label, unit = LIMITS[row.limit]
        measured = "-" if row.measured is None else f"{num(row.measured)} {unit}"
        if row.measured is None:
            verdict = Text("not measured", style="dim")
        elif row.broken:
            verdict = Text("OVER", style="bold red" if row.explicit else "yellow")
        else:
            verdict = Text("ok", style="green")
        table.add_row(
            name,
            Text(label, style="" if row.explicit else "dim"),
            Text(f"{num(row.budget)} {unit}", style="" if row.explicit else "dim"),
            measured,
            verdict,
        )
    return table
