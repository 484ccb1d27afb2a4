"""Injected near-duplicates, wrong-language outputs and short documents: each rejected with the
right reason, and the quality report shows the rates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from synthgen.config import parse_config
from synthgen.pipeline import RunOptions, run_all

from helpers import examples, read_jsonl, rejects


def _cfg(url: str, **validation) -> dict:
    return {"seed": 3, "llm": {"model": "scripted", "base_url": url},
            "groups": {"short-long": {"tasks": 5, "examples": 150}, "sts": {"examples": 50},
                       "long-short": {"tasks": 3, "examples": 50}},
            "languages": {"mode": "custom", "weights": {"English": 3, "German": 1, "French": 1}},
            "validation": validation}


def test_injected_faults_get_the_right_reasons_and_rates(make_server, tmp_path):
    srv = make_server(rate_near_duplicate=0.2, rate_wrong_language=0.15, rate_short=0.15)
    run_all(parse_config(_cfg(srv.base_url)), RunOptions(out=tmp_path / "run", quiet=True))
    rej = [r for r in rejects(tmp_path / "run") if r["stage"] == "generate"]
    by_reason: dict[str, list[dict]] = {}
    for r in rej:
        by_reason.setdefault(r["reason"], []).append(r)
    assert {"near_duplicate", "wrong_language", "too_short"} <= set(by_reason)
    accepted_ids = {e["id"] for e in examples(tmp_path / "run")}
    for r in by_reason["near_duplicate"]:
        assert r["duplicate_of"] in accepted_ids  # points at the example it copies
    for r in by_reason["wrong_language"]:
        expected = r["placeholders"]["language"]
        assert f"not {expected}" in r["detail"]
    for r in by_reason["too_short"]:
        assert "words, needs" in r["detail"]

    out = subprocess.run([sys.executable, "-m", "synthgen", "stats", str(tmp_path / "run"), "--json"],
                         capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    items = report["generate"]["items"]
    assert report["duplicates"]["near"]["count"] == len(by_reason["near_duplicate"])
    assert report["duplicates"]["near"]["rate"] == round(len(by_reason["near_duplicate"]) / items, 6) or \
        abs(report["duplicates"]["near"]["rate"] - len(by_reason["near_duplicate"]) / items) < 1e-3
    assert report["language_check"]["wrong_language"]["count"] == len(by_reason["wrong_language"])
    assert report["generate"]["rejected_by_reason"]["too_short"] == len(by_reason["too_short"])


def test_rules_set_to_flag_keep_the_examples(make_server, tmp_path):
    srv = make_server(rate_wrong_language=0.15)
    cfg = _cfg(srv.base_url, rules={"wrong_language": "flag"})
    run_all(parse_config(cfg), RunOptions(out=tmp_path / "run", quiet=True))
    assert not [r for r in rejects(tmp_path / "run") if r["reason"] == "wrong_language"]
    flagged = [e for e in examples(tmp_path / "run") if "wrong_language" in e["flags"]]
    assert flagged


def _files(run) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes()
            for p in sorted(run.glob("*/*.jsonl")) if p.parent.name in ("examples", "rejects")}


def test_check_worker_gives_the_same_answers_as_checking_in_process(make_server, tmp_path):
    # the order-free checks in a worker process, batched, must not change a single byte
    srv = make_server(rate_near_duplicate=0.2, rate_wrong_language=0.15, rate_short=0.1)
    outs = {}
    for mode in ("off", "on"):
        run = tmp_path / mode
        run_all(parse_config(_cfg(srv.base_url, check_worker=mode)), RunOptions(out=run, quiet=True))
        outs[mode] = _files(run)
    assert outs["on"] == outs["off"]
    reasons = {json.loads(line)["reason"] for name, data in outs["on"].items() if name.startswith("rejects/")
               for line in data.splitlines()}
    assert {"near_duplicate", "wrong_language", "too_short"} <= reasons


def test_check_worker_killed_mid_run_falls_back_with_the_same_answers(tmp_path):
    # a worker that dies (OOM killer, kill -9) with batches inside costs speed, not answers
    import asyncio
    import os
    import signal

    from synthgen.config import ValidationConfig
    from synthgen.quality.check_worker import PrecheckPool
    from synthgen.quality.precheck import Prechecker

    examples = [("sts", {"S1": f"The cat sat on mat number {i} today.", "S2": "A cat was sitting on the mat.",
                         "S3": "Stock markets fell sharply."}, {"language": "English"}) for i in range(300)]

    async def main():
        pool = PrecheckPool(ValidationConfig().rules_for_checks())
        try:
            first = await pool.check(examples[0])
            pid = pool.pid
            assert pid is not None and pid != os.getpid()
            tasks = [asyncio.ensure_future(pool.check(e)) for e in examples]
            await asyncio.sleep(0)  # the first batch goes out
            os.kill(pid, signal.SIGKILL)
            answers = await asyncio.gather(*tasks)
            return first, answers, pool.broken
        finally:
            await pool.aclose()

    first, answers, broken = asyncio.run(main())
    assert broken and "worker" in broken  # it noticed
    expected = Prechecker(ValidationConfig().rules_for_checks()).run(examples)
    assert first == expected[0] and answers == expected


def test_run_goes_on_when_its_check_worker_is_killed(make_server, tmp_path):
    # kill -9 the worker of a real `synthgen run`: same output as checking in-process, exit 0,
    # and the last line says what happened
    import os
    import signal
    import time
    from pathlib import Path

    # slow enough that the run is still going, however loaded the machine, when the worker dies
    srv = make_server(latency_ms=300, rate_near_duplicate=0.2, rate_wrong_language=0.15)
    outs = {}
    for mode in ("off", "on"):
        cfg = tmp_path / f"{mode}.toml"
        lines = ["seed = 3", "[llm]", 'model = "scripted"', f'base_url = "{srv.base_url}"',
                 "concurrency = 16", "[groups.short-long]", "tasks = 5", "examples = 150", "[groups.sts]",
                 "examples = 50", "[languages]", 'mode = "custom"', "[languages.weights]", "English = 3",
                 "German = 1", "[validation]", f'check_worker = "{mode}"']
        cfg.write_text("\n".join(lines) + "\n")
        run = tmp_path / mode
        proc = subprocess.Popen([sys.executable, "-m", "synthgen", "run", "--config", str(cfg), "--out", str(run),
                                 "--quiet"], stderr=subprocess.PIPE, text=True)
        if mode == "on":
            worker, deadline = None, time.time() + 60
            while worker is None and time.time() < deadline and proc.poll() is None:
                for task in Path(f"/proc/{proc.pid}/task").iterdir():
                    for child in (task / "children").read_text().split():
                        if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text():
                            worker = int(child)
                time.sleep(0.05)
            assert worker is not None, "no check worker started"
            time.sleep(0.2)
            assert proc.poll() is None, "the run ended before its worker could be killed"
            os.kill(worker, signal.SIGKILL)
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        outs[mode] = (_files(run), err)
    assert outs["on"][0] == outs["off"][0]
    # one plain clause, however the pool learnt of it (an answer lost, or a batch refused)
    assert "; note: the check worker exited; checked in-process instead\n" in outs["on"][1], outs["on"][1]
    assert "Traceback" not in outs["on"][1]


def _worker_of(proc: subprocess.Popen) -> int | None:
    from pathlib import Path

    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text():
                return int(child)
    return None


def test_the_installed_command_s_check_worker_loads_the_checks_alone(make_server, tmp_path):
    # run as users run it (the `synthgen` script, not `python -m`): a spawned worker re-imports the
    # parent's main module, and the script's would bring the CLI, the SDK, aiohttp and pydantic
    import time
    from pathlib import Path

    command = Path(sys.executable).parent / "synthgen"
    assert command.exists(), "the install puts the synthgen command beside the interpreter"
    srv = make_server(latency_ms=200)
    cfg = tmp_path / "c.toml"
    cfg.write_text("\n".join(["seed = 3", "[llm]", 'model = "scripted"', f'base_url = "{srv.base_url}"',
                              "concurrency = 8", "[groups.short-long]", "tasks = 5", "examples = 120",
                              "[validation]", 'check_worker = "on"']) + "\n")
    proc = subprocess.Popen([str(command), "run", "--config", str(cfg), "--out", str(tmp_path / "run"), "-q"],
                            stderr=subprocess.PIPE, text=True)
    maps, deadline = "", time.time() + 90
    while "numpy" not in maps and time.time() < deadline and proc.poll() is None:
        worker = _worker_of(proc)
        if worker is not None:
            try:  # numpy is mapped once the worker's language model is loading: its imports are done
                maps = Path(f"/proc/{worker}/maps").read_text()
            except (FileNotFoundError, ProcessLookupError):
                maps = ""
        time.sleep(0.05)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "numpy" in maps, "never saw the check worker load its model"
    for heavy in ("pydantic_core", "aiohttp", "tiktoken"):
        assert heavy not in maps, f"the check worker loaded {heavy}"


def test_examples_waiting_for_a_busy_worker_go_to_it_earliest_plan_position_first(tmp_path):
    # answers arrive in any order but commit in plan order: what waits for the worker is sent
    # lowest position first, so the example the commit needs is not stuck behind later ones
    import asyncio

    from synthgen.config import ValidationConfig
    from synthgen.quality.check_worker import PrecheckPool
    from synthgen.quality.precheck import Prechecker

    examples = [("sts", {"S1": f"Bird {i} sings on the old oak tree.", "S2": "A bird is singing in a tree.",
                         "S3": "Interest rates rose again."}, {"language": "English"}) for i in range(300)]
    positions = list(range(len(examples)))[::-1]  # they arrive latest position first

    async def main():
        pool = PrecheckPool(ValidationConfig().rules_for_checks())
        pool.MAX_BATCH, pool.MAX_OUT = 20, 1
        done: list[int] = []
        try:
            await pool.start()

            async def one(e, pos):
                r = await pool.check(e, pos)
                done.append(pos)
                return r

            answers = await asyncio.gather(*(one(e, p) for e, p in zip(examples, positions)))
            return answers, done
        finally:
            await pool.aclose()

    answers, done = asyncio.run(main())
    assert answers == Prechecker(ValidationConfig().rules_for_checks()).run(examples)  # same answers as in-process
    assert done == sorted(positions)  # checked strictly by plan position, not by arrival


def test_a_busy_worker_gets_bigger_batches_and_nothing_is_left_waiting(tmp_path):
    # while a batch is in the worker, a handful of new examples wait for more to join them; they
    # go as soon as the worker is back, so a small tail of a run is never stranded
    import asyncio

    from synthgen.config import ValidationConfig
    from synthgen.quality.check_worker import PrecheckPool
    from synthgen.quality.precheck import Prechecker

    examples = [("sts", {"S1": f"Bird {i} sings on the old oak tree.", "S2": "A bird is singing in a tree.",
                         "S3": "Interest rates rose again."}, {"language": "English"}) for i in range(15)]

    async def main():
        pool = PrecheckPool(ValidationConfig().rules_for_checks())
        try:
            await pool.start()
            first = [asyncio.ensure_future(pool.check(e, i)) for i, e in enumerate(examples[:10])]
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert pool._out == 1 and not pool._pending  # an idle worker takes what there is
            later = [asyncio.ensure_future(pool.check(e, i)) for i, e in enumerate(examples[10:], 10)]
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            held = len(pool._pending)
            answers = await asyncio.gather(*first, *later)  # and the 5 are not stranded
            return held, answers
        finally:
            await pool.aclose()

    held, answers = asyncio.run(main())
    assert held == 5
    assert answers == Prechecker(ValidationConfig().rules_for_checks()).run(examples)


def test_the_check_worker_is_gone_once_its_pool_closes(tmp_path):
    import asyncio

    from synthgen.config import ValidationConfig
    from synthgen.quality.check_worker import PrecheckPool

    example = ("sts", {"S1": "The cat sat on the old mat today.", "S2": "A cat was sitting on the mat.",
                       "S3": "Stock markets fell sharply."}, {"language": "English"})

    async def main():
        pool = PrecheckPool(ValidationConfig().rules_for_checks())
        await pool.check(example)
        pid = pool.pid
        await pool.aclose()
        return pid

    pid = asyncio.run(main())
    assert pid is not None and pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _worker_threads(monkeypatch, blas_threads: str | None) -> int:
    """Threads of a check worker that has loaded numpy and the language model."""
    import asyncio

    from synthgen.config import ValidationConfig
    from synthgen.quality.check_worker import PrecheckPool

    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    if blas_threads is not None:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", blas_threads)
    example = ("sts", {"S1": "The cat sat on the old mat today.", "S2": "A cat was sitting on the mat.",
                       "S3": "Stock markets fell sharply."}, {"language": "English"})

    async def main():
        pool = PrecheckPool(ValidationConfig().rules_for_checks())
        try:
            await pool.check(example)  # answered: numpy and its BLAS are loaded
            status = open(f"/proc/{pool.pid}/status").read()
            return int(status.split("Threads:")[1].split()[0])
        finally:
            await pool.aclose()

    return asyncio.run(main())


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="thread counts read from /proc; one core gives one BLAS thread anyway")
def test_the_check_worker_runs_one_blas_thread_unless_the_user_asks_for_more(monkeypatch):
    # a BLAS pool of one thread per core only spins in the worker, taking cores from the loop
    # the worker's own threads: its main thread and the one watching for its parent to die
    assert _worker_threads(monkeypatch, None) == 2
    assert _worker_threads(monkeypatch, "2") == 3  # the user's setting is kept


def _near_example(rng, s1: str | None = None, s2: str | None = None) -> dict:
    words = [f"w{i}" for i in range(400)]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(80))

    return {"S1": s1 or text(), "S2": s2 or text(), "S3": "Stock markets fell sharply on Monday."}


def _near_copy(text: str, word: str = "changed") -> str:
    w = text.split()
    w[len(w) // 2] = word
    return " ".join(w)


def _judge(tmp_path, near_policy: str, examples: list[tuple[str, dict]]):
    """Verdicts for sts examples judged in order, in one transaction, by a fresh checker."""
    from synthgen.config import ValidationConfig
    from synthgen.journal import Journal
    from synthgen.quality.checks import ExampleChecker

    cfg = ValidationConfig(rules={"near_duplicate": near_policy, "wrong_language": "off", "sts_order": "off"})
    journal = Journal(tmp_path)
    checker = ExampleChecker(cfg.rules_for_checks(), journal)
    journal.begin()
    verdicts = [checker.check_example("sts", ex, {"language": "English"}, name) for name, ex in examples]
    journal.commit()
    journal.close()
    return verdicts


def test_a_rejected_example_leaves_none_of_its_texts_behind_as_an_earlier_copy(tmp_path):
    # B's query is new but its document copies A's: B is rejected, and C, whose query copies B's,
    # is judged against what was accepted (A), not against B's never-accepted query
    import random

    rng = random.Random(4)
    a = _near_example(rng)
    b = _near_example(rng, s2=_near_copy(a["S2"]))
    c = _near_example(rng, s1=_near_copy(b["S1"]))
    d = _near_example(rng, s1=_near_copy(c["S1"]))
    verdicts = _judge(tmp_path, "reject", [("A", a), ("B", b), ("C", c), ("D", d)])
    assert verdicts[0].finding is None
    assert verdicts[1].finding.reason == "near_duplicate" and verdicts[1].duplicate_of == "A"
    assert verdicts[2].finding is None  # before: rejected as a near-copy of B
    assert verdicts[3].duplicate_of == "C"  # C's texts were stored: it has copies


def test_a_flagged_example_stores_its_other_texts_for_later_ones(tmp_path):
    # with near_duplicate = "flag", B is kept (flagged: its query copies A's); its new document
    # is stored, so C, which copies that document, is flagged too
    import random

    rng = random.Random(5)
    a = _near_example(rng)
    b = _near_example(rng, s1=_near_copy(a["S1"]))
    c = _near_example(rng, s2=_near_copy(b["S2"]))
    both = _near_example(rng, s1=_near_copy(a["S1"], "other"), s2=_near_copy(a["S2"], "other"))
    verdicts = _judge(tmp_path, "flag", [("A", a), ("B", b), ("C", c), ("E", both)])
    assert [v.finding for v in verdicts] == [None] * 4
    assert verdicts[0].flags == []
    assert verdicts[1].flags == ["near_duplicate"]
    assert verdicts[2].flags == ["near_duplicate"]  # before: B's document was never stored
    assert verdicts[3].flags == ["near_duplicate"]  # two texts hit: one flag


# -- which repeats are duplicates (the paper's kind of short-short examples) -------------------

def _judge_mixed(tmp_path, examples: list[tuple[str, str, dict]], **validation):
    """Verdicts for (name, group, example) judged in order by a fresh checker, language off."""
    from synthgen.config import ValidationConfig
    from synthgen.journal import Journal
    from synthgen.quality.checks import ExampleChecker

    rules = {"wrong_language": "off", "sts_order": "off", "near_duplicate": "reject"}
    cfg = ValidationConfig(rules=rules, **validation)
    journal = Journal(tmp_path / f"j{len(list(tmp_path.iterdir()))}")
    checker = ExampleChecker(cfg.rules_for_checks(), journal)
    journal.begin()
    verdicts = [checker.check_example(group, ex, {"language": "English"}, name) for name, group, ex in examples]
    journal.commit()
    journal.close()
    return verdicts


FILM_A = {"input": "A mafia patriarch hands his empire to his reluctant youngest son",
          "positive_document": "The Godfather"}
FILM_B = {"input": "Crime saga about a New York crime family and its succession struggles",
          "positive_document": "The Godfather"}


def test_two_examples_with_the_same_short_positive_are_both_kept(tmp_path):
    # short-short pairs whose positive is the same film title are two real training examples
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", FILM_A), ("B", "short-short", FILM_B)])
    assert [v.finding for v in verdicts] == [None, None]


def test_the_same_pair_again_is_a_duplicate(tmp_path):
    again = {k: "  " + v.upper() for k, v in FILM_A.items()}
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", FILM_A), ("B", "short-short", again)])
    assert verdicts[1].finding.reason == "duplicate" and verdicts[1].duplicate_of == "A"
    assert "repeats an earlier example" in verdicts[1].finding.detail


def test_a_long_text_repeated_with_another_partner_is_a_duplicate(tmp_path):
    other = {"input": FILM_A["input"], "positive_document": "Goodfellas"}
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", FILM_A), ("B", "short-short", other)])
    assert verdicts[1].finding.reason == "duplicate" and verdicts[1].finding.field == "input"
    assert verdicts[1].duplicate_of == "A"


def test_a_shorter_threshold_makes_the_recurring_title_a_duplicate(tmp_path):
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", FILM_A), ("B", "short-short", FILM_B)],
                            dedup_min_words=2)
    assert verdicts[1].finding.reason == "duplicate" and verdicts[1].finding.field == "positive_document"


def test_a_recurring_short_chinese_title_is_not_a_duplicate(tmp_path):
    # 11 characters, 6 words: counted a word per character it was a long text, and the second
    # paper citing the same title was rejected as a duplicate (an English title of 7 words was not)
    first = {"input": "基于深度学习的图像识别", "positive_document": "卷积神经网络在计算机视觉中的应用综述"}
    second = {"input": "基于深度学习的图像识别", "positive_document": "一种改进的目标检测算法研究"}
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", first), ("B", "short-short", second)])
    assert [v.finding for v in verdicts] == [None, None]
    longer = {"input": first["positive_document"], "positive_document": "基于深度学习的图像识别"}
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", first), ("C", "short-short", longer)])
    assert verdicts[1].finding.reason == "duplicate"  # 18 characters, 9 words: long


def test_short_texts_are_not_checked_for_near_copies(tmp_path):
    first = {"input": "Sequel to the famous mafia film, set partly in the fifties", "positive_document":
             "The Godfather Part II"}
    second = {"input": "Third film of a crime trilogy about an ageing don seeking redemption",
              "positive_document": "The Godfather Part III"}
    verdicts = _judge_mixed(tmp_path, [("A", "short-short", first), ("B", "short-short", second)])
    assert [v.finding for v in verdicts] == [None, None]


STS = {"S1": "A mafia patriarch hands his empire to his reluctant youngest son",
       "S2": "An old crime boss passes control of his family business to his youngest son",
       "S3": "The film was shot in New York and Sicily over several months"}


def test_an_sts_sentence_equal_to_an_earlier_positive_is_kept_within_its_group(tmp_path):
    long_positive = {"input": "Who inherits the family empire?", "positive_document": STS["S2"]}
    examples = [("A", "short-short", long_positive), ("B", "sts", STS)]
    assert [v.finding for v in _judge_mixed(tmp_path, examples)] == [None, None]
    # run-wide scope (validation.dedup_scope = "run"): the long sentence is a repeat
    verdicts = _judge_mixed(tmp_path, examples, dedup_scope="run")
    assert verdicts[1].finding.reason == "duplicate" and verdicts[1].duplicate_of == "A"


def test_brainstorm_rejects_a_near_copy_of_an_earlier_task_and_keeps_a_new_one(tmp_path):
    from synthgen.config import RunConfig
    from synthgen.journal import Journal
    from synthgen.plan import brainstorm_items
    from synthgen.stages.brainstorm import BrainstormStage
    from synthgen.stages.engine import ItemResult

    cfg = RunConfig.model_validate({"groups": {"short-long": {"tasks": 10, "examples": 5}}})
    journal = Journal(tmp_path)
    stage = BrainstormStage(cfg, tmp_path, journal)
    task = ("Given a question about the history of a small fishing town on the northern coast, "
            "retrieve local newspaper articles that answer it")
    tasks = [task, task.replace("answer it", "answer that"), "Retrieve recipes that use a given seasonal vegetable as the main ingredient"]
    item = next(brainstorm_items(cfg))
    journal.begin()
    stage.commit(ItemResult(item, content="", parsed=tasks))
    stage.flush()
    journal.commit()
    stage.finalize_all()
    journal.close()
    kept = [t["task"] for t in read_jsonl(tmp_path / "tasks")]
    (near,) = read_jsonl(tmp_path / "rejects")
    assert kept == [tasks[0], tasks[2]]
    assert near["reason"] == "near_duplicate" and near["duplicate_of"] == f"{item.id}-0"


@pytest.mark.parametrize("when", ["starting", "checking"])
def test_ctrl_c_on_a_terminal_reaches_the_worker_too_and_stops_cleanly(make_server, tmp_path, when):
    # a terminal sends Ctrl-C to the whole process group: the worker, loading its model or checking,
    # printed a traceback or raised it into the run, which then stopped without its own last line
    import signal
    import time

    srv = make_server(latency_ms=20)
    cfg = tmp_path / "c.toml"
    cfg.write_text("\n".join(["seed = 3", "[llm]", 'model = "scripted"', f'base_url = "{srv.base_url}"',
                              "concurrency = 16", "[groups.sts]", "examples = 3000", "[validation]",
                              'check_worker = "on"']) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "synthgen", "generate", "--config", str(cfg), "--out",
                             str(tmp_path / "run"), "--quiet"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 60
    while _worker_of(proc) is None and time.time() < deadline:
        time.sleep(0.01)
    # starting: the first requests are out while the worker loads its model (about a second)
    while srv.requests < (400 if when == "checking" else 1) and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before the Ctrl-C"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.startswith("generate interrupted; ") and err.count("\n") == 1, err
