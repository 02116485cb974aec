"""BM25 as Lucene defines it, BM25F across fields, as pure functions; and ``Ranking``.

Variant: Lucene's classic BM25 (``BM25Similarity`` before Lucene 8 dropped the constant
``k1 + 1`` factor, which changes no ranking), with exact document lengths instead of
Lucene's one-byte norms:

    idf(t)     = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(t,d) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))

Several fields are scored as one (BM25F, as Lucene's ``CombinedFieldQuery`` and
Elasticsearch's ``combined_fields``): each field's frequency and length count ``weight``
times, ``tf = sum(w_f * tf_f)``, ``dl = sum(w_f * dl_f)``, ``avgdl = sum(w_f *
total_length_f) / N``, ``N`` the largest of the fields' document counts and ``df`` the
largest of their document frequencies; then one saturation and one idf. So a word
saturates once however many fields hold it. An occurrence of the query's own form
(the exact twin fields) counts ``1 + exact_boost`` times. A query's score is the sum
over its terms. A plan over one field with ``exact_boost=0`` is exactly Lucene's BM25:
``N`` the live documents with a non-empty field, ``df`` those holding the term, ``dl``
the document's token count in the field (stopwords excluded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from searchlib.query.recency import RECOMMENDED_RECENCY, Recency

__all__ = ["DEFAULT_RANKING", "FRESH_RANKING", "Ranking", "bm25_idf", "bm25_term_scores"]


def bm25_idf(doc_count: int, doc_freq: int) -> float:
    """Lucene's BM25 idf: ln(1 + (N - df + 0.5) / (df + 0.5)); never negative."""
    return math.log(1.0 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


def bm25_term_scores(
    tf: np.ndarray, lengths: np.ndarray, avg_length: float, idf: float, k1: float, b: float
) -> np.ndarray:
    """BM25 of one term for the documents whose frequencies and lengths are given."""
    # An empty field everywhere (avgdl 0) leaves only k1 as the length normalization.
    norm = np.full_like(tf, k1) if avg_length <= 0 else k1 * (1.0 - b + b * lengths / avg_length)
    scores: np.ndarray = idf * tf * (k1 + 1.0) / (tf + norm)
    return scores


@dataclass(frozen=True)
class Ranking:
    """Ranking parameters for ``Index.search``.

    ``field_boosts`` are the BM25F weights of the text fields (relative: the lightest
    field searched counts 1; a field left out is not searched by plain words);
    ``exact_boost`` is how much more an occurrence of the query's own word form counts
    than one of another word with the same stem (0 turns exact-form scoring off);
    ``coordination`` ranks documents that match more of the query's clauses first
    (scores are unchanged: BM25F stays BM25F); ``recency`` (a ``Recency``) blends a
    decay on the publication date into the score, so that near-ties go to the newer
    article (None: off).
    """

    k1: float = 1.2
    b: float = 0.75
    # Chosen by measurement (README "Relevance": benchmarks/eval_relevance.py).
    field_boosts: Mapping[str, float] = field(default_factory=lambda: {"title": 4.0, "body": 1.0})
    exact_boost: float = 2.0
    coordination: bool = True
    recency: Recency | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.k1, (int, float)) and self.k1 >= 0 and math.isfinite(self.k1)):
            raise ValueError(f"k1 must be a finite number >= 0, not {self.k1!r}")
        if not (isinstance(self.b, (int, float)) and 0 <= self.b <= 1):
            raise ValueError(f"b must be between 0 and 1, not {self.b!r}")
        if not (isinstance(self.exact_boost, (int, float)) and self.exact_boost >= 0):
            raise ValueError(f"exact_boost must be >= 0, not {self.exact_boost!r}")
        boosts = dict(self.field_boosts)
        for name, boost in boosts.items():
            if name not in ("title", "body"):
                raise ValueError(f"unknown field in field_boosts: {name!r} (use title, body)")
            if not (isinstance(boost, (int, float)) and boost >= 0 and math.isfinite(boost)):
                raise ValueError(f"boost of {name!r} must be a finite number >= 0, not {boost!r}")
        object.__setattr__(self, "field_boosts", boosts)
        if self.recency is not None and not isinstance(self.recency, Recency):
            raise ValueError(f"recency must be a searchlib.Recency or None, not {self.recency!r}")


DEFAULT_RANKING = Ranking()
# The default with the recommended recency: the CLI's --fresh and the page's toggle.
FRESH_RANKING = Ranking(recency=RECOMMENDED_RECENCY)
