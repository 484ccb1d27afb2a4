"""English phrase lists for brainstormed task definitions and for chatter around fenced JSON.

Sized so that combinations run into the millions: a paper-scale run (150k tasks) should see
few accidental repeats, leaving repeats to the rate_repeat_task fault.
"""

from __future__ import annotations

import random

_ADJ = """peer-reviewed recent historical technical official anonymous short detailed informal
    archived multilingual regional user-submitted expert-written open-access annotated translated
    independent academic popular obscure archival scientific legal medical financial local
    educational journalistic community-written government""".split()
_VERBS = """answer explain summarize refute support describe compare criticize clarify illustrate
    contradict extend discuss define evaluate justify review question predict analyze
    document trace interpret rank update cite translate simplify challenge confirm""".split()
ADJECTIVES = tuple(_ADJ)
DOCUMENTS = ("articles", "reviews", "forum posts", "news reports", "blog entries",
             "research abstracts", "patents", "recipes", "court rulings", "product descriptions",
             "travel guides", "encyclopedia entries", "tutorials", "FAQ answers",
             "press releases", "clinical notes", "textbook chapters", "speeches", "poems",
             "song lyrics", "emails", "essays", "manuals", "policy documents", "job postings",
             "biographies", "movie plots", "museum descriptions", "podcast transcripts",
             "book summaries", "letters", "interviews", "lecture notes", "datasheets",
             "regulations", "meeting minutes", "case studies")
VERBS = tuple(_VERBS)
QUERIES = ("question", "claim", "product name", "symptom", "legal question", "historical event",
           "scientific term", "programming error", "recipe ingredient", "travel destination",
           "company name", "song title", "movie title", "book title", "math problem",
           "chemical compound", "disease name", "job title", "sports team", "city name",
           "law article", "gene name", "software library", "slogan", "proverb", "quotation",
           "dish name", "author name", "hypothesis", "policy proposal", "error message",
           "keyword phrase", "user complaint", "search query")
ATTRIBUTES = ("sentiment", "topic", "urgency", "intent", "genre", "political leaning",
              "emotional tone", "formality level", "target audience", "difficulty level",
              "credibility", "register", "main theme", "customer intent", "spam likelihood",
              "toxicity", "writing style", "humor type")

# {0} adjective, {1} documents, {2} other documents, {3} verb, {4} query, {5} attribute
_TEMPLATES = {
    "retrieval": (
        "Retrieve {0} {1} that {3} a given {4}.",
        "Given a {4}, find {0} {1} that {3} it.",
        "Search for {0} {1} that {3} a user's {4}.",
    ),
    "classification": (
        "Classify {0} {1} about a {4} by their {5}.",
        "Determine the {5} of {0} {1} about a given {4}.",
        "Identify the {5} expressed in {0} {1} that {3} a {4}.",
    ),
    "matching": (
        "Given a {4}, retrieve {0} {1} with the same meaning.",
        "Match {0} {1} to other {2} that {3} the same {4}.",
        "Find {0} {1} that paraphrase a given {4}.",
    ),
}

_BEFORE = ("Sure! Here is the JSON object you asked for:", "Here is the requested output.",
           "Certainly, below is the example in JSON format:")
_AFTER = ("Let me know if you need anything else.", "I hope this helps!",
          "Feel free to ask for more examples.")


def task_sentences(style: str, rng: random.Random, k: int) -> list[str]:
    """k distinct task definition sentences in the brainstorm style asked for."""
    templates = _TEMPLATES.get(style, _TEMPLATES["retrieval"])
    nt, na, nd, nv, nq, nat = (len(templates), len(ADJECTIVES), len(DOCUMENTS), len(VERBS),
                               len(QUERIES), len(ATTRIBUTES))
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < k:
        # one call for all draws; the small modulo bias does not matter here
        b = rng.randbytes(7 * k)
        for i in range(0, 7 * k, 7):
            task = templates[b[i] % nt].format(
                ADJECTIVES[b[i + 1] % na], DOCUMENTS[b[i + 2] % nd], DOCUMENTS[b[i + 3] % nd],
                VERBS[b[i + 4] % nv], QUERIES[b[i + 5] % nq], ATTRIBUTES[b[i + 6] % nat])
            if task not in seen:
                seen.add(task)
                out.append(task)
                if len(out) == k:
                    break
    return out


def chatter(rng: random.Random) -> tuple[str, str]:
    """A sentence before and after fenced JSON, as chatty models write."""
    return rng.choice(_BEFORE), rng.choice(_AFTER)
