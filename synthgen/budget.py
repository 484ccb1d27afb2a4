"""--max-cost and --max-requests: stop launching requests once the whole run (every session, from
the journal) has spent a budget. Requests in flight finish: they are already paid for."""

from __future__ import annotations

from .config import RunConfig
from .journal import Journal
from .manifest import cost_of


class BudgetExhausted(Exception):
    """A --max-cost or --max-requests budget was reached: stop launching, keep what we have."""


class BudgetGate:
    def __init__(self, cfg: RunConfig, journal: Journal, max_cost: float | None, max_requests: int | None):
        self.max_cost = max_cost if max_cost is not None else cfg.budget.max_cost
        self.max_requests = max_requests if max_requests is not None else cfg.budget.max_requests
        totals = journal.token_totals()
        self.requests_so_far = sum(t["responses"] for t in totals.values()) + journal.failure_count()
        # None when the model has no price (then there is no cost to count)
        self.cost_so_far, _ = cost_of(cfg, journal)
        self.price = cfg.prices.get(cfg.llm.model)
        self.sent = 0

    def before_request(self) -> None:
        if self.max_requests is not None and self.requests_so_far + self.sent >= self.max_requests:
            raise BudgetExhausted(f"budget reached: max_requests={self.max_requests}")
        if self.max_cost is not None and self.cost_so_far >= self.max_cost:
            raise BudgetExhausted(f"budget reached: max_cost=${self.max_cost:g}")
        self.sent += 1

    def add(self, response) -> None:
        if self.price is not None:
            rate_in, rate_out = self.price.rates(batch=False)
            self.cost_so_far += (response.prompt_tokens / 1e6 * rate_in
                                 + response.completion_tokens / 1e6 * rate_out)
