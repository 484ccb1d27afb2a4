"""The scripted OpenAI-compatible server, exercised through the real openai SDK over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

import synthgen
from synthgen.taxonomy import GROUPS
from synthgen.testing.textgen import vocab_for
from synthgen.testing import (
    FakeLLMServer,
    FakeServerOptions,
    options_from_cli_args,
    request_key,
)

RETRIEVAL = """You have been assigned a retrieval task: Retrieve news reports about a company.
Write one example as a JSON object with the keys "user_query", "positive_document" and
"hard_negative_document". The query should be less than 5 words. The documents should be at
least {n} words long. The query and the documents must be in {lang}. Do not copy the query."""
CLASSIFY = """Task: classify product reviews by sentiment. Write a JSON object with "input_text",
"label" and "misleading_label". The input_text should be at least 50 words. All fields must be
in English. Neither label may appear in the input_text."""
SHORT = """Task: match paraphrased questions. Write a JSON object with "input" and
"positive_document". Everything must be in Spanish."""
STS = """Write a JSON object with "S1", "S2" and "S3": sentences with some word overlap; S1 and S2
are similar, S1 and S3 less so. All sentences must be in English."""
BITEXT = """Write a JSON object with "S1", "S2" and "S3". S1 must be in French. S2 and S3 must
be in {tgt}. S2 translates S1; S3 is fluent but wrong."""
BRAINSTORM = """Brainstorm a list of potentially useful text retrieval tasks. Your output must
always be a python list of strings only, with about 20 elements. Be creative!"""
TASKS_SCHEMA = {"type": "json_schema", "json_schema": {"name": "tasks", "schema": {
    "type": "object", "properties": {"tasks": {"type": "array", "items": {"type": "string"}}},
    "required": ["tasks"]}}}


def _client(srv: FakeLLMServer, **kw) -> openai.OpenAI:
    kw.setdefault("api_key", "test")
    return openai.OpenAI(base_url=srv.base_url, max_retries=0, **kw)


def _ask(client: openai.OpenAI, prompt: str, seed: int = 1, **kw):
    return client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": prompt}], seed=seed,
        temperature=1.0, **kw)


def _obj(client: openai.OpenAI, prompt: str, seed: int = 1, **kw) -> dict:
    return json.loads(_ask(client, prompt, seed, **kw).choices[0].message.content)


@pytest.fixture(scope="module")
def srv():
    with FakeLLMServer(FakeServerOptions(idle_exit_seconds=120)) as server:
        yield server


@pytest.fixture()
def client(srv):
    return _client(srv)


def test_completion_shape_and_model_echo(client):
    resp = _ask(client, CLASSIFY)
    assert resp.object == "chat.completion" and resp.id.startswith("chatcmpl-")
    assert resp.model == "fake-model"
    assert resp.choices[0].finish_reason == "stop"
    content = resp.choices[0].message.content
    assert resp.usage.completion_tokens == len(content) // 4 + 1
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert [m.id for m in client.models.list().data]


def test_same_request_same_bytes_across_servers():
    bodies = []
    for _ in range(2):
        with FakeLLMServer(FakeServerOptions(idle_exit_seconds=60)) as server:
            prompt = RETRIEVAL.format(n=50, lang="English")
            raw = _client(server).chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": prompt}], seed=7, temperature=1.0)
            bodies.append(raw.content)
    assert bodies[0] == bodies[1]


def test_seed_changes_content(client):
    prompt = RETRIEVAL.format(n=50, lang="English")
    first, again, other = _obj(client, prompt, 1), _obj(client, prompt, 1), _obj(client, prompt, 2)
    assert first == again
    assert first != other


def test_json_schema_keys_and_types_honoured(client):
    schema = {"type": "object", "properties": {"title": {"type": "string"},
                                               "score": {"type": "number"},
                                               "summary_document": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    out = _obj(client, "Write something as JSON.", response_format=fmt)
    assert list(out) == ["title", "score", "summary_document"]
    assert isinstance(out["score"], float) and isinstance(out["title"], str)
    assert len(out["summary_document"].split()) >= 40


@pytest.mark.parametrize("group", ["short-long", "long-short", "short-short", "sts"])
def test_prompt_keys_pick_the_group(client, group):
    prompt = {"short-long": RETRIEVAL.format(n=50, lang="English"), "long-short": CLASSIFY,
              "short-short": SHORT, "sts": STS}[group]
    assert tuple(_obj(client, prompt)) == GROUPS[group].output_keys


def test_retrieval_example_keeps_guidelines(client):
    for seed in range(8):
        out = _obj(client, RETRIEVAL.format(n=100, lang="German"), seed)
        query, pos, neg = out["user_query"], out["positive_document"], out["hard_negative_document"]
        assert 100 <= len(pos.split()) <= 130 and 100 <= len(neg.split()) <= 130
        assert 2 <= len(query.split()) <= 4  # "less than 5 words"
        assert query.lower() not in pos.lower() and query.lower() not in neg.lower()
        assert pos != neg
        assert re.search(r"\b(der|die|und|das|nicht)\b", pos + " " + neg)  # German words


def test_classification_labels_differ_and_stay_out_of_text(client):
    for seed in range(8):
        out = _obj(client, CLASSIFY, seed)
        assert out["label"] != out["misleading_label"]
        text = out["input_text"].lower()
        assert out["label"].lower() not in text and out["misleading_label"].lower() not in text
        assert len(out["input_text"].split()) >= 50


def test_bitext_languages_follow_the_prompt(client):
    out = _obj(client, BITEXT.format(tgt="Japanese"))
    cjk = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    assert re.search(r"[a-zé]", out["S1"]) and not cjk.search(out["S1"])
    for key in ("S2", "S3"):
        assert cjk.search(out[key])
    russian = _obj(client, BITEXT.format(tgt="Russian"))
    assert re.search(r"[\u0400-\u04ff]", russian["S2"])


def test_sts_triple_is_three_sentences_with_overlap(client):
    out = _obj(client, STS)
    sentences = [out[k] for k in ("S1", "S2", "S3")]
    assert len(set(sentences)) == 3
    assert all(8 <= len(s.split()) <= 20 and s.endswith(".") and s.count(".") == 1
               for s in sentences)
    words = [set(s.lower().rstrip(".").split()) for s in sentences]
    assert words[0] & words[1] and words[0] & words[2]


def test_brainstorm_list_and_schema_wrapper(client):
    tasks = _obj(client, BRAINSTORM)
    assert isinstance(tasks, list) and 18 <= len(tasks) <= 22
    assert len(set(tasks)) == len(tasks) and all(t.endswith(".") for t in tasks)
    wrapped = _obj(client, BRAINSTORM, response_format=TASKS_SCHEMA)
    assert list(wrapped) == ["tasks"] and 18 <= len(wrapped["tasks"]) <= 22


def test_brainstorm_can_repeat_tasks():
    with FakeLLMServer(FakeServerOptions(rate_repeat_task=0.5, idle_exit_seconds=60)) as server:
        tasks = _obj(_client(server), BRAINSTORM)
    assert len(set(tasks)) < len(tasks)


def test_429_with_retry_after_then_success():
    opts = FakeServerOptions(rate_429=1.0, retry_after=0.05, idle_exit_seconds=60)
    with FakeLLMServer(opts) as server:
        client = _client(server)
        with pytest.raises(openai.RateLimitError) as err:
            _ask(client, CLASSIFY, seed=1)
        assert err.value.response.headers["retry-after"] == "0.05"
        assert err.value.body["type"] == "rate_limit_error"
        # the retry carries another seed, as synthgen's retries do: same content key, no fault
        assert _ask(client, CLASSIFY, seed=2).choices[0].finish_reason == "stop"
        assert server.stats()["by_status"] == {"200": 1, "429": 1}


def test_500_then_success():
    with FakeLLMServer(FakeServerOptions(rate_500=1.0, idle_exit_seconds=60)) as server:
        client = _client(server)
        with pytest.raises(openai.InternalServerError):
            _ask(client, CLASSIFY)
        assert json.loads(_ask(client, CLASSIFY).choices[0].message.content)


def test_hang_trips_the_client_timeout_then_answers():
    opts = FakeServerOptions(rate_hang=1.0, hang_seconds=30, idle_exit_seconds=60)
    with FakeLLMServer(opts) as server:
        client = _client(server, timeout=0.5)
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            _ask(client, CLASSIFY)
        assert time.monotonic() - start < 5
        assert _ask(client, CLASSIFY).choices[0].message.content
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5  # the hung handler does not hold up stop()


def test_transient_faults_hit_a_share_of_first_requests():
    opts = FakeServerOptions(rate_500=0.3, idle_exit_seconds=60)
    with FakeLLMServer(opts) as server:
        client = _client(server)
        failed = 0
        for i in range(60):
            try:
                _ask(client, f"{CLASSIFY} #{i}")
            except openai.InternalServerError:
                failed += 1
                _ask(client, f"{CLASSIFY} #{i}", seed=99)  # second sight: answered
        assert 8 <= failed <= 30


def test_length_and_truncate_cut_the_json():
    for opts, reason in ((FakeServerOptions(rate_length=1.0), "length"),
                         (FakeServerOptions(rate_truncate=1.0), "stop")):
        with FakeLLMServer(opts) as server:
            resp = _ask(_client(server), RETRIEVAL.format(n=50, lang="English"))
            assert resp.choices[0].finish_reason == reason
            with pytest.raises(json.JSONDecodeError):
                json.loads(resp.choices[0].message.content)


def test_content_faults_break_the_guidelines():
    prompt = RETRIEVAL.format(n=100, lang="German")
    with FakeLLMServer(FakeServerOptions(rate_wrong_language=1.0, rate_short=1.0,
                                         rate_copy_query=1.0)) as server:
        out = _obj(_client(server), prompt)
        negative = out["hard_negative_document"]
        assert re.search(r"[\u0400-\u04ff\u3040-\u30ff\u4e00-\u9fff]", negative)  # not German
        assert len(negative) < 100  # 3-5 words, not 100
        assert out["user_query"] in out["positive_document"]
        assert server.stats()["faults"] == {"copy_query": 1, "short": 1, "wrong_language": 1}


def test_short_documents():
    with FakeLLMServer(FakeServerOptions(rate_short=1.0)) as server:
        out = _obj(_client(server), RETRIEVAL.format(n=300, lang="English"))
        assert 3 <= len(out["positive_document"].split()) <= 5


def test_near_duplicates_across_different_requests():
    with FakeLLMServer(FakeServerOptions(rate_near_duplicate=1.0)) as server:
        client = _client(server)
        outs = [_obj(client, CLASSIFY, seed) for seed in range(12)]
    assert len({json.dumps(o) for o in outs}) > 1

    def close(a: dict, b: dict) -> bool:
        """Same pool answer: every field differs in at most 4 words (each copy edits 1-2)."""
        for key in a:
            wa, wb = a[key].split(), b[key].split()
            if len(wa) != len(wb) or sum(x != y for x, y in zip(wa, wb)) > 4:
                return False
        return True

    # a pool of answers, every text of each copy changed in one or two words: near, never exact
    near = [(a, b) for i, a in enumerate(outs) for b in outs[i + 1:] if close(a, b)]
    assert near
    assert all(a != b for a, b in near)


def test_fenced_json_with_chatter_is_still_recoverable():
    with FakeLLMServer(FakeServerOptions(rate_fenced=1.0)) as server:
        content = _ask(_client(server), CLASSIFY).choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    inner = re.search(r"```json\n(.*)\n```", content, re.S).group(1)
    assert content.split("```")[0].strip() and content.split("```")[-1].strip()
    assert set(json.loads(inner)) == {"input_text", "label", "misleading_label"}


def test_quota_rpm_enforced_with_headers():
    opts = FakeServerOptions(quota_rpm=3, quota_window_seconds=2, idle_exit_seconds=60)
    with FakeLLMServer(opts) as server:
        client = _client(server)
        remaining = []
        for seed in range(3):
            raw = client.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": STS}], seed=seed)
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        assert remaining == ["2", "1", "0"]
        with pytest.raises(openai.RateLimitError) as err:
            _ask(client, STS, seed=9)
        headers = err.value.response.headers
        assert 0 < float(headers["retry-after"]) <= 2
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert re.fullmatch(r"\d+ms|[\d.]+s", headers["x-ratelimit-reset-requests"])
        time.sleep(float(headers["retry-after"]) + 0.05)
        assert _ask(client, STS, seed=9).choices[0].message.content


def test_quota_tpm_enforced():
    opts = FakeServerOptions(quota_tpm=200, idle_exit_seconds=60)
    with FakeLLMServer(opts) as server:
        client = _client(server)
        with pytest.raises(openai.RateLimitError) as err:
            for seed in range(20):
                _ask(client, STS, seed=seed)
        assert err.value.response.headers["x-ratelimit-limit-tokens"] == "200"
        assert float(err.value.response.headers["retry-after"]) > 0


def test_stats_count_requests_and_repeats(srv, client):
    srv.reset()
    body = {"model": "fake-model", "messages": [{"role": "user", "content": SHORT}],
            "seed": 5, "temperature": 1.0}
    for _ in range(2):
        _ask(client, SHORT, seed=5)
    _ask(client, SHORT, seed=6)
    stats = srv.stats()
    assert stats["requests"] == 3 and stats["by_status"] == {"200": 3}
    assert stats["by_key"][request_key(body)] == 2
    assert stats["distinct_requests"] == 2 and stats["repeated_requests"] == 1
    root = srv.base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(root + "/_stats") as resp:
        assert json.load(resp) == stats
    urllib.request.urlopen(urllib.request.Request(root + "/_reset", method="POST")).close()
    assert srv.stats()["requests"] == 0


def test_json_schema_rejected_when_disabled():
    with FakeLLMServer(FakeServerOptions(json_schema=False)) as server:
        client = _client(server)
        with pytest.raises(openai.BadRequestError):
            _ask(client, BRAINSTORM, response_format=TASKS_SCHEMA)
        assert isinstance(_obj(client, BRAINSTORM), list)  # the fallback without a schema


def test_api_key_required():
    with FakeLLMServer(FakeServerOptions(api_key="sekrit")) as server:
        with pytest.raises(openai.AuthenticationError):
            _ask(_client(server, api_key="wrong"), STS)
        assert _ask(_client(server, api_key="sekrit"), STS).choices[0].message.content


def test_usage_can_be_omitted():
    with FakeLLMServer(FakeServerOptions(usage=False)) as server:
        assert _ask(_client(server), STS).usage is None


def test_async_clients_in_parallel(srv):
    async def run() -> list[str]:
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
        async with client:
            resps = await asyncio.gather(*(client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": CLASSIFY}], seed=s)
                for s in range(40)))
        return [r.choices[0].message.content for r in resps]

    contents = asyncio.run(run())
    assert len(set(contents)) == 40


def test_idle_exit_stops_the_server():
    server = FakeLLMServer(FakeServerOptions(idle_exit_seconds=0.3))
    server.start()
    deadline = time.monotonic() + 5
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.running
    server.stop()


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="rate_429"):
        FakeServerOptions(rate_429=1.5)
    cmd = options_from_cli_args(["--port", "0", "--rate-429", "0.1", "--no-usage",
                                 "--quota-rpm", "100", "--retry-after", "0.5"])
    assert cmd.port == 0 and cmd.options.rate_429 == 0.1 and cmd.options.usage is False
    assert cmd.options.quota_rpm == 100 and cmd.options.retry_after == 0.5


def _start_module(*args: str, hash_seed: str = "0") -> tuple[subprocess.Popen, str]:
    root = str(Path(synthgen.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONHASHSEED=hash_seed,
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "synthgen.testing", "--port", "0", *args],
                            stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline().strip()
    match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+)/v1)", line)
    if not match:
        proc.kill()
        proc.wait()
        raise AssertionError(f"unexpected first line: {line!r}")
    return proc, match.group(1)


def test_module_entry_point_serves_and_exits_when_idle():
    proc, url = _start_module("--latency-ms", "1", "--idle-exit-seconds", "1")
    try:
        client = openai.OpenAI(base_url=url, api_key="test", max_retries=0)
        assert _obj(client, STS)["S1"]
        assert proc.wait(timeout=10) == 0  # idle exit, no orphan
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_answers_identical_across_processes_and_hash_seeds():
    prompts = [RETRIEVAL.format(n=50, lang="Polish"), CLASSIFY, SHORT, STS,
               BITEXT.format(tgt="Chinese"), BRAINSTORM, RETRIEVAL.format(n=20, lang="Korean")]
    flags = ("--idle-exit-seconds", "30", "--rate-near-duplicate", "0.3",
             "--rate-wrong-language", "0.3", "--rate-fenced", "0.3", "--rate-length", "0.2")
    answers = []
    for hash_seed in ("1", "2"):
        proc, url = _start_module(*flags, hash_seed=hash_seed)
        try:
            client = openai.OpenAI(base_url=url, api_key="test", max_retries=0)
            answers.append([client.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": p}], seed=s).content
                for p in prompts for s in range(3)])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert answers[0] == answers[1]


def test_every_fault_mix_gives_wellformed_responses():
    opts = FakeServerOptions(**{name: 0.3 for name in (
        "rate_truncate", "rate_length", "rate_wrong_language", "rate_short", "rate_copy_query",
        "rate_near_duplicate", "rate_fenced", "rate_repeat_task")})
    prompts = [RETRIEVAL.format(n=30, lang="French"), CLASSIFY, SHORT, STS, BRAINSTORM,
               BITEXT.format(tgt="Greek"), "Say hello.", 'Reply with JSON: {"answer": ...}']
    with FakeLLMServer(opts) as server:
        client = _client(server)
        for seed in range(6):
            for prompt in prompts:
                resp = _ask(client, prompt, seed)  # the SDK parses the HTTP body as JSON
                assert resp.choices[0].finish_reason in ("stop", "length")
                assert resp.choices[0].message.content
        assert server.stats()["by_status"] == {"200": 48}


def _render(stage: str, group: str, **values: str) -> str:
    from synthgen.prompts import load_template

    return load_template(stage, group).render(values)


def test_answers_follow_the_project_prompt_templates(client):
    common = {"task": "Retrieve news reports about a given company.", "language": "German",
              "clarity": "clear", "difficulty": "college", "unit": "sentence",
              "high_score": "4.5", "low_score": "2.5"}
    german = {w.lower() for w in vocab_for("German").words}
    sl = _obj(client, _render("generate", "short-long", **common, query_type="common",
                              query_length="less than 5 words", num_words="50"))
    assert tuple(sl) == GROUPS["short-long"].output_keys
    assert 2 <= len(sl["user_query"].split()) <= 4
    for doc in (sl["positive_document"], sl["hard_negative_document"]):
        assert 50 <= len(doc.split()) <= 65 and sl["user_query"].lower() not in doc.lower()
        words = [w.strip(".,").lower() for w in doc.split()]
        assert sum(w in german for w in words) >= 0.9 * len(words)
    ls = _obj(client, _render("generate", "long-short", **common, num_words="less than 10"))
    assert len(ls["input_text"].split()) < 10 and ls["label"] != ls["misleading_label"]
    ll = _obj(client, _render("generate", "long-long", **common))
    assert all(len(ll[k].split()) >= 300 for k in ("input", "positive_document"))
    ss = _obj(client, _render("generate", "short-short", **common))
    assert all(len(ss[k].split()) <= 30 for k in ("input", "positive_document"))
    bt = _obj(client, _render("generate", "bitext", **common, src_lang="French",
                              tgt_lang="Russian"))
    assert not re.search(r"[\u0400-\u04ff]", bt["S1"])
    assert all(re.search(r"[\u0400-\u04ff]", bt[k]) for k in ("S2", "S3"))
    tasks = _obj(client, _render("brainstorm", "long-short", num_tasks="8"))["tasks"]  # the asked form
    assert isinstance(tasks, list) and len(tasks) == 8
    assert all(t.startswith(("Classify", "Determine", "Identify")) for t in tasks)


def test_fault_free_answers_do_not_repeat_across_requests(client):
    # exact dedup runs on queries and short texts: word salad must not collide by chance
    inputs = {_obj(client, SHORT, seed)["input"] for seed in range(150)}
    queries = {_obj(client, RETRIEVAL.format(n=50, lang="English"), seed)["user_query"]
               for seed in range(150)}
    assert len(inputs) == 150 and len(queries) == 150


TEST_LANGUAGES = ("English", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch",
                  "Polish", "Russian", "Japanese", "Chinese")


def test_answers_pass_the_language_check_in_every_language_the_tests_use(client):
    from synthgen.quality.langid import LanguageChecker

    checker = LanguageChecker()
    for lang in TEST_LANGUAGES:
        verdicts = []
        for seed in range(4):
            out = _obj(client, RETRIEVAL.format(n=30, lang=lang), seed)
            verdicts += [checker.check(out[k], lang) for k in ("positive_document", "hard_negative_document")]
        assert verdicts == ["ok"] * 8, (lang, verdicts)


def test_wrong_language_fault_fails_the_language_check():
    from synthgen.quality.langid import LanguageChecker

    checker = LanguageChecker()
    with FakeLLMServer(FakeServerOptions(rate_wrong_language=1.0)) as server:
        for lang in ("English", "German", "Russian", "Japanese"):
            out = _obj(_client(server), RETRIEVAL.format(n=30, lang=lang))
            assert checker.check(out["positive_document"], lang) == "mismatch", lang


def test_labels_stay_out_of_the_text_whatever_the_case(client):
    # German word lists hold capitalised nouns, and sentences start with a capital: the check
    # that keeps a label out of the text must ignore case, as synthgen's validator does
    prompt = ('Task: classify news by topic. Write a JSON object with "input_text", "label" and '
              '"misleading_label". The input_text should be at least 300 words. All fields must be in German.')
    for seed in range(300):
        out = _obj(client, prompt, seed)
        text = out["input_text"].lower()
        assert out["label"].lower() not in text and out["misleading_label"].lower() not in text, seed


def test_help_says_which_faults_strike_only_a_requests_first_sight(capsys):
    # `--rate-500 1.0` let a run finish: its retries were answered, and --help did not say so
    with pytest.raises(SystemExit):
        options_from_cli_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    helps = dict(re.findall(r"(--[a-z0-9-]+) FLOAT (.*?) \(default", text))
    for flag in ("--rate-500", "--rate-429", "--rate-400"):
        assert "the first time a request is seen" in helps[flag], flag
    assert "first time" not in helps["--rate-short"]
