"""Indonesian text analysis: ICU word breaks, normalization, stopwords, Sastrawi stems.

The chain: ``tokenizer`` (ICU segments, UTF-16 offsets fixed, hyphenated words joined)
-> the named ``steps`` (normalize, colloquial, stopwords, stem_guard, stem,
compound_parts), run by ``analyzer``; ``stemmer`` holds Sastrawi and the stem cache,
``lexicon`` the word lists; ``synonyms`` the query-time synonyms and acronyms.
"""

from searchlib.analysis.analyzer import AnalyzedText, Analyzer, analyze, default_steps
from searchlib.analysis.lexicon import (
    default_colloquial,
    default_stem_exclusions,
    default_stopwords,
    read_colloquial,
    read_stem_exclusions,
    read_word_list,
)
from searchlib.analysis.registry import register_step, registered_steps
from searchlib.analysis.stemmer import STEMS, StemCache
from searchlib.analysis.steps import (
    Colloquial,
    CompoundParts,
    Normalize,
    Stem,
    StemGuard,
    Step,
    Stopwords,
    Word,
)
from searchlib.analysis.synonyms import SynonymError, SynonymRule, Synonyms, SynonymTable
from searchlib.analysis.token import Token

__all__ = [
    "STEMS",
    "AnalyzedText",
    "Analyzer",
    "Colloquial",
    "CompoundParts",
    "Normalize",
    "Stem",
    "StemCache",
    "StemGuard",
    "Step",
    "Stopwords",
    "SynonymError",
    "SynonymRule",
    "SynonymTable",
    "Synonyms",
    "Token",
    "Word",
    "analyze",
    "default_colloquial",
    "default_stem_exclusions",
    "default_steps",
    "default_stopwords",
    "read_colloquial",
    "read_stem_exclusions",
    "read_word_list",
    "register_step",
    "registered_steps",
]
