"""Themes from the replies themselves: cluster their embeddings, describe each cluster, draft a codebook.

Replies with no content (thanks, "following", emoji only) are left out first. The rest are clustered
with k-means on their sentence embeddings (scikit-learn; seeded, so the same replies and seed give the
same themes), which puts every reply in a theme (no outlier bucket); themes smaller than `min_size` are
dropped and their replies counted as outside any theme. Each theme is described by its most typical
replies (nearest its centre) and its distinctive words (class-based TF-IDF of the theme against the other
themes and the rest).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import yaml
from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db.discoveries import classified_count, discovery_replies, latest_discovery, save_discovery
from replies.db.samples import text_key

from .embed import CachedEmbedder
from .errors import ClassifierError

TYPICAL = 5
DRAFT_EXAMPLES = 10  # typical replies a draft category takes as examples (chosen on the dev rows)
WORD_SAMPLE = 250  # replies per theme read for its distinctive words
WORDS = 8
MIN_CONTENT_WORDS = 1
# Words that carry no idea in a reply to a question: courtesy, agreement, thread talk.
CONTENTLESS = frozenset("""
following follow bookmarked bookmark bookmarking thanks thank thx ty great good brilliant excellent interesting
question questions thread threads reply replies answer answers agree agreed exactly yes yeah yep lol haha
this that same upthread said says say love like just really very much plus one op post posts tweet
ve ll re don didn doesn isn wasn aren won ha hah true spot absolutely totally definitely indeed well put
nice cool wow omg ok okay sure seconded
""".split())
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|co|uk|app|social|ly)/\S*", re.IGNORECASE)
_MENTION = re.compile(r"[@＠][\w.@-]+")
# one pass over a reply: links and mentions are matched (and skipped) before the words they contain
_TOKENS = re.compile(_URL.pattern + "|" + _MENTION.pattern + r"|([^\W\d_]{2,})", re.IGNORECASE)


@functools.cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return frozenset(ENGLISH_STOP_WORDS) | CONTENTLESS


@functools.cache
def _other_languages() -> tuple[frozenset[str], ...]:
    """Stop-word lists of the languages `stop-words` knows besides English (Arabic, Hebrew, Spanish, ...)."""
    from stop_words import AVAILABLE_LANGUAGES, get_stop_words
    return tuple(frozenset(w.lower() for w in get_stop_words(language)) for language in AVAILABLE_LANGUAGES
                 if language != "english")


def _without_stop_words(text: str) -> str:
    """A reply's own words less the stop words of its language, guessed as the language whose stop words it
    uses most ("من" in an Arabic reply). Lists are never pooled: Romanian's "care" stays a word in English."""
    words = [m.group(1) for m in _TOKENS.finditer((text or "").lower()) if m.group(1)]
    english = _stop_words()
    own = sum(w in english for w in words)
    best, most = None, own
    for stop in _other_languages():
        found = sum(w in stop for w in words)
        if found > most:
            best, most = stop, found
    return " ".join(w for w in words if w not in english and (best is None or w not in best))


def _without_mentions(text: str) -> str:
    """A draft's example with each @handle as "@someone": a codebook is shared, its examples' authors are not."""
    return _MENTION.sub("@someone", text)


def has_content(text: str) -> bool:
    """Whether a reply says anything a theme could be made of (not thanks, "following" or emoji only)."""
    stop = _stop_words()
    words = (m.group(1) for m in _TOKENS.finditer((text or "").lower()) if m.group(1) and m.group(1) not in stop)
    return next(itertools.islice(words, MIN_CONTENT_WORDS - 1, None), None) is not None


@dataclass
class Theme:
    id: str
    label: str
    size: int
    words: list[str]
    typical: list[dict]  # platform, id, text of the most typical replies, most typical first
    examples: list[str] = field(default_factory=list)  # the texts a draft codebook gives as examples
    members: list[tuple[str, str]] = field(repr=False, default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("members")
        return data


@dataclass
class Discovery:
    themes: list[Theme]
    replies: int                 # replies clustered (with content, and uncovered when a codebook is given)
    left_out: int                # replies without content
    outside: int                 # replies in clusters smaller than min_size
    model: str
    params: dict
    uncovered: int | None = None  # with a codebook: replies it leaves uncovered (with or without content)
    codebook: Codebook | None = None
    run_id: int | None = None


def cluster(vectors: np.ndarray, n_themes: int, seed: int = 0,
            start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(theme number of each vector, theme centres) by k-means: from `start` (the centres of the previous
    run with the same parameters) when given, so a reply added later moves the themes little; else
    k-means++ from `seed`, best of ten. Memory is linear in the number of replies."""
    from sklearn.cluster import KMeans

    n_themes = max(1, min(n_themes, len(vectors)))
    if start is not None and start.shape == (n_themes, vectors.shape[1]):
        model = KMeans(n_clusters=n_themes, init=start, n_init=1, random_state=seed)
    else:
        model = KMeans(n_clusters=n_themes, n_init=10, random_state=seed)
    labels = model.fit_predict(vectors)
    return labels, model.cluster_centers_.astype(np.float32)


def distinctive_words(groups: list[list[str]], rest: list[str], top: int = WORDS) -> list[list[str]]:
    """For each group of texts, its most distinctive words and two-word phrases (class-based TF-IDF of
    the group against the other groups and `rest`); a term must appear in two of the group's texts."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [_without_stop_words(t) for group in groups for t in group] + [_without_stop_words(t) for t in rest]
    if not texts:
        return [[] for _ in groups]
    # the texts hold no stop words already (`_without_stop_words`), so the vectorizer is given none
    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    try:
        counts = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # nothing but stop words
        return [[] for _ in groups]
    terms = vectorizer.get_feature_names_out()
    bounds = np.cumsum([0] + [len(g) for g in groups] + [len(rest)])
    classes = [counts[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
    totals = np.vstack([np.asarray(c.sum(axis=0)).ravel() for c in classes])  # class x term
    frequency = totals.sum(axis=0)
    average = totals.sum() / len(classes)
    tf = totals / np.maximum(totals.sum(axis=1, keepdims=True), 1)
    weight = tf * np.log1p(average / np.maximum(frequency, 1))
    out = []
    for i, group in enumerate(groups):
        spread = np.asarray((classes[i] > 0).sum(axis=0)).ravel()
        score = np.where(spread >= min(2, len(group)), weight[i], 0)
        order = [j for j in np.argsort(-score, kind="stable") if score[j] > 0]
        chosen: list[str] = []
        for j in order:
            term = terms[j]
            if any(term in other or other in term for other in chosen):
                continue  # "tariff" and "payment tariff" say the same
            chosen.append(term)
            if len(chosen) == top:
                break
        out.append(chosen)
    return out


MAX_SEED = 2**32 - 1  # k-means takes its seed as an unsigned 32-bit number


def _one_of_each_text(order: list[int], rows: list[dict]) -> list[int]:
    """`order` with each text once (the first, nearest the centre), as copies share a text (`text_key`: without
    the @mentions a platform puts first, case and spacing folded): the same reply cross-posted on several
    platforms is one example, not four, whichever of them opens with the asker's handle."""
    seen: set[str] = set()
    kept = []
    for i in order:
        key = text_key(rows[i]["text"])
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


def _theme_id(number: int, words: list[str]) -> str:
    slug = "_".join(re.sub(r"[^a-z0-9]+", "_", w.lower()).strip("_") for w in words[:2]) or "theme"
    return f"t{number}_{slug}"[:40].rstrip("_")


def discover(database: Database, *, thread: tuple[str, str] | None = None, codebook: Codebook | None = None,
             min_size: int = 3, max_themes: int = 8, seed: int = 0, model: str | None = None,
             batch_size: int = 64, encoder=None, record: bool = True,
             progress: Callable[[str, int, int], None] | None = None) -> Discovery:
    """Themes among the replies (those `codebook` leaves uncovered, when given), stored in the database
    with their parameters unless `record` is False."""
    if min_size < 1 or max_themes < 1:
        raise ClassifierError("--min-size and --max-themes must be at least 1")
    if not 0 <= seed <= MAX_SEED:
        raise ClassifierError(f"--seed {seed} must be from 0 to {MAX_SEED}")
    params = {"min_size": min_size, "max_themes": max_themes, "seed": seed}
    uncovered = None
    if codebook is not None:
        if classified_count(database, codebook.hash, thread) == 0:
            raise ClassifierError(f"no reply is classified with codebook {codebook.name} ({codebook.hash}) yet: "
                                  "run `replies classify --codebook FILE` first")
        candidates = discovery_replies(database, thread=thread, codebook=codebook.name,
                                       codebook_hash=codebook.hash)
        uncovered = len(candidates)
    else:
        candidates = discovery_replies(database, thread=thread)
        if not candidates:
            raise ClassifierError("no replies to discover themes in: harvest a thread first (`replies harvest URL`)")
    rows = [row for row in candidates if has_content(row["text"])]
    left_out = len(candidates) - len(rows)
    embedder = CachedEmbedder(database, model, encoder=encoder)
    result = Discovery([], len(rows), left_out, 0, embedder.key, params, uncovered, codebook)
    if codebook is None and len(rows) < min_size:
        raise ClassifierError(f"only {len(rows)} replies with content, fewer than --min-size {min_size}: "
                              "lower --min-size or harvest more")
    centres = None
    if len(rows) >= min_size:
        if progress:
            progress("embedding", 0, len(rows))
        vectors = embedder.embed([row["text"] for row in rows], batch_size)
        previous = latest_discovery(database, codebook.hash if codebook else None,
                                    same_as={"thread": thread, "model": embedder.key, "params": params})
        start = None
        if previous and previous.get("centres"):
            start = np.frombuffer(previous["centres"], dtype=np.float32).reshape(-1, vectors.shape[1])
        labels, centres = cluster(vectors, min(max_themes, len(rows) // min_size), seed, start)
        members = {}
        for index, label in enumerate(labels):
            members.setdefault(int(label), []).append(index)
        kept = [m for m in members.values() if len(m) >= min_size]
        kept.sort(key=lambda m: (-len(m), m[0]))  # biggest first; ties by the earliest reply
        result.outside = len(rows) - sum(len(m) for m in kept)
        by_closeness = []  # each theme's replies, nearest its centre first
        for indices in kept:
            centre = vectors[indices].mean(axis=0)
            closeness = vectors[indices] @ (centre / max(np.linalg.norm(centre), 1e-9))
            by_closeness.append([indices[j] for j in np.argsort(-closeness, kind="stable")])
        in_theme = {i for m in kept for i in m}
        outside = [row["text"] for i, row in enumerate(rows) if i not in in_theme]
        # words from the replies nearest each centre: a big theme's words do not need all its replies
        words = distinctive_words([[rows[i]["text"] for i in order[:WORD_SAMPLE]] for order in by_closeness],
                                  outside[:WORD_SAMPLE])
        for number, (indices, order, theme_words) in enumerate(zip(kept, by_closeness, words), start=1):
            distinct = _one_of_each_text(order, rows)
            typical = distinct[:TYPICAL]
            label = " / ".join(theme_words[:3]) or f"Theme {number}"
            result.themes.append(Theme(
                id=_theme_id(number, theme_words), label=label[:1].upper() + label[1:], size=len(indices),
                words=theme_words,
                typical=[{"platform": rows[i]["platform"], "id": rows[i]["id"], "text": rows[i]["text"]}
                         for i in typical],
                examples=[" ".join(_without_mentions(rows[i]["text"]).split()) for i in distinct[:DRAFT_EXAMPLES]],
                members=[(rows[i]["platform"], rows[i]["id"]) for i in indices]))
    if record:
        result.run_id = save_discovery(database, params=params, themes=[t.as_dict() for t in result.themes],
                                       centres=None if centres is None else centres.tobytes(),
                                       replies=result.replies, left_out=left_out, model=result.model,
                                       codebook=codebook.name if codebook else None,
                                       codebook_hash=codebook.hash if codebook else None, thread=thread,
                                       uncovered=uncovered)
    return result


def draft_codebook(discovery: Discovery, *, name: str = "draft", question: str = "") -> dict:
    """A codebook in the project's YAML form: a category per theme, with a placeholder id and label made
    from its words, a description to edit, and its most typical replies as examples."""
    categories = []
    for theme in discovery.themes:
        about = ", ".join(theme.words[:5]) or "what the examples below say"
        categories.append({
            "id": theme.id, "label": theme.label,
            "description": f"DRAFT from {theme.size} replies, edit me: replies that talk about {about}.",
            "examples": theme.examples,
        })
    return {"name": name, "question": question or "(the question asked)", "categories": categories}


def draft_yaml(discovery: Discovery, *, name: str = "draft", question: str = "") -> str:
    """The draft codebook as YAML text, with a header saying what to edit."""
    if not discovery.themes:
        raise ClassifierError("no themes to write a codebook from: lower --min-size, or add replies")
    header = ("# Draft codebook written by `replies discover`. Rename the ids and labels, rewrite each\n"
              "# description in your own words, keep the examples that fit and delete the rest.\n")
    return header + yaml.safe_dump(draft_codebook(discovery, name=name, question=question), sort_keys=False,
                                   allow_unicode=True, width=100)
