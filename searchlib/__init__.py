"""searchlib: full-text search for Indonesian news.

Data flows one way: ``analysis`` (ICU words, NFKC + casefold, stopwords, Sastrawi stems,
offsets kept) -> ``engine`` (Whoosh storage) -> ``query``/``execute``/``ranking`` (our
parser and Lucene BM25 over posting arrays) -> ``snippets`` -> the ``Index`` API, the
``search`` CLI and the HTTP server.

>>> import searchlib
>>> [t.term for t in searchlib.analyze("Pembangunan jembatan")]
['bangun', 'jembatan']
"""

from searchlib.analysis import Analyzer, Synonyms, Token, analyze
from searchlib.document import Article
from searchlib.errors import (
    DocumentError,
    IndexCorruptError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    QueryError,
    SearchlibError,
)
from searchlib.index import Index
from searchlib.query.collapse import Duplicate
from searchlib.query.ranking import Ranking
from searchlib.query.recency import Recency
from searchlib.query.results import Hit, Results, TermScore
from searchlib.query.snippets import Snippet

__version__ = "0.2.0"

__all__ = [
    "Analyzer",
    "Article",
    "DocumentError",
    "Duplicate",
    "Hit",
    "Index",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexVersionError",
    "QueryError",
    "Ranking",
    "Recency",
    "Results",
    "SearchlibError",
    "Snippet",
    "Synonyms",
    "TermScore",
    "Token",
    "__version__",
    "analyze",
]
