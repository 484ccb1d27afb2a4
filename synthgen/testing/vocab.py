"""Per-language word lists, so scripted answers look like text in the language the prompt asked for.

About 150 common words for the most sampled languages (here), about 50 for most others
(vocab_extra.py); the rest, all in scripts of their own, get pseudo-words from their script's
letters, which a language identifier still places right or leaves unjudged. English is the
fallback for a language name we do not know.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from synthgen.testing.vocab_extra import EXTRA_WORDS

_WORDS = {
    "English": """the of and to in is that for it with as was on are be by this from at or have an
        they which one you were her all she there would their we him been has when who will more no
        if out so said what up its about into than them can only other new some could time these two
        may then do first any my now such like our over man me even most made after also did many
        before must through back years where much your way well down should because each just those
        people how too little state good very make world still own see men work long get here
        between both life being under never day same another know while last might great old year
        off come since against go came right used take three house water city school family river
        market story garden music letter morning evening question answer problem example country""",
    "German": """der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als
        auch es an er hat aus bei sind noch nach wird einer um am wie über so zum war haben nur oder
        aber vor zur bis mehr durch man sein wurde sei unter Jahr Zeit Menschen Stadt Land Welt Leben
        Arbeit Haus Tag Frage Geld Schule Wasser Familie Kinder Geschichte Beispiel Ende Weg Hand
        Teil Recht Woche Fall Buch Sprache Wissen gut groß neu alt klein lang hoch jung wichtig
        schnell heute immer wieder schon sehr hier dort jetzt dann zwischen gegen ohne seit während
        unsere werden können müssen sagen machen geben kommen gehen sehen finden bleiben liegen
        stehen denken nehmen zeigen lernen spielen arbeiten bringen halten heißen glauben schreiben
        lesen fragen antworten kaufen wohnen Straße Zimmer Stunde Morgen Abend Freund Mutter Vater
        Bruder Schwester Lehrer Arzt Auto Zug Brot Milch Himmel Baum Blume Wald Berg Meer Sonne
        Regen Winter Sommer Musik Bild Zeitung Brief Spiel Idee Problem Antwort""",
    "French": """le la les de des du un une et est en que qui dans pour pas sur au avec ce il elle
        nous vous ils ne se plus par son sa ses mais comme tout bien où aussi très leur même sans
        sous encore après avant toujours jamais peut faire dire aller voir savoir venir prendre
        vouloir pouvoir devoir donner parler trouver penser passer mettre croire aimer porter
        chercher temps année jour monde vie homme femme enfant maison ville pays travail main chose
        fois moment eau terre histoire école livre famille ami père mère frère sœur voiture route
        porte chambre table nuit matin soir semaine mois question réponse idée problème exemple
        partie nombre point place guerre raison force politique grand petit nouveau vieux bon
        mauvais beau jeune long haut premier dernier seul autre important possible heureux facile
        difficile rapide lent chaud froid soleil pluie ciel arbre fleur mer montagne musique image
        lettre journal jeu langue pain lait""",
    "Spanish": """el la los las de del un una y es en que por con para no se lo como más pero sus
        le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien
        desde todo nos durante todos uno les ni contra otros ese eso ante ellos esto antes algunos
        qué unos yo otro otras otra él tanto esa estos mucho nada muchos cual poco ella estar tener
        hacer poder decir ir ver dar saber querer llegar pasar deber poner parecer quedar creer
        hablar llevar dejar seguir encontrar llamar venir pensar salir volver tomar conocer vivir
        sentir tiempo año día mundo vida hombre mujer niño casa ciudad país trabajo mano cosa vez
        momento agua tierra historia escuela libro familia amigo padre madre hermano coche calle
        puerta noche mañana semana mes pregunta respuesta idea problema ejemplo parte grande pequeño
        nuevo viejo bueno malo joven largo alto primero último importante feliz fácil difícil
        rápido sol lluvia cielo árbol flor mar montaña música""",
    "Italian": """il lo la i gli le di del della un una e è in che per con non si come più ma anche
        se sono questo questa quello tutto molto ancora sempre già mai poi dove quando perché
        oppure tra fra dopo prima senza sotto sopra contro ogni altro altra stesso nostro vostro
        loro mio tuo suo essere avere fare dire andare vedere sapere venire dare potere volere
        dovere stare parlare trovare pensare passare mettere credere portare lasciare prendere tempo
        anno giorno mondo vita uomo donna bambino casa città paese lavoro mano cosa volta momento
        acqua terra storia scuola libro famiglia amico padre madre fratello sorella macchina strada
        porta camera tavolo notte mattina sera settimana mese domanda risposta idea problema esempio
        parte numero punto posto guerra ragione grande piccolo nuovo vecchio buono cattivo bello
        giovane lungo alto primo ultimo importante possibile felice facile difficile veloce caldo
        freddo sole pioggia cielo albero fiore mare montagna musica""",
    "Portuguese": """o a os as de do da dos das um uma e é em que por com para não se como mais mas
        ao seu sua ou quando muito nos já também só pelo pela até isso ela entre depois sem mesmo
        aos seus quem nas me esse eles você essa num nem suas meu minha numa pelos elas qual nós
        lhe deles essas esses pelas este dele tu te vocês vos lhes ser ter fazer poder dizer ir ver
        dar saber querer chegar passar dever pôr parecer ficar falar levar deixar seguir encontrar
        chamar vir pensar sair voltar tomar conhecer viver sentir tempo ano dia mundo vida homem
        mulher criança casa cidade país trabalho mão coisa vez momento água terra história escola
        livro família amigo pai mãe irmão carro rua porta noite manhã semana mês pergunta resposta
        ideia problema exemplo parte grande pequeno novo velho bom mau jovem longo alto primeiro
        último importante feliz fácil difícil rápido sol chuva céu árvore flor mar montanha música""",
    "Dutch": """de het een en van in is dat op te zijn met voor niet aan er die maar om ook als dan
        bij nog uit wat naar door over tot wel geen zo al was wordt werd hebben heeft kan worden
        moet zal kunnen zou onder tegen tussen zonder na sinds tijdens altijd nooit vaak soms hier
        daar nu toen waar hoe waarom wie welke dit deze ons onze jullie hun hem haar zij wij jij ik
        maken gaan komen zien weten willen geven zeggen doen staan liggen denken vinden nemen
        brengen lopen werken spelen leren lezen schrijven vragen antwoorden kopen wonen leven tijd
        jaar dag wereld man vrouw kind huis stad land werk hand ding keer moment water aarde
        geschiedenis school boek familie vriend vader moeder broer zus auto straat deur kamer tafel
        nacht ochtend avond week maand vraag antwoord idee probleem voorbeeld deel groot klein
        nieuw oud goed slecht mooi jong lang hoog eerste laatste belangrijk mogelijk blij
        makkelijk moeilijk snel warm koud zon regen hemel boom bloem zee berg muziek""",
    "Polish": """i w na z do nie się to że jest o jak ale po co od za tak jego czy przez tylko już
        jej ich który która które być mieć może są był była było będzie także bardzo jeszcze gdy
        gdzie kiedy dlaczego tu tam teraz potem zawsze nigdy często między bez pod nad przed przy
        dla według wszystko każdy inny nasz wasz mój twój robić mówić iść widzieć wiedzieć chcieć
        dawać brać myśleć pisać czytać pytać odpowiadać kupować mieszkać żyć pracować grać uczyć
        szukać znaleźć czas rok dzień świat życie człowiek kobieta dziecko dom miasto kraj praca
        ręka rzecz raz chwila woda ziemia historia szkoła książka rodzina przyjaciel ojciec matka
        brat siostra samochód ulica drzwi pokój stół noc rano wieczór tydzień miesiąc pytanie
        odpowiedź pomysł problem przykład część liczba miejsce wojna duży mały nowy stary dobry zły
        piękny młody długi wysoki pierwszy ostatni ważny możliwy szczęśliwy łatwy trudny szybki
        ciepły zimny słońce deszcz niebo drzewo kwiat morze góra muzyka język chleb mleko""",
    "Russian": """и в не на я быть он с что а по это она этот к но они мы как из у который то за
        свой весь год от так о для ты же все тот мочь вы человек такой его сказать только или ещё
        бы себя один уже до время если сам когда другой вот говорить наш мой знать стать при
        чтобы дело жизнь кто первый очень два день её новый рука даже во со раз где там под можно
        какой после их работа без самый потом надо хотеть ли слово идти большой должен место
        иметь сейчас тут лицо каждый друг нет теперь ни глаз тоже тогда видеть вопрос через да
        здесь дом потому сторона думать сделать страна жить чем мир последний случай голова более
        делать смотреть ребенок просто конечно сила конец перед несколько вид система всегда
        работать между три понять пойти часть спросить город дать также никто понимать получить
        отношение лишь второй именно вода книга школа семья утро вечер улица""",
    "Japanese": """私 あなた 彼 彼女 これ それ あれ ここ そこ 今日 明日 昨日 時間 年 日 月 人 子供
        家族 友達 先生 学校 会社 仕事 家 部屋 町 国 世界 水 山 川 海 空 雨 雪 花 木 本 手紙 新聞 電話
        車 電車 道 駅 店 お金 言葉 日本語 音楽 映画 写真 料理 食べ物 朝 夜 春 夏 秋 冬 問題 答え 質問
        意味 理由 方法 結果 経験 情報 技術 社会 文化 歴史 自然 生活 健康 病院 医者 大きい 小さい
        新しい 古い 高い 安い 早い 遅い 長い 短い 美しい 難しい 易しい 楽しい 大切な 静かな 有名な
        便利な 行く 来る 見る 聞く 話す 読む 書く 食べる 飲む 買う 作る 使う 知る 考える 思う 分かる
        待つ 持つ 住む 働く 休む 始める 終わる 教える 学ぶ は が を に で と の も から まで より です
        ます ました でした そして しかし また とても もっと すぐ いつも 時々 全部 少し たくさん""",
    "Chinese": """我 你 他 她 我们 他们 这 那 这里 那里 今天 明天 昨天 时间 年 月 日 人 孩子 家庭
        朋友 老师 学生 学校 公司 工作 家 房间 城市 国家 世界 水 山 河 海 天空 雨 雪 花 树 书 信 报纸
        电话 汽车 火车 路 车站 商店 钱 语言 中文 音乐 电影 照片 饭菜 食物 早上 晚上 春天 夏天 秋天
        冬天 问题 答案 意思 原因 方法 结果 经验 信息 技术 社会 文化 历史 自然 生活 健康 医院 医生
        大 小 新 旧 高 低 快 慢 长 短 美丽 困难 容易 快乐 重要 安静 有名 方便 去 来 看 听 说 读 写 吃
        喝 买 做 用 知道 想 觉得 明白 等 拿 住 休息 开始 结束 教 学习 的 了 是 在 有 和 也 都 很 就 不
        没有 还 但是 所以 因为 如果 已经 一起 非常 一些 很多 可以 应该 需要 发展 经济 环境 科学""",
}

# Languages written in a non-Latin script we have no word list for: pseudo-words from that
# script's letter block, so a script-based language check still sees the right script.
_SCRIPT_BLOCKS = {
    (0x03B1, 0x03C9): ("Greek",),
    (0x05D0, 0x05EA): ("Hebrew", "Yiddish"),
    (0x0E01, 0x0E2E): ("Thai",),
    (0xAC00, 0xAD00): ("Korean",),
    (0x10D0, 0x10F0): ("Georgian",),
    (0x0561, 0x0586): ("Armenian",),
    (0x1200, 0x1248): ("Amharic",),
    (0x0B85, 0x0BB9): ("Tamil",),
    (0x0C05, 0x0C39): ("Telugu",),
    (0x0C85, 0x0CB9): ("Kannada",),
    (0x0D05, 0x0D39): ("Malayalam",),
    (0x0A85, 0x0AB9): ("Gujarati",),
    (0x0A05, 0x0A39): ("Punjabi",),
    (0x0B05, 0x0B39): ("Oriya",),
    (0x0D85, 0x0DC6): ("Sinhala",),
    (0x1780, 0x17A2): ("Khmer",),
    (0x0E81, 0x0EAE): ("Lao",),
    (0x1000, 0x1021): ("Burmese",),
}
_NO_SPACES = ("Japanese", "Chinese")


@dataclass(frozen=True)
class Vocab:
    """Words of one language laid out for fast sampling: 256 slots, indexed by random bytes."""

    name: str
    words: tuple[str, ...]
    table: tuple[str, ...]
    sep: str
    stop: str
    latin: bool


def _make(name: str, words: list[str], latin: bool) -> Vocab:
    words = list(dict.fromkeys(words))  # drop repeats, keep order
    for w in words:
        # textgen writes JSON strings without escaping, which relies on this
        if not w.isprintable() or '"' in w or "\\" in w:
            raise ValueError(f"word list {name}: {w!r} would need JSON escaping")
    rng = random.Random(name)
    table = [words[i % len(words)] for i in range(256)]
    rng.shuffle(table)
    no_spaces = name in _NO_SPACES
    return Vocab(name, tuple(words), tuple(table), "" if no_spaces else " ",
                 "。" if no_spaces else ".", latin)


def _pseudo_words(name: str, lo: int, hi: int) -> list[str]:
    letters = [chr(c) for c in range(lo, hi + 1) if unicodedata.category(chr(c)) in ("Lo", "Ll")]
    rng = random.Random(f"pseudo:{lo}")
    return ["".join(rng.choices(letters, k=rng.randint(2, 6))) for _ in range(150)]


def _is_latin(words: list[str]) -> bool:
    letter = next(c for w in words for c in w if c.isalpha())
    return unicodedata.name(letter, "").startswith("LATIN")


VOCABS: dict[str, Vocab] = {
    name: _make(name, text.split(), _is_latin(text.split()))
    for name, text in (*_WORDS.items(), *EXTRA_WORDS.items())
}
# Bosnian and Croatian share their common words; language identifiers cannot tell them apart
_ALIASES: dict[str, Vocab] = {"Bosnian": VOCABS["Croatian"]}
for (_lo, _hi), _langs in _SCRIPT_BLOCKS.items():
    _v = _make(_langs[0], _pseudo_words(_langs[0], _lo, _hi), latin=False)
    for _lang in _langs:
        _ALIASES[_lang] = _v


def vocab_for(language: str) -> Vocab:
    """The word list to write `language` with; English for Latin-script languages we lack."""
    key = language.strip().title()
    return VOCABS.get(key) or _ALIASES.get(key) or VOCABS["English"]


def wrong_vocab(language: str, pick: int) -> Vocab:
    """A clearly different language: another script, so any language check can tell."""
    if vocab_for(language).latin:
        choices = ("Russian", "Japanese", "Chinese")
        return VOCABS[choices[pick % len(choices)]]
    return VOCABS["English"]
