"""Chinese full-text search (全文检索) shared by notices and the public Q&A.

Text is segmented in Python and the tokens are stored space-separated in ``search_documents``; the database
only matches whole tokens: an FTS5 ``unicode61`` table on SQLite (kept in step by triggers), a stored
``to_tsvector('simple', …)`` column with a GIN index on PostgreSQL. Neither backend segments Chinese by
itself, so every run of Chinese characters is indexed as jieba's search-mode words *and* as its overlapping
character bigrams and single characters: jieba alone segments 小区路灯不亮 as 小区/路/灯不亮 and would never
find 路灯. A query is segmented the same way; every query word must be present (each as its bigrams, a single
character as itself), so a document holding the query's text verbatim is always found. Ranking is the
same on both (:func:`score`: occurrences of the query's terms, titles weighing 5×). Snippets and highlights
are cut from the original text in Python.
"""

from __future__ import annotations

import bisect
import html
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jieba
import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, UTCDateTime, db, utcnow
from service.core.pagination import Page, paginate

TABLE = "search_documents"
FTS_TABLE = "search_documents_fts"  # SQLite: FTS5 virtual table (and its shadow tables), created by migration
PG_INDEX = "ix_search_documents_tsv"  # PostgreSQL: GIN index on PG_COLUMN, created by migration
PG_COLUMN = "search_vector"  # PostgreSQL: the weighted tsvector, a stored generated column made by migration
TITLE_WEIGHT = 5
MAX_WORD_LENGTH = 64
SNIPPET_CHARS = 120

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+)")
# Function words and question words that a resident types but no notice needs to contain.
STOP_WORDS = frozenset({
    "的", "了", "吗", "呢", "啊", "吧", "呀", "么", "和", "与", "及", "或", "是", "在", "有", "我", "我们",
    "怎么", "怎么办", "如何", "怎样", "什么", "哪里", "哪儿", "请问", "谁", "能", "可以", "要", "想",
})

# PostgreSQL: the weighted document vector, stored (generated from the token columns) so that ranking reads it
# instead of segmenting every match again, and indexed with GIN.
PG_VECTOR = f"{TABLE}.{PG_COLUMN}"


class SearchDocument(Base):
    """The segmented text of one searchable object (a notice, a published Q&A entry)."""

    __tablename__ = TABLE
    __table_args__ = (sa.UniqueConstraint("object_id", "kind"),)

    # An integer key: FTS5's external content table is addressed by a rowid that must never change.
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    object_id: Mapped[str] = mapped_column(sa.String(26))
    title_tokens: Mapped[str] = mapped_column(sa.Text, default="")
    body_tokens: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- segmentation ------------------------------------------------------------------------------------------

_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()


def _jieba() -> jieba.Tokenizer:
    """jieba's dictionary, loaded once per process (about a second), quietly."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


_DIACRITICS = re.compile("[\u0300-\u036f]")
# C0 control characters other than tab, line feed and carriage return: XML (the feeds) cannot hold them and
# PostgreSQL refuses NUL in text. Inputs refuse them (:func:`no_control_characters`); output strips them.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def normalize(text: str) -> str:
    """Full-width letters and digits as half-width, all lower case, Latin diacritics dropped (café is cafe, on
    SQLite and PostgreSQL alike): how text is indexed and queried."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return unicodedata.normalize("NFC", _DIACRITICS.sub("", decomposed)).lower()


def no_control_characters(value: str | None) -> None:
    """A marshmallow validator of free text: no C0 control characters except tab, line feed, carriage return."""
    if value is not None and CONTROL_CHARACTERS.search(value):
        raise ma.ValidationError("Control characters are not allowed.")


def strip_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


def _cjk_words(run: str) -> list[str]:
    return [w for w in _jieba().cut_for_search(run, HMM=True) if w and re.fullmatch(f"[{_CJK}]+", w)]


def index_tokens(text: str | None) -> list[str]:
    """The tokens a text is indexed under: Latin words and numbers whole; Chinese as single characters,
    overlapping bigrams and jieba's search-mode words of two characters or more."""
    tokens: list[str] = []
    for match in _RUNS.finditer(normalize(text or "")):
        if match.group("word"):
            tokens.append(match.group()[:MAX_WORD_LENGTH])
            continue
        run = match.group()
        tokens.extend(run)
        tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
        tokens.extend(w[:MAX_WORD_LENGTH] for w in _cjk_words(run) if len(w) >= 2)
    return tokens


@dataclass(frozen=True)
class Query:
    """A parsed query: ``terms`` must all be in a document; ``words`` are highlighted in results."""

    text: str
    terms: tuple[str, ...]
    words: tuple[str, ...]

    def is_prefix(self, term: str) -> bool:
        """Latin words and numbers also find longer ones (park → parking), as a person typing expects."""
        return not re.match(f"[{_CJK}]", term)


def parse_query(text: str) -> Query:
    """Segment a query like the documents; punctuation alone leaves no terms (and finds nothing)."""
    words: list[str] = []
    for match in _RUNS.finditer(normalize(text)):
        if match.group("word"):
            words.append(match.group()[:MAX_WORD_LENGTH])
        else:
            run = match.group()
            # precise mode: the words a person meant; their bigrams are what the index surely holds
            segmented = [w for w in _jieba().cut(run, HMM=True) if w.strip()]
            words.extend(segmented or [run])
    meaningful = [w for w in words if w not in STOP_WORDS] or words
    words = list(dict.fromkeys(meaningful))
    terms: list[str] = []
    for word in words:
        if re.fullmatch(f"[{_CJK}]+", word) and len(word) > 1:
            terms.extend(word[i:i + 2] for i in range(len(word) - 1))
        else:
            terms.append(word)
    return Query(text=text, terms=tuple(dict.fromkeys(terms)), words=tuple(words))


# --- the index ---------------------------------------------------------------------------------------------

def document_tokens(title: str | None, body: str | None) -> tuple[str, str]:
    """The ``(title_tokens, body_tokens)`` columns of a document, as :func:`index` stores them."""
    return " ".join(index_tokens(title)), " ".join(index_tokens(body))


def index(kind: str, object_id: str, title: str | None, body: str | None) -> None:
    """(Re)index one object in the current transaction."""
    title_tokens, body_tokens = document_tokens(title, body)
    document = db.session.execute(
        sa.select(SearchDocument).where(SearchDocument.kind == kind, SearchDocument.object_id == object_id)
    ).scalar_one_or_none()
    if document is None:
        db.session.add(SearchDocument(kind=kind, object_id=object_id, title_tokens=title_tokens,
                                      body_tokens=body_tokens, updated_at=utcnow()))
    elif (document.title_tokens, document.body_tokens) != (title_tokens, body_tokens):
        document.title_tokens, document.body_tokens, document.updated_at = title_tokens, body_tokens, utcnow()
    db.session.flush()


def remove(kind: str, object_id: str) -> None:
    db.session.execute(sa.delete(SearchDocument).where(SearchDocument.kind == kind,
                                                       SearchDocument.object_id == object_id))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _occurrences(tokens: Any, term: str, prefix: bool) -> Any:
    """How many of the space-separated ``tokens`` are ``term`` (or, for a prefix term, start with it), computed
    by the same string functions on SQLite and PostgreSQL: each token padded with its own spaces, then the
    pattern's occurrences counted by what replacing them removes."""
    padded = sa.literal(" ") + sa.func.replace(tokens, " ", "  ") + sa.literal(" ")
    pattern = " " + term + ("" if prefix else " ")
    removed = sa.func.length(padded) - sa.func.length(sa.func.replace(padded, sa.literal(pattern), ""))
    return removed / len(pattern)


def score(query: Query) -> sa.ColumnElement[int]:
    """The relevance of a document: per query term, ``TITLE_WEIGHT`` × its occurrences in the title plus its
    occurrences in the body. It depends on the document alone (no corpus statistics), so it is the same on
    SQLite and PostgreSQL and does not move when other documents are indexed: a cursor holding it stays valid."""
    total: Any = sa.literal(0)
    for term in query.terms:
        prefix = query.is_prefix(term)
        total = (total + TITLE_WEIGHT * _occurrences(SearchDocument.title_tokens, term, prefix)
                 + _occurrences(SearchDocument.body_tokens, term, prefix))
    return sa.cast(total, sa.Integer)


def matches(kind: str, query: Query) -> sa.Subquery:
    """``(object_id, score)`` of the documents of ``kind`` holding every term; a higher score is more relevant.

    The full-text index finds them (FTS5 on SQLite, the GIN index on PostgreSQL); :func:`score` ranks them."""
    if _dialect() == "postgresql":
        vector: sa.ColumnElement[Any] = sa.literal_column(PG_VECTOR)
        expression = " & ".join(f"'{term}'" + (":*" if query.is_prefix(term) else "") for term in query.terms)
        tsquery = sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), expression)
        return (sa.select(SearchDocument.object_id.label("object_id"), score(query).label("score"))
                .where(SearchDocument.kind == kind, vector.op("@@")(tsquery))
                .subquery("matches"))
    fts = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer))
    fts_match = " ".join('"' + term + '"' + ("*" if query.is_prefix(term) else "") for term in query.terms)
    return (sa.select(SearchDocument.object_id.label("object_id"), score(query).label("score"))
            .select_from(fts.join(SearchDocument, SearchDocument.id == fts.c.rowid))
            .where(sa.literal_column(FTS_TABLE).op("MATCH")(fts_match), SearchDocument.kind == kind)
            .subquery("matches"))


def ranked(stmt: sa.Select[Any], id_column: Any, kind: str, q: str, cursor: str | None, limit: int | None
           ) -> tuple[Query, Page[Any]]:
    """One page of the entities ``stmt`` selects that match ``q``, the most relevant first (then the newest id).

    The cursor holds the last item's (score, id): a score depends on its own document only, so the pages of a
    query neither skip nor repeat while other documents are indexed."""
    query = parse_query(q)
    if not query.terms:
        return query, Page(items=[], next_cursor=None)
    found = matches(kind, query)
    joined = stmt.add_columns(found.c.score).join(found, found.c.object_id == id_column)
    page = paginate(joined, [found.c.score, id_column], cursor=cursor, limit=limit, descending=True,
                    key_of=lambda row: [int(row.score), row[0].id])
    return query, Page(items=[row[0] for row in page.items], next_cursor=page.next_cursor)


@dataclass(frozen=True)
class SearchPage:
    """A page of a list that may be a search: the query, its words, and what to say when nothing was found."""

    items: list[Any]
    next_cursor: str | None
    q: str | None = None
    words: list[str] = field(default_factory=list)
    message: str | None = None


def nothing_found(q: str, what: str) -> str:
    return f"没有找到与“{q}”相关的{what}，请换个说法或减少关键词再试。"


def search_page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """``{items, next_cursor}`` plus what a search answers: the query, the words searched for, and a message
    when nothing was found."""
    return type(name, (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        "next_cursor": ma.fields.String(allow_none=True, required=True),
        "q": ma.fields.String(allow_none=True, metadata={"description": "The query, as given."}),
        "words": ma.fields.List(ma.fields.String(), metadata={"description": "The words searched for."}),
        "message": ma.fields.String(allow_none=True, metadata={
            "description": "Set when a query found nothing (没有找到…); null otherwise."}),
    })


def managed_by_models(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic's ``include_name``: leave out the full-text table and index the migration makes by hand."""
    if type_ == "table":
        return not (name or "").startswith(FTS_TABLE)
    if type_ == "index":
        return name != PG_INDEX
    if type_ == "column":
        return name != PG_COLUMN
    return True


# --- snippets ----------------------------------------------------------------------------------------------

def _spans(text: str, words: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the words occur in ``text`` (compared normalised), as merged (start, end) character ranges."""
    starts: list[int] = []
    normalised = []
    position = 0
    for char in text:
        starts.append(position)
        piece = normalize(char)
        normalised.append(piece)
        position += len(piece)
    flat = "".join(normalised)
    found: list[tuple[int, int]] = []
    for word in words:
        at = flat.find(word)
        while at != -1:
            first = bisect.bisect_right(starts, at) - 1
            last = bisect.bisect_left(starts, at + len(word))
            found.append((first, last))
            at = flat.find(word, at + len(word))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _marked(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    out, at = [], start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        out.append(html.escape(text[at:span_start]))
        out.append("<mark>" + html.escape(text[span_start:span_end]) + "</mark>")
        at = span_end
    out.append(html.escape(text[at:end]))
    return "".join(out)


def highlight(text: str | None, words: tuple[str, ...] = ()) -> str:
    """``text`` HTML-escaped, the words wrapped in ``<mark>``."""
    text = text or ""
    return _marked(text, _spans(text, words), 0, len(text))


def snippet(text: str | None, words: tuple[str, ...] = (), width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around its best match (the most distinct words), HTML-escaped
    with the words in ``<mark>``; the beginning of the text when nothing matches."""
    text = " ".join((text or "").split())
    spans = _spans(text, words)
    if len(text) <= width:
        return _marked(text, spans, 0, len(text))
    best_start, best_count = 0, 0
    for span_start, _end in spans:
        start = max(0, min(span_start - width // 4, len(text) - width))
        window = text[start:start + width]
        count = sum(1 for word in words if word in normalize(window))
        if count > best_count:
            best_start, best_count = start, count
    end = best_start + width
    return (("…" if best_start > 0 else "") + _marked(text, spans, best_start, end)
            + ("…" if end < len(text) else ""))
