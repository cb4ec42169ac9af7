"""Database advisor: EXPLAIN the queries an app runs, and propose only indexes proven to help.

from perfdoctor.advisor import advise, from_command_line
advice = advise("sqlite:///app.db", from_command_line(["SELECT ..."]), Settings())
"""

from perfdoctor.advisor.advisor import Advice, Explained, advise, explain_queries
from perfdoctor.advisor.queries import (
    Query,
    from_command_line,
    from_pg_stat_statements,
    from_traces,
)

__all__ = [
    "Advice",
    "Explained",
    "Query",
    "advise",
    "explain_queries",
    "from_command_line",
    "from_pg_stat_statements",
    "from_traces",
]
