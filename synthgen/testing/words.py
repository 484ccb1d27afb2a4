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

_TEMPLATES = {
    "retrieval": (
        "Retrieve {adj} {docs} that {verb} a given {query}.",
        "Given a {query}, find {adj} {docs} that {verb} it.",
        "Search for {adj} {docs} that {verb} a user's {query}.",
    ),
    "classification": (
        "Classify {adj} {docs} about a {query} by their {attr}.",
        "Determine the {attr} of {adj} {docs} about a given {query}.",
        "Identify the {attr} expressed in {adj} {docs} that {verb} a {query}.",
    ),
    "matching": (
        "Given a {query}, retrieve {adj} {docs} with the same meaning.",
        "Match {adj} {docs} to other {docs2} that {verb} the same {query}.",
        "Find {adj} {docs} that paraphrase a given {query}.",
    ),
}

_BEFORE = ("Sure! Here is the JSON object you asked for:", "Here is the requested output.",
           "Certainly, below is the example in JSON format:")
_AFTER = ("Let me know if you need anything else.", "I hope this helps!",
          "Feel free to ask for more examples.")


def task_sentence(style: str, rng: random.Random) -> str:
    """One task definition sentence in the brainstorm style asked for."""
    # one call for seven draws; the small modulo bias does not matter here
    b = rng.randbytes(7)
    templates = _TEMPLATES.get(style, _TEMPLATES["retrieval"])
    return templates[b[0] % len(templates)].format(
        adj=ADJECTIVES[b[1] % len(ADJECTIVES)], docs=DOCUMENTS[b[2] % len(DOCUMENTS)],
        docs2=DOCUMENTS[b[3] % len(DOCUMENTS)], verb=VERBS[b[4] % len(VERBS)],
        query=QUERIES[b[5] % len(QUERIES)], attr=ATTRIBUTES[b[6] % len(ATTRIBUTES)])


def chatter(rng: random.Random) -> tuple[str, str]:
    """A sentence before and after fenced JSON, as chatty models write."""
    return rng.choice(_BEFORE), rng.choice(_AFTER)
