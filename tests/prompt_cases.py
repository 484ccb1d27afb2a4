"""What the template tests render and look for.

GUIDELINES: every guideline of the paper's templates (Wang et al., ACL 2024, Appendix C, Tables
8-13) and the phrase of ours that carries it, per template; tests/test_prompts.py fails when one
goes. every_combination: the placeholder values a generation template must render with.

Phrases are matched in the template's text with runs of whitespace folded to one space, so
re-wrapping a template's lines does not break them; rewording a guideline does, on purpose:
whoever rewords it checks the meaning against the paper and updates the phrase here.
"""

from __future__ import annotations

import itertools

from synthgen.taxonomy import GROUPS

TASK = "Given a question about bread baking, retrieve recipes that answer it."
# a sample of the languages: the most common, non-Latin scripts, and two-word names
LANGUAGES = ("English", "Polish", "Japanese", "Arabic", "Scottish Gaelic", "Western Frisian")


def every_combination(group: str) -> list[dict[str, str]]:
    """Every combination of the group's placeholder values, each with a language from LANGUAGES
    in turn, plus one set per language (bitext: per ordered pair of distinct languages)."""
    g = GROUPS[group]
    names = list(g.placeholders)
    if g.language_slots == ("src_lang", "tgt_lang"):
        langs = list(itertools.permutations(LANGUAGES, 2))
    else:
        langs = [(lang,) for lang in LANGUAGES]
    combos = itertools.product(*(g.placeholders[n] for n in names))
    sets = [{**dict(zip(names, combo)), **dict(zip(g.language_slots, langs[i % len(langs)]))}
            for i, combo in enumerate(combos)]
    sets += [{**sets[i % len(sets)], **dict(zip(g.language_slots, pair))} for i, pair in enumerate(langs)]
    if g.brainstorm:
        sets = [{**values, "task": TASK} for values in sets]
    return sets


# (guideline, phrase); a phrase starting with "!" must NOT appear (e.g. no negative document)
Guidelines = list[tuple[str, str]]

_BRAINSTORM_ANSWER: Guidelines = [
    ("answer: about N tasks", "about {num_tasks} elements"),
    ("no explanation, nothing else", "Do not explain yourself or output anything else."),
    ("Be creative!", "Be creative!"),
]
_GENERATE_ANSWER: Guidelines = [
    ("answer: a JSON object only", "Your answer must be a JSON object only"),
    ("no explanation, nothing else", "Output the JSON object only: no explanation"),
    ("Be creative!", "Be creative!"),
]
_NOT_PARAPHRASES = ("asymmetric: related but not paraphrases (section 3.1)",
                    "are related to each other, but they are not paraphrases of each other")
_MATCHING_PAIR: Guidelines = [
    ("all fields in {language}", "The values of all fields must be in {language}."),
    ("avoid substantial word overlap, else too easy",
     "avoid substantial word overlap with each other: sharing many words would make the task too easy"),
    ("input and positive independent of each other",
     '"input" and "positive_document" are independent of each other'),
    ("no negative document", "!negative"),
]

GUIDELINES: dict[str, Guidelines] = {
    "brainstorm/short-long": [
        ("potentially useful text retrieval tasks", "a list of text retrieval tasks that might be useful"),
        ("example: keyword web query on the weather",
         "short keyword web search query asking about the weather"),
        ("example: FAQ-style query on children's nutrition",
         "FAQ-style question about children's nutrition"),
        ("each task says what the query and the desired documents are",
         "Each task states what the query is and what the desired documents are."),
        ("wide range of queries, not too specific",
         "Each task covers a wide range of queries and is not too specific."),
        ("distinct tasks, one sentence each", "one distinct retrieval task, written in one sentence"),
        *_BRAINSTORM_ANSWER,
    ],
    "brainstorm/long-short": [
        ("potentially useful text classification tasks",
         "a list of text classification tasks that could be useful"),
        ("diverse domains and task types", "cover a diverse range of domains and of task types"),
        ("no example tasks (the paper gives none)", "!example"),
        ("distinct tasks, one sentence each",
         "one distinct text classification task, written in one sentence"),
        *_BRAINSTORM_ANSWER,
    ],
    "brainstorm/short-short": [
        ("text matching, both sides very short",
         "text matching tasks in which both the queries and the ground-truth documents are very "
         "short: one or two sentences, or even a short phrase"),
        ("example: papers citing a paper title",
         "Given the title of a scientific paper, retrieve the titles of papers that cite it."),
        ("example: a word to its definition", "Match a word to its definition."),
        ("example: a notable person to occupation or achievement",
         "Given the name of a notable person, identify their occupation or achievement."),
        _NOT_PARAPHRASES,
        ("distinct tasks, one sentence each", "one distinct task, written in one sentence"),
        *_BRAINSTORM_ANSWER,
    ],
    "brainstorm/long-long": [
        ("text matching, queries are long documents",
         "text matching tasks in which the queries are long documents"),
        ("example: debatable argument to opposite arguments",
         "a document that argues for one side of a debatable question, find a document that "
         "makes the opposing arguments"),
        ("example: business proposal to competitive strategies",
         "Given a lengthy business proposal, retrieve documents on competitive business "
         "strategies in the same industry."),
        _NOT_PARAPHRASES,
        ("distinct tasks, one sentence each", "one distinct task, written in one sentence"),
        *_BRAINSTORM_ANSWER,
    ],
    "generate/short-long": [
        ("the brainstormed task", "You have been assigned a text retrieval task: {task}"),
        ("user_query: a random search query the task specifies",
         '"user_query": a random user search query of the kind the task specifies'),
        ("positive_document: relevant to the query", '"positive_document": a document relevant to the query'),
        ("hard_negative_document: only appears relevant", "one that only appears relevant to the query"),
        ("query is {query_type}, {query_length}, {clarity}",
         '"user_query" is {query_type}, {query_length} long, {clarity},'),
        ("query diverse in topic", "and diverse in topic"),
        ("documents created independently of the query",
         "Create every document independently of the query"),
        ("do not copy the query verbatim", "do not copy the query word for word"),
        ("off-topic parts of the positive are acceptable",
         'Parts of "positive_document" may be unrelated to the topic of the query; that is acceptable'),
        ("documents at least {num_words} words", "Each document contains at least {num_words} words."),
        ("hard negative: some useful information, less useful or comprehensive",
         '"hard_negative_document" holds some useful information, but it is less useful or less '
         'comprehensive than "positive_document"'),
        ("query and documents in {language}", "The query and both documents must be in {language}."),
        ("no explanation of relevance in any document",
         "No document explains why it is or is not relevant to the query."),
        ("{difficulty} level education for query and documents",
         "Understanding the query and the documents takes {difficulty} level education."),
        *_GENERATE_ANSWER,
    ],
    "generate/long-short": [
        ("the brainstormed task", "You have been assigned a text classification task: {task}"),
        ("input_text: what the task specifies", '"input_text": an input text of the kind the task specifies'),
        ("label: the correct label", '"label": the correct label of "input_text"'),
        ("misleading_label: incorrect, related to the task",
         '"misleading_label": an incorrect label that is related to the task'),
        ("input_text is {num_words} words", '"input_text" is {num_words} words long'),
        ("input_text diverse in expression", "diverse in expression"),
        ("misleading_label valid for the task, less appropriate than label",
         '"misleading_label" is a valid label for this task, but it fits "input_text" less well '
         'than "label" does'),
        ("all fields in {language}", "The values of all fields must be in {language}."),
        ("labels absent from input_text, else too easy",
         'Neither the value of "label" nor the value of "misleading_label" appears in '
         '"input_text": that would make the task too easy'),
        ("input_text {clarity}, {difficulty} level education",
         '"input_text" is {clarity}, and understanding it takes {difficulty} level education'),
        *_GENERATE_ANSWER,
    ],
    "generate/short-short": [
        ("the brainstormed task", "You have been assigned a text matching task: {task}"),
        ("input: a random input the task specifies", '"input": a random input of the kind the task specifies'),
        ("positive_document: relevant according to the task",
         '"positive_document": a text relevant to "input" according to the task'),
        ("both very short: a sentence or a phrase", "are both very short: a sentence or a phrase"),
        *_MATCHING_PAIR,
        *_GENERATE_ANSWER,
    ],
    "generate/long-long": [
        ("the brainstormed task", "You have been assigned a text matching task: {task}"),
        ("input: a document the task specifies", '"input": an input document of the kind the task specifies'),
        ("positive_document: relevant according to the task",
         '"positive_document": a document relevant to "input" according to the task'),
        ("both long documents, at least 300 words", "are both long documents of at least 300 words"),
        *_MATCHING_PAIR,
        *_GENERATE_ANSWER,
    ],
    "generate/sts": [
        ("a {unit} triple of varying similarity", "Write a {unit} triple whose members have different degrees"),
        ("scores 1 (least similar) to 5 (most similar)",
         "scored from 1 to 5: 1 means least similar, 5 means most similar"),
        ("keys exactly S1, S2, S3, no other key", 'exactly the keys "S1", "S2" and "S3" and no other key'),
        ("all strings in {language}", "All three values are strings and must be in {language}."),
        ("some word overlap between all three", "The three {unit}s have some word overlap with one another."),
        ("score(S1, S2) = {high_score}", 'The similarity score between "S1" and "S2" is {high_score}.'),
        ("score(S1, S3) = {low_score}", 'The similarity score between "S1" and "S3" is {low_score}.'),
        ("{difficulty} level education", "Understanding the {unit}s takes {difficulty} level education"),
        ("diverse in topic and length", "they are diverse in topic and in length"),
        *_GENERATE_ANSWER,
    ],
    "generate/bitext": [
        ("one {unit} in {src_lang}, two in {tgt_lang}",
         "one {unit} in {src_lang} and two {unit}s in {tgt_lang} whose translation quality differs"),
        ("quality scores 1 to 5, higher is better",
         "Translation quality is scored from 1 to 5, and higher is better."),
        ("keys exactly S1, S2, S3, no other key", 'exactly the keys "S1", "S2" and "S3" and no other key'),
        ("S1 in {src_lang}", '"S1" must be in {src_lang};'),
        ("S2 and S3 in {tgt_lang}", '"S2" and "S3" must be in {tgt_lang}.'),
        ("some word overlap between S2 and S3", '"S2" and "S3" have some word overlap with each other.'),
        ("quality(S2 | S1) = {high_score}",
         'The translation quality score of "S2" with respect to "S1" is {high_score}.'),
        ("quality(S3 | S1) = {low_score}",
         'The translation quality score of "S3" with respect to "S1" is {low_score}.'),
        ("S3 fluent but with keyword/number errors, missing or redundant information",
         '"S3" is grammatical and fluent, but it has some keyword or number translation errors, or '
         "leaves out some information, or adds some redundant information."),
        ("S1 needs {difficulty} level education", 'Understanding "S1" takes {difficulty} level education'),
        ("S1 diverse in topic and length", "and it is diverse in topic and in length"),
        *_GENERATE_ANSWER,
    ],
}
