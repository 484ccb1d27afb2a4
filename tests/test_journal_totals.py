"""The run's token totals: right, and cheap enough to recompute at every checkpoint."""

from synthgen.journal import Journal


def _record(j: Journal, item: str, attempt: int, stage: str, p: int, c: int, model: str = "m") -> None:
    j.record_response(item, attempt, stage, "{}", "stop", p, c, False, 0.1, model, "http://x")


def test_totals_add_up_per_stage_and_model(tmp_path):
    j = Journal(tmp_path)
    for i in range(50):
        _record(j, f"g{i}", 0, "generate", 100, 10, model="a" if i % 2 else "b")
    _record(j, "b0", 0, "brainstorm", 7, 3)
    j.flush_responses()
    totals = j.token_totals()
    assert totals["generate"] == {"responses": 50, "prompt_tokens": 5000, "completion_tokens": 500,
                                  "estimated_usage_responses": 0}
    assert totals["brainstorm"]["prompt_tokens"] == 7
    j.record_response("z0", 0, "generate", "{}", "stop", 40, 4, False, 0.1, "a", "batch:batch_1")
    j.flush_responses()
    by_model = {(m, bool(b)): (p, c) for m, b, p, c in j.tokens_by_model()}
    assert by_model == {("a", False): (2500, 250), ("b", False): (2500, 250), ("m", False): (7, 3),
                        ("a", True): (40, 4)}
    j.close()


def test_totals_do_not_read_the_response_texts(tmp_path):
    # the manifest recomputes these every ~2 s; at 500k responses of ~2 KB a full table read
    # each time stalled the run, so they must come from the small covering index
    j = Journal(tmp_path)
    _record(j, "g0", 0, "generate", 1, 1)
    j.flush_responses()
    statements: list[str] = []
    j.db.set_trace_callback(statements.append)
    j.token_totals()
    list(j.tokens_by_model())
    j.db.set_trace_callback(None)
    reads = [sql for sql in statements if "FROM responses" in sql]
    assert len(reads) == 2
    for sql in reads:
        plan = " ".join(str(row[-1]) for row in j.db.execute("EXPLAIN QUERY PLAN " + sql))
        assert "COVERING INDEX" in plan, plan
    j.close()
