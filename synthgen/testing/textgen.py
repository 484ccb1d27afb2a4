"""Write the scripted answer for a Plan: word salad that keeps the rules a validator checks,
reproducibly (same Plan and Random state, same text), with the request's content faults applied.

~90 common words per language let synthgen's language check place word salad right (any other
language is written in English, and rightly rejected); English has ~150, so queries rarely repeat.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from synthgen.testing.reading import FieldSpec, Plan

_NON_LATIN = ("Russian", "Japanese", "Chinese")
_NO_SPACES = ("Japanese", "Chinese")


@dataclass(frozen=True)
class Vocab:
    """One language's words, and 256 slots of them so one random byte picks a word."""

    name: str
    words: tuple[str, ...]
    table: tuple[str, ...]
    sep: str
    stop: str


def _make(name: str, text: str) -> Vocab:
    words = tuple(dict.fromkeys(text.split()))
    table = [words[i % len(words)] for i in range(256)]
    random.Random(name).shuffle(table)
    spaceless = name in _NO_SPACES
    return Vocab(name, words, tuple(table), "" if spaceless else " ", "。" if spaceless else ".")


def vocab_for(language: str) -> Vocab:
    """The words to write `language` with; English for a language without a list."""
    return VOCABS.get(language.strip().title(), VOCABS["English"])


def wrong_vocab(language: str, pick: int) -> Vocab:
    """A clearly different language: another script, so any language check can tell."""
    if vocab_for(language).name in _NON_LATIN:
        return VOCABS["English"]
    return VOCABS[_NON_LATIN[pick % len(_NON_LATIN)]]


# answers per (keys, languages, lengths) signature that near-duplicate faults draw from: with 2, a
# run of 150 short-long examples at rate 0.2 meets a collision for every prompt wording tried
NEAR_DUPLICATE_POOL = 2


def _words(vocab: Vocab, n: int, rng: random.Random) -> list[str]:
    # one random byte per word picks one of the 256 slots: cheaper than rng.choices on long documents
    return [vocab.table[b] for b in rng.randbytes(n)]


def prose(vocab: Vocab, n: int, rng: random.Random, units: set[str] | None = None) -> str:
    """n words in sentences of 8-20 words (the last one shorter where n demands); `units` gets
    the words as drawn, for the query overlap check, cheaper than splitting the text again."""
    ws = _words(vocab, max(1, n), rng)
    if units is not None:
        units.update(ws)
    start = 0
    # one loop step per sentence, not per word: documents run to thousands of words
    for b in rng.randbytes(len(ws) // 8 + 1):
        if start >= len(ws):
            break
        ws[start] = ws[start].capitalize()
        start = min(len(ws), start + 8 + b % 13)
        ws[start - 1] += vocab.stop
    return vocab.sep.join(ws)


def _units(text: str, vocab: Vocab) -> list[str]:
    """What a validator compares: words, or characters in scripts written without spaces."""
    text = text.lower().replace(vocab.stop, "")
    return text.split() if vocab.sep else list(text)


def _value(spec: FieldSpec, vocab: Vocab, rng: random.Random, short: bool,
           units: dict[str, set[str]]) -> Any:
    """A value for one field; queries, labels and documents leave their word set in `units`."""
    if spec.kind == "number":
        return round(rng.uniform(1, 5), 1)
    if spec.kind == "short":  # a query or label: lower case, no full stop
        words = _words(vocab, rng.randint(*spec.words), rng)
        units[spec.key] = set(words)
        return vocab.sep.join(words)
    if spec.kind == "doc":
        units[spec.key] = set()
        n = rng.randint(3, 5) if short else rng.randint(*spec.words)
        return prose(vocab, n, rng, units=units[spec.key])
    words = _words(vocab, rng.randint(8, 20), rng)  # one capitalised sentence
    words[0] = words[0].capitalize()
    return vocab.sep.join(words) + vocab.stop


def write_object(plan: Plan, rng: random.Random, faults: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object for a generation prompt, keeping the guidelines unless a fault says not."""
    vocabs = {s.key: wrong_vocab(s.language, rng.randrange(3)) if "wrong_language" in faults
              else vocab_for(s.language) for s in plan.fields}
    gen = rng
    short = "short" in faults
    if "near_duplicate" in faults:
        # a small fixed pool per (keys, languages, lengths): different requests collide
        sig = [(s.key, s.kind, vocabs[s.key].name, s.words) for s in plan.fields]
        gen = random.Random(f"pool:{rng.randrange(NEAR_DUPLICATE_POOL)}:{sig}")
    units: dict[str, set[str]] = {}
    out = {s.key: _value(s, vocabs[s.key], gen, short, units) for s in plan.fields}
    _keep_guidelines(plan, out, vocabs, gen, short, units)
    if "near_duplicate" in faults:
        # every text gets one or two words (characters, in scripts without spaces) changed, so
        # the copy is near, never exact: exact dedup must not be what catches it
        for key, value in out.items():
            if isinstance(value, str):
                vocab = vocabs[key]
                parts = value.split(" ") if vocab.sep else list(value)
                for _ in range(rng.randint(1, 2)):
                    parts[rng.randrange(len(parts))] = rng.choice(vocab.words)
                out[key] = vocab.sep.join(parts)
    if "copy_query" in faults:
        _copy_query(out, rng)
    return out


def _keep_guidelines(plan: Plan, out: dict[str, Any], vocabs: dict[str, Vocab],
                     rng: random.Random, short: bool, units: dict[str, set[str]]) -> None:
    """Texts differ from each other; queries and labels do not occur in documents."""
    # documents first, so queries are checked against the final documents
    ordered = sorted((s for s in plan.fields if isinstance(out[s.key], str)),
                     key=lambda s: s.kind != "doc")
    docs: list[str] = []
    seen: set[str] = set()
    for spec in ordered:
        value = out[spec.key]
        for _ in range(50):
            if value not in seen and not (spec.kind == "short" and any(value.lower() in d for d in docs)):
                break
            value = _value(spec, vocabs[spec.key], rng, short, units)
        out[spec.key] = value
        seen.add(value)
        if spec.kind == "doc":
            docs.append(value.lower())
    _positive_closer(out, units)
    _sts_overlap(plan, out, vocabs, rng)


def _positive_closer(out: dict[str, Any], units: dict[str, set[str]]) -> None:
    """The hard negative must not share more of the query's words than the positive does
    (synthgen.validate: hard_negative_closer): swap the two documents when it would."""
    q, pos, neg = "user_query", "positive_document", "hard_negative_document"
    if not all(k in units for k in (q, pos, neg)):
        return
    jaccard = [len(units[q] & units[k]) / len(units[q] | units[k]) for k in (neg, pos)]  # never empty
    if jaccard[0] > jaccard[1]:
        out[pos], out[neg] = out[neg], out[pos]


def _sts_overlap(plan: Plan, out: dict[str, Any], vocabs: dict[str, Vocab],
                 rng: random.Random) -> None:
    """STS triples share words: S2 is S1 lightly edited, S3 borrows a few of S1's words."""
    keys = [s.key for s in plan.fields]
    if keys != ["S1", "S2", "S3"] or len({vocabs[k].name for k in keys}) != 1:
        return
    vocab = vocabs["S1"]
    s1, s3 = _units(out["S1"], vocab), _units(out["S3"], vocab)
    s2 = list(s1)
    for _ in range(max(1, len(s2) // 4)):
        s2[rng.randrange(1, len(s2))] = rng.choice(_units(rng.choice(vocab.words), vocab))
    for _ in range(2):
        s3[rng.randrange(1, len(s3))] = rng.choice(s1[1:] or s1)
    texts = [vocab.sep.join(s).capitalize() + vocab.stop for s in (s1, s2, s3)]
    if len(set(texts)) == 3:
        out["S1"], out["S2"], out["S3"] = texts


def _copy_query(out: dict[str, Any], rng: random.Random) -> None:
    """Plant the query (or a label) verbatim in the document it must stay out of."""
    for src, dst in (("user_query", "positive_document"), ("label", "input_text"),
                     ("input", "positive_document")):
        if isinstance(out.get(src), str) and isinstance(out.get(dst), str):
            words = out[dst].split(" ")
            words.insert(rng.randrange(len(words) + 1), out[src])
            out[dst] = " ".join(words)
            return


def write_tasks(plan: Plan, rng: random.Random, repeat_task: float) -> list[str]:
    """num_tasks to 10% more distinct one-sentence task definitions (repeats only as a fault)."""
    n = plan.num_tasks
    k = rng.randint(n, n + n // 10)  # at least as many as asked: a stage may count on its quota
    templates = TEMPLATES.get(plan.task_style, TEMPLATES["retrieval"])
    tasks: dict[str, None] = {}
    while len(tasks) < k:
        task = rng.choice(templates).format(
            rng.choice(ADJECTIVES), rng.choice(DOCUMENTS), rng.choice(DOCUMENTS),
            rng.choice(VERBS), rng.choice(QUERIES), rng.choice(ATTRIBUTES))
        tasks[task] = None
    out = list(tasks)
    if repeat_task:
        for i in range(1, len(out)):
            if rng.random() < repeat_task:
                out[i] = out[rng.randrange(i)]
    return out


def write_text(plan: Plan, rng: random.Random, faults: tuple[str, ...], repeat_task: float) -> str:
    """The message content: JSON indented as models print it, or plain prose; the truncate and
    length faults keep 30-90% of it (any proper prefix of JSON fails to parse)."""
    if plan.kind == "brainstorm":
        tasks = write_tasks(plan, rng, repeat_task)
        text = json.dumps({"tasks": tasks} if plan.wrap_tasks else tasks, ensure_ascii=False, indent=2)
    elif plan.kind == "object":
        text = json.dumps(write_object(plan, rng, faults), ensure_ascii=False, indent=2)
    else:
        text = prose(vocab_for("English"), rng.randint(20, 40), rng)
    if "truncate" in faults or "length" in faults:
        return text[: max(1, int(len(text) * rng.uniform(0.3, 0.9)))]
    if "fenced" in faults and plan.kind != "text":
        return f"{rng.choice(CHATTER_BEFORE)}\n```json\n{text}\n```\n{rng.choice(CHATTER_AFTER)}"
    return text


_WORDS = {
    "English": """the of and to in is that for it with as was on are be by this from at or have an they which
        one you were her all she there would their we him been has when who will more no if out so said what
        up its about into than them can only other new some could time these two may then do first any my now
        such like our over man me even most made after also did many before must through back years where much
        your way well down should because each just those people how too little state good very make world
        still own see men work long get here between both life being under never day same another know while
        last might great old year off come since against go came right used take three house water city school
        family river market story garden""",
    "German": """der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an
        er hat aus bei sind noch nach wird einer um am wie über so zum war haben nur oder aber vor zur bis
        mehr durch man sein wurde sei unter Jahr Zeit Menschen Stadt Land Welt Leben Arbeit Haus Tag Frage
        Geld Schule Wasser Familie Kinder Geschichte Beispiel Ende Weg Hand Teil Recht Woche Fall Buch Sprache
        Wissen gut groß neu alt klein lang hoch jung wichtig""",
    "French": """le la les de des du un une et est en que qui dans pour pas sur au avec ce il elle nous vous
        ils ne se plus par son sa ses mais comme tout bien où aussi très leur même sans sous encore après
        avant toujours jamais peut faire dire aller voir savoir venir prendre vouloir pouvoir devoir donner
        parler trouver penser passer mettre croire aimer porter chercher temps année jour monde vie homme
        femme enfant maison ville pays travail main chose fois moment eau terre histoire école livre""",
    "Spanish": """el la los las de del un una y es en que por con para no se lo como más pero sus le ya o este
        sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante
        todos uno les ni contra otros ese eso ante ellos esto antes algunos qué unos yo otro otras otra él
        tanto esa estos mucho nada muchos cual poco ella estar tener hacer poder decir ir ver dar saber querer
        llegar pasar deber poner parecer quedar creer""",
    "Italian": """il lo la i gli le di del della un una e è in che per con non si come più ma anche se sono
        questo questa quello tutto molto ancora sempre già mai poi dove quando perché oppure tra fra dopo
        prima senza sotto sopra contro ogni altro altra stesso nostro vostro loro mio tuo suo essere avere
        fare dire andare vedere sapere venire dare potere volere dovere stare parlare trovare pensare passare
        mettere credere portare lasciare prendere tempo anno giorno mondo vita uomo donna bambino casa città
        paese""",
    "Portuguese": """o a os as de do da dos das um uma e é em que por com para não se como mais mas ao seu sua
        ou quando muito nos já também só pelo pela até isso ela entre depois sem mesmo aos seus quem nas me
        esse eles você essa num nem suas meu minha numa pelos elas qual nós lhe deles essas esses pelas este
        dele tu te vocês vos lhes ser ter fazer poder dizer ir ver dar saber querer chegar passar dever pôr
        parecer ficar falar""",
    "Dutch": """de het een en van in is dat op te zijn met voor niet aan er die maar om ook als dan bij nog
        uit wat naar door over tot wel geen zo al was wordt werd hebben heeft kan worden moet zal kunnen zou
        onder tegen tussen zonder na sinds tijdens altijd nooit vaak soms hier daar nu toen waar hoe waarom
        wie welke dit deze ons onze jullie hun hem haar zij wij jij ik maken gaan komen zien weten willen
        geven zeggen doen staan liggen denken vinden""",
    "Polish": """i w na z do nie się to że jest o jak ale po co od za tak jego czy przez tylko już jej ich
        który która które być mieć może są był była było będzie także bardzo jeszcze gdy gdzie kiedy dlaczego
        tu tam teraz potem zawsze nigdy często między bez pod nad przed przy dla według wszystko każdy inny
        nasz wasz mój twój robić mówić iść widzieć wiedzieć chcieć dawać brać myśleć pisać czytać pytać
        odpowiadać kupować mieszkać żyć pracować grać uczyć szukać znaleźć czas rok dzień świat""",
    "Russian": """и в не на я быть он с что а по это она этот к но они мы как из у который то за свой
        весь год от так о для ты же все тот мочь вы человек такой его сказать только или ещё бы себя один
        уже до время если сам когда другой вот говорить наш мой знать стать при чтобы дело жизнь кто
        первый очень два день её новый рука даже во со раз где там под можно какой после их работа без
        самый потом надо хотеть ли""",
    "Japanese": """私 あなた 彼 彼女 これ それ あれ ここ そこ 今日 明日 昨日 時間 年 日 月 人 子供 家族 友達 先生 学校 会社 仕事 家 部屋 町 国 世界 水 山 川 海 空 雨
        雪 花 木 本 手紙 新聞 電話 車 電車 道 駅 店 お金 言葉 日本語 音楽 映画 写真 料理 食べ物 朝 夜 春 夏 秋 冬 問題 答え 質問 意味 理由 方法 結果 経験 情報 技術 社会 文化
        歴史 自然 生活 健康 病院 医者 大きい 小さい 新しい 古い 高い 安い 早い 遅い 長い 短い 美しい 難しい 易しい 楽しい 大切な 静かな 有名な 便利な 行く 来る 見る 聞く 話す 読む
        書く 食べる 飲む 買う 作る 使う 知る 考える 思う 分かる 待つ 持つ 住む 働く 休む 始める 終わる 教える 学ぶ は が を に で と の も から まで より です ます ました でした
        そして しかし また とても もっと すぐ いつも 時々 全部 少し たくさん""",
    "Chinese": """我 你 他 她 我们 他们 这 那 这里 那里 今天 明天 昨天 时间 年 月 日 人 孩子 家庭 朋友 老师 学生 学校 公司 工作 家 房间 城市 国家 世界 水 山 河 海 天空
        雨 雪 花 树 书 信 报纸 电话 汽车 火车 路 车站 商店 钱 语言 中文 音乐 电影 照片 饭菜 食物 早上 晚上 春天 夏天 秋天 冬天 问题 答案 意思 原因 方法 结果 经验 信息 技术 社会
        文化 历史 自然 生活 健康 医院 医生 大 小 新 旧 高 低 快 慢 长 短 美丽 困难 容易 快乐 重要 安静 有名 方便 去 来 看 听 说 读 写 吃 喝 买 做 用 知道 想 觉得 明白 等
        拿 住 休息 开始 结束 教 学习 的 了 是 在 有 和 也 都 很 就 不 没有 还 但是 所以 因为 如果 已经 一起 非常 一些 很多 可以 应该 需要 发展 经济 环境 科学""",
}
VOCABS = {name: _make(name, text) for name, text in _WORDS.items()}

# Brainstormed task definitions: {0} adjective, {1} documents, {2} other documents, {3} verb,
# {4} query, {5} attribute. Retrieval tasks alone come in 3 x 20 x 24 x 24 x 20 (~690k) forms:
# repeats stay rare at the paper's ~150k tasks, leaving repeats to the rate_repeat_task fault.
ADJECTIVES = """peer-reviewed recent historical technical official anonymous detailed informal archived
    multilingual regional expert-written open-access annotated academic popular scientific legal
    medical financial""".split()
DOCUMENTS = ("articles", "reviews", "forum posts", "news reports", "blog entries", "research abstracts",
             "patents", "recipes", "court rulings", "product descriptions", "travel guides",
             "encyclopedia entries", "tutorials", "FAQ answers", "press releases", "clinical notes",
             "textbook chapters", "speeches", "emails", "essays", "manuals", "policy documents",
             "job postings", "biographies")
VERBS = """answer explain summarize refute support describe compare criticize clarify illustrate
    contradict extend discuss define evaluate justify review question predict analyze document trace
    interpret cite""".split()
QUERIES = ("question", "claim", "product name", "symptom", "legal question", "historical event",
           "scientific term", "programming error", "travel destination", "company name", "song title",
           "book title", "math problem", "disease name", "job title", "city name", "gene name",
           "software library", "hypothesis", "search query")
ATTRIBUTES = ("sentiment", "topic", "urgency", "intent", "genre", "political leaning", "emotional tone",
              "formality level", "target audience", "difficulty level", "credibility", "writing style")
TEMPLATES = {
    "retrieval": ("Retrieve {0} {1} that {3} a given {4}.", "Given a {4}, find {0} {1} that {3} it.",
                  "Search for {0} {1} that {3} a user's {4}."),
    "classification": ("Classify {0} {1} about a {4} by their {5}.",
                       "Determine the {5} of {0} {1} about a given {4}.",
                       "Identify the {5} expressed in {0} {1} that {3} a {4}."),
    "matching": ("Given a {4}, retrieve {0} {1} with the same meaning.",
                 "Match {0} {1} to other {2} that {3} the same {4}.",
                 "Find {0} {1} that paraphrase a given {4}."),
}
# what chatty models write around fenced JSON
CHATTER_BEFORE = ("Sure! Here is the JSON object you asked for:", "Here is the requested output.",
                  "Certainly, below is the example in JSON format:")
CHATTER_AFTER = ("Let me know if you need anything else.", "I hope this helps!",
                 "Feel free to ask for more examples.")
