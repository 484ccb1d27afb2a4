"""Word lists the scripted server writes with: languages for answers, phrases for task lists.

~90 common words per language (function words and everyday nouns; particles tell Japanese from
Chinese) let synthgen's language check place word salad right. These are the languages the tests
and the `ci` config use; any other is written in English (and rightly rejected). English keeps
~150 words, so short queries drawn from it rarely repeat across a large run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

_WORDS = {
    "English": """the of and to in is that for it with as was on are be by this from at or have an they which
        one you were her all she there would their we him been has when who will more no if
        out so said what up its about into than them can only other new some could time
        these two may then do first any my now such like our over man me even most made
        after also did many before must through back years where much your way well down
        should because each just those people how too little state good very make world
        still own see men work long get here between both life being under never day same
        another know while last might great old year off come since against go came right
        used take three house water city school family river market story garden""",
    "German": """der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an
        er hat aus bei sind noch nach wird einer um am wie über so zum war haben nur oder
        aber vor zur bis mehr durch man sein wurde sei unter Jahr Zeit Menschen Stadt Land
        Welt Leben Arbeit Haus Tag Frage Geld Schule Wasser Familie Kinder Geschichte
        Beispiel Ende Weg Hand Teil Recht Woche Fall Buch Sprache Wissen gut groß neu alt
        klein lang hoch jung wichtig""",
    "French": """le la les de des du un une et est en que qui dans pour pas sur au avec ce il elle nous vous
        ils ne se plus par son sa ses mais comme tout bien où aussi très leur même sans sous
        encore après avant toujours jamais peut faire dire aller voir savoir venir prendre
        vouloir pouvoir devoir donner parler trouver penser passer mettre croire aimer
        porter chercher temps année jour monde vie homme femme enfant maison ville pays
        travail main chose fois moment eau terre histoire école livre""",
    "Spanish": """el la los las de del un una y es en que por con para no se lo como más pero sus le ya o este
        sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde
        todo nos durante todos uno les ni contra otros ese eso ante ellos esto antes algunos
        qué unos yo otro otras otra él tanto esa estos mucho nada muchos cual poco ella
        estar tener hacer poder decir ir ver dar saber querer llegar pasar deber poner
        parecer quedar creer""",
    "Italian": """il lo la i gli le di del della un una e è in che per con non si come più ma anche se sono
        questo questa quello tutto molto ancora sempre già mai poi dove quando perché oppure
        tra fra dopo prima senza sotto sopra contro ogni altro altra stesso nostro vostro
        loro mio tuo suo essere avere fare dire andare vedere sapere venire dare potere
        volere dovere stare parlare trovare pensare passare mettere credere portare lasciare
        prendere tempo anno giorno mondo vita uomo donna bambino casa città paese""",
    "Portuguese": """o a os as de do da dos das um uma e é em que por com para não se como mais mas ao seu sua ou
        quando muito nos já também só pelo pela até isso ela entre depois sem mesmo aos seus
        quem nas me esse eles você essa num nem suas meu minha numa pelos elas qual nós lhe
        deles essas esses pelas este dele tu te vocês vos lhes ser ter fazer poder dizer ir
        ver dar saber querer chegar passar dever pôr parecer ficar falar""",
    "Dutch": """de het een en van in is dat op te zijn met voor niet aan er die maar om ook als dan bij nog
        uit wat naar door over tot wel geen zo al was wordt werd hebben heeft kan worden
        moet zal kunnen zou onder tegen tussen zonder na sinds tijdens altijd nooit vaak
        soms hier daar nu toen waar hoe waarom wie welke dit deze ons onze jullie hun hem
        haar zij wij jij ik maken gaan komen zien weten willen geven zeggen doen staan
        liggen denken vinden""",
    "Polish": """i w na z do nie się to że jest o jak ale po co od za tak jego czy przez tylko już jej ich
        który która które być mieć może są był była było będzie także bardzo jeszcze gdy
        gdzie kiedy dlaczego tu tam teraz potem zawsze nigdy często między bez pod nad przed
        przy dla według wszystko każdy inny nasz wasz mój twój robić mówić iść widzieć
        wiedzieć chcieć dawać brać myśleć pisać czytać pytać odpowiadać kupować mieszkać żyć
        pracować grać uczyć szukać znaleźć czas rok dzień świat""",
    "Russian": """и в не на я быть он с что а по это она этот к но они мы как из у который то за свой весь год
        от так о для ты же все тот мочь вы человек такой его сказать только или ещё бы себя
        один уже до время если сам когда другой вот говорить наш мой знать стать при чтобы
        дело жизнь кто первый очень два день её новый рука даже во со раз где там под можно
        какой после их работа без самый потом надо хотеть ли""",
    "Japanese": """私 あなた 彼 彼女 これ それ あれ ここ そこ 今日 明日 昨日 時間 年 日 月 人 子供 家族 友達 先生 学校 会社 仕事 家 部屋 町 国 世界 水 山 川 海 空 雨 雪
        花 木 本 手紙 新聞 電話 車 電車 道 駅 店 お金 言葉 日本語 音楽 映画 写真 料理 食べ物 朝 夜 春 夏 秋 冬 問題 答え 質問 意味 理由 方法 結果
        経験 情報 技術 社会 文化 歴史 自然 生活 健康 病院 医者 大きい 小さい 新しい 古い 高い 安い 早い 遅い 長い 短い 美しい 難しい 易しい 楽しい
        大切な 静かな 有名な 便利な 行く 来る 見る 聞く 話す 読む 書く 食べる 飲む 買う 作る 使う 知る 考える 思う 分かる 待つ 持つ 住む 働く 休む
        始める 終わる 教える 学ぶ は が を に で と の も から まで より です ます ました でした そして しかし また とても もっと すぐ いつも 時々
        全部 少し たくさん""",
    "Chinese": """我 你 他 她 我们 他们 这 那 这里 那里 今天 明天 昨天 时间 年 月 日 人 孩子 家庭 朋友 老师 学生 学校 公司 工作 家 房间 城市 国家 世界 水 山 河 海 天空
        雨 雪 花 树 书 信 报纸 电话 汽车 火车 路 车站 商店 钱 语言 中文 音乐 电影 照片 饭菜 食物 早上 晚上 春天 夏天 秋天 冬天 问题 答案 意思 原因
        方法 结果 经验 信息 技术 社会 文化 历史 自然 生活 健康 医院 医生 大 小 新 旧 高 低 快 慢 长 短 美丽 困难 容易 快乐 重要 安静 有名 方便 去
        来 看 听 说 读 写 吃 喝 买 做 用 知道 想 觉得 明白 等 拿 住 休息 开始 结束 教 学习 的 了 是 在 有 和 也 都 很 就 不 没有 还 但是
        所以 因为 如果 已经 一起 非常 一些 很多 可以 应该 需要 发展 经济 环境 科学""",
}
_NON_LATIN = ("Russian", "Japanese", "Chinese")
_NO_SPACES = ("Japanese", "Chinese")


@dataclass(frozen=True)
class Vocab:
    """One language's words, and 256 slots of them so one random byte picks a word."""

    name: str
    words: tuple[str, ...]
    table: tuple[str, ...]
    capital: dict[str, str]  # each word as it starts a sentence
    sep: str
    stop: str


def _make(name: str, text: str) -> Vocab:
    words = tuple(dict.fromkeys(text.split()))
    table = [words[i % len(words)] for i in range(256)]
    random.Random(name).shuffle(table)
    spaceless = name in _NO_SPACES
    capital = {w: w[:1].upper() + w[1:] for w in words}
    return Vocab(name, words, tuple(table), capital, "" if spaceless else " ", "。" if spaceless else ".")


VOCABS = {name: _make(name, text) for name, text in _WORDS.items()}


def vocab_for(language: str) -> Vocab:
    """The words to write `language` with; English for a language without a list."""
    return VOCABS.get(language.strip().title(), VOCABS["English"])


def wrong_vocab(language: str, pick: int) -> Vocab:
    """A clearly different language: another script, so any language check can tell."""
    if vocab_for(language).name in _NON_LATIN:
        return VOCABS["English"]
    return VOCABS[_NON_LATIN[pick % len(_NON_LATIN)]]


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
