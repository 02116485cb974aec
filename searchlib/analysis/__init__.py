"""Indonesian text analysis: ICU word breaks, normalization, stopwords, Sastrawi stems.

The pipeline (one small module each): ``tokenizer`` (ICU segments, UTF-16 offsets fixed,
hyphenated words joined) -> ``analyzer`` (NFKC + casefold, colloquial map, stopwords,
stem exclusions, ``stemmer``), configured with the word lists of ``lexicon``.
"""

from searchlib.analysis.analyzer import AnalyzedText, Analyzer, analyze
from searchlib.analysis.lexicon import (
    default_colloquial,
    default_stem_exclusions,
    default_stopwords,
    read_colloquial,
    read_stem_exclusions,
    read_word_list,
)
from searchlib.analysis.token import Token

__all__ = [
    "AnalyzedText",
    "Analyzer",
    "Token",
    "analyze",
    "default_colloquial",
    "default_stem_exclusions",
    "default_stopwords",
    "read_colloquial",
    "read_stem_exclusions",
    "read_word_list",
]
