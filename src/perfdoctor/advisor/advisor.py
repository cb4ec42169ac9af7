"""The advisor: plans for every query, then only the indexes proven to help.

queries -> prepare (SELECT only) -> bind values -> plan + cost before
        -> candidates -> trial each (rolled back / hypothetical / estimated)
        -> keep the fewest indexes that help every query they can
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from perfdoctor.advisor import binding, candidates, indexes, locks, verify
from perfdoctor.advisor.candidates import Candidate
from perfdoctor.advisor.connection import PostgresSession, Session, connect, first_line
from perfdoctor.advisor.explain import Unexplainable, plan_for, unknown_function
from perfdoctor.advisor.plans import Plan, Problem, number, problems
from perfdoctor.advisor.queries import Query, prepare
from perfdoctor.advisor.stats import Stats
from perfdoctor.progress import SILENT, Feedback
from perfdoctor.settings import Settings


@dataclass
class Explained:
    query: Query
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.query.to_dict()
        if self.plan is not None:
            data["plan"] = self.plan.to_dict()
            data["problems"] = [p.to_dict() for p in self.problems]
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Helped:
    query: Query
    before: float
    after: float
    # Kept indexes on the query's other tables that were in place for both costs
    # (a join that needs an index on each side).
    alongside: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "sql": self.query.sql,
            "endpoints": self.query.endpoints,
            "cost_before": round(self.before, 2),
            "cost_after": round(self.after, 2),
        }
        if self.alongside:
            data["alongside"] = self.alongside
        return data


@dataclass
class Recommendation:
    candidate: Candidate
    method: str
    rows: int | None
    cost_unit: str
    helps: list[Helped]


# Per candidate: queries it helps, (query, cost before, cost with it) for each tried, method.
Trials = dict[Candidate, tuple[list[Helped], list[tuple[Query, float, Optional[float]]], str]]


@dataclass
class Rejected:
    candidate: Candidate
    reason: str


@dataclass
class Advice:
    dialect: str
    explained: list[Explained]
    recommendations: list[Recommendation] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped_columns: list[str] = field(default_factory=list)
    unused: list[indexes.Index] = field(default_factory=list)
    unused_note: str | None = None
    duplicates: list[tuple[indexes.Index, indexes.Index]] = field(default_factory=list)


def _explain_one(
    session: Session, stats: Stats, query: Query, settings: Settings, analyze: bool
) -> Explained:
    prepare(query, session.dialect, settings.advisor_max_statement_bytes)
    if query.skipped:
        return Explained(query)
    missing = [t for t in sorted(set(query.aliases.values())) if not stats.columns(t)]
    if missing:
        query.skipped = f"no table {missing[0]} in this database"
        return Explained(query)
    try:
        binding.bind(query, stats)
        plan = plan_for(session, query, analyze=analyze)
    except Unexplainable as exc:
        query.skipped = str(exc)
        return Explained(query)
    except Exception as exc:  # the database's own refusal is the reason to show
        query.skipped = f"the database refused it: {first_line(exc)}"
        return Explained(query)
    found = problems(
        plan,
        stats.table_rows,
        settings.advisor_min_table_rows,
        settings.advisor_estimate_mismatch_factor,
    )
    note = None
    function = unknown_function(query)
    if function and (analyze or session.dialect == "sqlite"):
        note = f"calls {function}(), which may have side effects: planned, never run"
    elif analyze and session.dialect == "mysql":
        note = "--analyze runs on PostgreSQL only: this MySQL/MariaDB plan is estimated"
    return Explained(query, plan, found, note)


def explain_queries(
    url: str,
    queries: Sequence[Query],
    settings: Settings,
    analyze: bool = False,
    progress: Feedback = SILENT,
) -> list[Explained]:
    timeouts = (settings.advisor_lock_timeout_ms, settings.advisor_statement_timeout_ms)
    with connect(url, *timeouts, writable=False) as session:
        stats = Stats(session, settings.advisor_sample_rows)
        shown = progress.iterate(queries, "Planning queries", len(queries))
        return [_explain_one(session, stats, q, settings, analyze) for q in shown]


def advise(
    url: str,
    queries: Sequence[Query],
    settings: Settings,
    use_hypopg: bool = True,
    allow_locks: bool = False,
    progress: Feedback = SILENT,
) -> Advice:
    """Raises :class:`~perfdoctor.advisor.locks.LocksNeeded` before building an index
    that would lock the user's tables, unless ``allow_locks``."""
    with connect(
        url, settings.advisor_lock_timeout_ms, settings.advisor_statement_timeout_ms
    ) as session:
        return _advise(session, queries, settings, use_hypopg, allow_locks, progress)


def _advise(
    session: Session,
    queries: Sequence[Query],
    settings: Settings,
    use_hypopg: bool,
    allow_locks: bool,
    progress: Feedback = SILENT,
) -> Advice:
    stats = Stats(session, settings.advisor_sample_rows)
    shown = progress.iterate(queries, "Planning queries", len(queries))
    explained = [_explain_one(session, stats, q, settings, False) for q in shown]
    advice = Advice(session.dialect, explained)
    existing = indexes.existing(session)
    ready = [e for e in explained if e.plan is not None and e.plan.cost is not None]
    pool: list[Candidate] = []
    unique = frozenset(
        (i.table.lower(), i.columns[0].lower())
        for i in existing
        if i.unique and len(i.columns) == 1
    )
    for item in ready:
        for cand in candidates.for_query(
            item.query,
            stats,
            settings.advisor_min_table_rows,
            settings.advisor_low_cardinality_distinct,
            settings.advisor_skewed_top_share,
            advice.skipped_columns,
            unique,
        ):
            have = indexes.covered(existing, cand.table, cand.columns)
            if have is not None:
                reason = f"already served by the existing index {have.name}"
                if not any(r.candidate == cand for r in advice.rejected):
                    advice.rejected.append(Rejected(cand, reason))
            elif cand not in pool:
                pool.append(cand)
    method = verify.ROLLBACK
    no_hypopg: verify.NoHypoPG | None = None
    if isinstance(session, PostgresSession) and pool:
        method, no_hypopg = verify.postgres_method(session, use_hypopg)
    if not allow_locks:
        locks.ask_first(session, stats, pool, method, no_hypopg, settings)
    trials: Trials = {}
    blocked: dict[str, str] = {}
    trying = "Trying candidate indexes" + (", rolled back" if method == verify.ROLLBACK else "")
    for cand in progress.iterate(pool, trying, len(pool)):
        touching = [e for e in ready if cand.table in e.query.aliases.values()]
        if cand.table in blocked:
            advice.rejected.append(Rejected(cand, blocked[cand.table]))
            continue
        try:
            costs, used = verify.trial_costs(
                session,
                stats,
                [cand],
                [e.query for e in touching],
                [e.plan for e in touching if e.plan],
                method,
            )
        except Exception as exc:  # a lock or statement timeout: give up on this one only
            reason = f"could not be tried: {first_line(exc)}"
            if "lock" in reason:
                # Waiting again for the same table's lock would only add timeouts.
                blocked[cand.table] = reason
            advice.rejected.append(Rejected(cand, reason))
            continue
        helped, tried = [], []
        for item, after in zip(touching, costs):
            before = float(item.plan.cost) if item.plan and item.plan.cost is not None else 0.0
            tried.append((item.query, before, after))
            if after is not None and verify.helps(
                before, after, settings.advisor_min_cost_saving_pct
            ):
                helped.append(Helped(item.query, before, after))
        trials[cand] = (helped, tried, used)
    _choose(advice, trials, stats, settings)
    _complete_joins(session, stats, advice, ready, trials, method, settings)
    advice.unused, advice.unused_note = indexes.unused(session)
    advice.duplicates = indexes.duplicates(existing)
    return advice


def _widen(best: Candidate, left: dict[Candidate, Any], gain: Any) -> Candidate:
    """A wider candidate that starts with ``best``'s columns and saves as much (within
    5%) also serves the range or ORDER BY after them: equality, then range, then sort."""
    count, saved, _ = gain(best)
    for cand in left:
        if (
            cand.table == best.table
            and cand.ordered
            and len(cand.columns) > len(best.columns)
            and cand.columns[: len(best.columns)] == best.columns
            and gain(cand)[0] >= count
            and gain(cand)[1] >= 0.95 * saved
        ):
            return cand
    return best


def _complete_joins(
    session: Session,
    stats: Stats,
    advice: Advice,
    ready: list[Explained],
    trials: Trials,
    method: str,
    settings: Settings,
) -> None:
    """One index alone may not speed up a join that needs one on each side: with the
    kept indexes in place, the best candidate on each other table is tried again."""
    for item in ready:
        tables = set(item.query.aliases.values())
        if len(tables) < 2 or item.plan is None:
            continue
        tried: set[Candidate] = set()
        while True:
            kept = [r for r in advice.recommendations if r.candidate.table in tables]
            done = {r.candidate.table for r in kept}
            options = [c for c in _options(trials, item.query, tables - done) if c not in tried]
            if not kept or not options:
                break
            cand = options[0]
            tried.add(cand)
            base_with = [r.candidate for r in kept]
            try:
                costs, used = verify.trial_costs(
                    session, stats, base_with, [item.query], [item.plan], method
                )
                more, _ = verify.trial_costs(
                    session, stats, [*base_with, cand], [item.query], [item.plan], method
                )
            except Exception:  # a timeout: the join keeps what it has
                break
            base, after = costs[0], more[0]
            if base is None or after is None:
                continue
            if not verify.helps(base, after, settings.advisor_min_cost_saving_pct):
                continue
            helped = Helped(item.query, base, after, [c.label for c in base_with])
            advice.rejected = [r for r in advice.rejected if r.candidate != cand]
            advice.recommendations.append(
                Recommendation(cand, used, stats.table_rows(cand.table), _unit(advice), [helped])
            )
        _credit_kept(session, stats, advice, item, tables, method, settings)


def _credit_kept(
    session: Session,
    stats: Stats,
    advice: Advice,
    item: Explained,
    tables: set[str],
    method: str,
    settings: Settings,
) -> None:
    """A kept index that helps a join only next to another kept index says so."""
    kept = [r for r in advice.recommendations if r.candidate.table in tables]
    for rec in kept:
        if any(h.query is item.query for h in rec.helps):
            continue
        others = [r.candidate for r in kept if r is not rec]
        if not others or item.plan is None:
            continue
        try:
            base, _ = verify.trial_costs(session, stats, others, [item.query], [item.plan], method)
            more, _ = verify.trial_costs(
                session, stats, [*others, rec.candidate], [item.query], [item.plan], method
            )
        except Exception:  # a timeout: no credit, nothing else changes
            continue
        if base[0] is not None and verify.helps(
            base[0], more[0], settings.advisor_min_cost_saving_pct
        ):
            assert more[0] is not None
            rec.helps.append(Helped(item.query, base[0], more[0], [c.label for c in others]))


def _options(trials: Trials, query: Query, tables: set[str]) -> list[Candidate]:
    """Candidates on ``tables`` tried on ``query``, the biggest saving alone first."""
    scored = []
    for cand, (_, tried, _) in trials.items():
        if cand.table not in tables:
            continue
        for q, before, after in tried:
            if q is query and after is not None:
                scored.append((before - after, -len(cand.columns), cand))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [c for _, _, c in scored]


def _unit(advice: Advice) -> str:
    for item in advice.explained:
        if item.plan is not None:
            return item.plan.cost_unit
    return "cost"


def _choose(
    advice: Advice,
    trials: Trials,
    stats: Stats,
    settings: Settings,
) -> None:
    """The fewest candidates that help every query some candidate helps (greedy set cover).

    What is covered is a (query, table) pair: one index per table is enough for a
    query, but a join wants one on each side."""
    covered: set[tuple[int, str]] = set()
    left = dict(trials)
    while True:

        def gain(cand: Candidate) -> tuple[int, float, int]:
            helped = [h for h in left[cand][0] if (id(h.query), cand.table) not in covered]
            saved = sum(h.before - h.after for h in helped)
            return (len(helped), saved, -len(cand.columns))

        best = max(left, key=gain, default=None)
        if best is None or gain(best)[0] == 0:
            break
        best = _widen(best, left, gain)
        helped, _, used = left.pop(best)
        covered.update((id(h.query), best.table) for h in helped)
        advice.recommendations.append(
            Recommendation(best, used, stats.table_rows(best.table), _unit(advice), helped)
        )
    for cand, (helped, tried, _) in left.items():
        if helped:
            reason = "its queries are already helped by a kept index"
        else:
            worst = max(tried, key=lambda t: t[1], default=None)
            if worst is None:
                reason = "no query reads this table"
            elif worst[2] is None:
                reason = "its cost could not be estimated from the statistics"
            else:
                saving = 100 * (1 - worst[2] / worst[1]) if worst[1] else 0.0
                reason = (
                    f"cost {number(worst[1])} -> {number(worst[2])} ({saving:.0f}% saved, "
                    f"under advisor_min_cost_saving_pct={settings.advisor_min_cost_saving_pct:g})"
                )
        advice.rejected.append(Rejected(cand, reason))
