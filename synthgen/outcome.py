"""How a stage ended, in one line for the user and an exit code."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import EXIT_BUDGET, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from .manifest import write_manifest
from .rounds import shortfall
from .session import StageSession
from .taxonomy import GROUPS


@dataclass
class StageOutcome:
    stage: str
    code: int
    message: str
    committed: int = 0
    requests: int = 0


def status_of(s: StageSession) -> str:
    e = s.engine
    if s.interrupted or (e is not None and (e.stop_reason or e.fatal)):
        return (e.stop_reason if e is not None else None) or "stopped"
    return "partial" if s.opts.limit is not None else "complete"


def _stopped(s: StageSession) -> StageOutcome | None:
    e, name, done = s.engine, s.name, f"{s.c.done}/{s.c.total} items done"
    st = s.stats
    if e is not None and e.fatal is not None:
        return StageOutcome(name, EXIT_FAILED, f"{name} stopped: the endpoint refused the request ({e.fatal})",
                            st.committed, st.requests)
    if s.interrupted:
        return StageOutcome(name, EXIT_INTERRUPTED, f"{name} interrupted; {done}; rerun the same command to resume",
                            st.committed, st.requests)
    reason = e.stop_reason if e is not None else None
    if reason == "exported":
        return StageOutcome(name, EXIT_OK, f"{name}: {done}; {s.exported}", st.committed, st.requests)
    if reason and reason.startswith("budget"):
        return StageOutcome(name, EXIT_BUDGET, f"{name} stopped: {reason}; {done}; rerun with a higher budget to continue",
                            st.committed, st.requests)
    if reason == "request_failed":
        return StageOutcome(name, EXIT_FAILED,
                            f"{name} stopped: {st.failed} request(s) still failing ({e.last_failure}); {done}, "
                            "every response received is saved: rerun the same command to continue",
                            st.committed, st.requests)
    return None


def _brainstorm_shortfall(s: StageSession, msg: str) -> StageOutcome | None:
    kept, cfg = s.stage.kept, s.cfg
    empty = [g for g in cfg.active_groups() if GROUPS[g].brainstorm and kept.get(g, 0) == 0]
    if empty:
        s.journal.set_meta("status:brainstorm", "failed")
        write_manifest(cfg, s.journal, s.out, 0.0)
        return StageOutcome(s.name, EXIT_FAILED, msg + f"; no usable task for {', '.join(empty)} (see rejects/); "
                            "try another model or prompts with a new --out", s.stats.committed, s.stats.requests)
    return None


def _summary(s: StageSession) -> StageOutcome:
    c, st = s.c, s.stats
    msg = f"{s.name}: {c.done}/{c.total} items, {c.accepted} accepted, {c.rejected} rejected"
    if getattr(s.stage, "notice", ""):
        msg += f"; note: {s.stage.notice}"
    if s.name == "brainstorm" and s.opts.limit is None:
        failed = _brainstorm_shortfall(s, msg)
        if failed is not None:
            return failed
        fewer = [f"{g} {n}/{s.cfg.groups[g].tasks}" for g, n in _tasks_short(s).items()]
        if fewer:
            msg += "; fewer distinct tasks than asked: " + ", ".join(fewer)
    if s.name == "generate" and s.opts.limit is None:
        short = shortfall(s.journal, s.targets)
        s.journal.set_meta("shortfall:generate", json.dumps(short, sort_keys=True))
        if short:
            msg += "; short of target after the top-up rounds: " + ", ".join(
                f"{g} {v['accepted']}/{v['target']}" for g, v in short.items())
    if st.rejected_failed:
        msg += f"; {st.rejected_failed} request(s) refused by the server (rejects: request_failed)"
    return StageOutcome(s.name, EXIT_OK, msg, st.committed, st.requests)


def _tasks_short(s: StageSession) -> dict[str, int]:
    return {g: s.stage.kept.get(g, 0) for g in s.cfg.active_groups()
            if GROUPS[g].brainstorm and s.stage.kept.get(g, 0) < (s.cfg.groups[g].tasks or 0)}


def outcome_of(s: StageSession) -> StageOutcome:
    return _stopped(s) or _summary(s)
