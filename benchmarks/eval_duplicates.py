"""How well collapsing finds syndicated copies: a development set built from real articles.

    python benchmarks/eval_duplicates.py --corpus ../shared/corpus/indosum-news.jsonl

From ``--bases`` articles of the corpus (seeded, bodies of at least 80 words) the
script makes the copies a news archive receives, each under another portal's name
(``source``) and a few hours later:

- ``dateline``: another portal's dateline in place of the first words
  ("JAKARTA, KOMPAS.com - ", "Jakarta (ANTARA) - ", ...);
- ``trimmed``: the last paragraph cut (the last fifth of the sentences if it has one);
- ``rewritten``: one sentence replaced by a sentence of another article, one reworded
  (a few words dropped);
- ``portal``: a dateline, the portal's name for the source's, and the portal's
  "Baca juga" link and editor line added;
- ``combined``: all of the above at once;

and reports, beside them, ``shortened`` (the first 60% of the body, as a portal that
runs the start of a story), which is not in the headline figures. The copies are
indexed with the whole corpus: every other article is a story that must not collapse
with them, and the bases' nearest neighbours by more-like-this (``Index.similar``,
same topic, different story) are counted apart as the hard cases. Pairs of corpus
articles that already share at least 20% of their word 3-shingles (the corpus's
own copies) are left out of the counts, and their number printed.

Precision is the share of predicted copy pairs (``Index.duplicates``) that are a base
and its copy or two copies of one base; recall the share of those true pairs found.
Then the same figures through search: each base's title queried with
``collapse=True``, top 10: a page showing two articles of one group is a miss, a hit
standing for an article of another group a false merge.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import load_articles

from searchlib import Index
from searchlib.engine.signature import DEFAULT_SIMILARITY

PORTALS = [
    ("kompas", "JAKARTA, KOMPAS.com - ", "Kompas.com"),
    ("antara", "Jakarta (ANTARA) - ", "ANTARA"),
    ("liputan6", "Liputan6.com, Jakarta - ", "Liputan6.com"),
    ("tempo", "TEMPO.CO, Jakarta - ", "Tempo.co"),
    ("cnnindonesia", "Jakarta, CNN Indonesia -- ", "CNN Indonesia"),
    ("republika", "REPUBLIKA.CO.ID, JAKARTA -- ", "Republika.co.id"),
    ("suara", "Suara.com - ", "Suara.com"),
    ("detik", "Jakarta - ", "detikcom"),
]
KINDS = ("dateline", "trimmed", "rewritten", "portal", "combined")
EXTRA = ("shortened",)
THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.6, 0.7)
ORIGIN = datetime(2025, 6, 1, tzinfo=timezone.utc)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# A dateline: up to ~8 words before a dash near the start of the body.
_DATELINE = re.compile(r"^\W*(?:\w[\w.,()/ ]{0,60}?)\s[-\u2013\u2014]{1,2}\s")


def shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def with_dateline(body: str, dateline: str) -> str:
    return dateline + _DATELINE.sub("", body, count=1)


def trimmed(body: str) -> str:
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    if len(paragraphs) >= 3:
        return "\n\n".join(paragraphs[:-1])
    parts = sentences(body)
    return " ".join(parts[: max(1, len(parts) - max(1, len(parts) // 5))])


def rewritten(body: str, other: str, rng: random.Random) -> str:
    parts = sentences(body)
    if len(parts) < 3:
        return body
    middle = len(parts) // 2
    parts[middle] = rng.choice(sentences(other) or [other])
    words = parts[middle - 1].split()
    for _ in range(min(3, len(words) // 4)):
        del words[rng.randrange(len(words))]
    parts[middle - 1] = " ".join(words)
    return " ".join(parts)


def portal_version(body: str, portal: tuple[str, str, str], source: str, link: str) -> str:
    _name, dateline, brand = portal
    text = with_dateline(body, dateline)
    if source:
        text = re.sub(re.escape(source), brand, text, flags=re.IGNORECASE)
    return f"{text}\n\nBaca juga: {link}\n\nEditor: Redaksi {brand}"


def make_copies(base: dict, others: list[dict], rng: random.Random) -> dict[str, dict]:
    body, source = base["body"], base.get("source") or ""
    portals = rng.sample(PORTALS, len(KINDS) + len(EXTRA))
    other = rng.choice(others)
    link = rng.choice(others)["title"]
    texts = {
        "dateline": with_dateline(body, portals[0][1]),
        "trimmed": trimmed(body),
        "rewritten": rewritten(body, other["body"], rng),
        "portal": portal_version(body, portals[3], source, link),
        "combined": portal_version(
            rewritten(trimmed(body), other["body"], rng), portals[4], source, link
        ),
        "shortened": " ".join(sentences(body)[: max(1, round(len(sentences(body)) * 0.6))]),
    }
    published = datetime.fromisoformat(base["published"])
    copies = {}
    for number, (kind, text) in enumerate(texts.items()):
        copies[kind] = {
            **base,
            "id": f"{base['id']}~{kind}",
            "body": text,
            "source": portals[number][0],
            "published": (published + timedelta(hours=number + 1)).isoformat(),
        }
    return copies


def dated(records: list[dict], rng: random.Random) -> list[dict]:
    return [
        {**r, "published": (ORIGIN - timedelta(days=rng.uniform(0, 365))).isoformat()}
        for r in records
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--bases", type=int, default=400)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--verbose", action="store_true", help="print each false merge")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = dated(load_articles(args.corpus), rng)
    eligible = [a for a in corpus if len(a["body"].split()) >= 80]
    bases = rng.sample(eligible, min(args.bases, len(eligible)))
    group_of = {a["id"]: a["id"] for a in bases}
    kind_of: dict[str, str] = {}
    copies: list[dict] = []
    for base in bases:
        for kind, copy in make_copies(base, corpus, rng).items():
            group_of[copy["id"]] = base["id"]
            kind_of[copy["id"]] = kind
            copies.append(copy)
    texts = {a["id"]: a["body"] for a in corpus + copies}
    shingle_sets: dict[str, set] = {}

    def exact(a: str, b: str) -> float:
        for doc_id in (a, b):
            if doc_id not in shingle_sets:
                shingle_sets[doc_id] = shingles(texts[doc_id])
        return jaccard(shingle_sets[a], shingle_sets[b])

    folder = tempfile.mkdtemp(prefix="eval-duplicates-")
    with Index.create(Path(folder) / "dups.idx") as ix:
        ix.add(corpus + copies)
        headline = [c for c in copies if kind_of[c["id"]] in KINDS]
        dev_ids = [b["id"] for b in bases] + [c["id"] for c in headline]
        found: dict[str, dict[str, float]] = {}
        for doc_id in dev_ids + [c["id"] for c in copies if kind_of[c["id"]] in EXTRA]:
            found[doc_id] = {d.id: d.similarity for d in ix.duplicates(doc_id, similarity=0.2)}
        neighbours = {
            b["id"]: [h.id for h in ix.similar(b["id"], limit=15) if h.id not in group_of][:5]
            for b in bases
        }
        print(f"{len(corpus):,} corpus articles, {len(bases)} bases, {len(copies):,} copies "
              f"({', '.join(KINDS)}; {', '.join(EXTRA)} apart)")  # fmt: skip
        print("\nthreshold  precision  recall   " + "  ".join(f"{k:>9}" for k in (*KINDS, *EXTRA))
              + "  hard negatives merged")  # fmt: skip
        left_out: set[frozenset] = set()
        for threshold in THRESHOLDS:
            true_pairs = found_pairs = wrong = 0
            recall_by_kind = defaultdict(lambda: [0, 0])
            for base in bases:
                group = [base["id"]] + [f"{base['id']}~{k}" for k in KINDS]
                for i, a in enumerate(group):
                    for b in group[i + 1 :]:
                        true_pairs += 1
                        hit = found[a].get(b, 0) >= threshold or found[b].get(a, 0) >= threshold
                        found_pairs += hit
                for kind in (*KINDS, *EXTRA):
                    copy_id = f"{base['id']}~{kind}"
                    recall_by_kind[kind][0] += found[base["id"]].get(copy_id, 0) >= threshold
                    recall_by_kind[kind][1] += 1
            predicted: set[frozenset] = set()
            for a in dev_ids:
                for b, similarity in found[a].items():
                    if similarity >= threshold:
                        predicted.add(frozenset((a, b)))
            for pair in predicted:
                a, b = tuple(pair)
                if group_of.get(a) is not None and group_of.get(a) == group_of.get(b):
                    continue
                if group_of.get(a) != group_of.get(b) and exact(a, b) >= 0.2:
                    left_out.add(pair)  # the corpus's own copies (or copies of them)
                    continue
                wrong += 1
            right = len([p for p in predicted if len({group_of.get(x) for x in p}) == 1
                         and None not in {group_of.get(x) for x in p}])  # fmt: skip
            precision = right / (right + wrong) if right + wrong else 1.0
            hard_pairs = [(b, n) for b, ns in neighbours.items() for n in ns if exact(b, n) < 0.2]
            hard = sum(found[b].get(n, 0) >= threshold for b, n in hard_pairs)
            hard_total = len(hard_pairs)
            marker = " <- default" if threshold == DEFAULT_SIMILARITY else ""
            print(
                f"{threshold:9.2f}  {precision:9.4f}  {found_pairs / true_pairs:6.4f}   "
                + "  ".join(f"{recall_by_kind[k][0] / recall_by_kind[k][1]:9.3f}"
                            for k in (*KINDS, *EXTRA))
                + f"  {hard}/{hard_total}{marker}"
            )  # fmt: skip
        print(f"\npairs left out as the corpus's own copies (>= 20% shared shingles): "
              f"{len(left_out)}")  # fmt: skip
        missed = merged = pages = 0
        for base in bases:
            results = ix.search(base["title"], limit=10, collapse=True, snippets=False)
            pages += 1
            shown = [group_of.get(h.id) for h in results]
            members = [g for g in shown if g is not None]
            missed += len(members) != len(set(members))
            for hit in results:
                group = [hit.id] + [copy.id for copy in hit.duplicates or ()]
                for copy in group[1:]:
                    # A false merge: no member of the group is this article's copy
                    # (neither of one dev group nor sharing 20% of their shingles).
                    linked = any(
                        (group_of.get(copy) is not None and group_of.get(copy) == group_of.get(m))
                        or exact(copy, m) >= 0.2
                        for m in group
                        if m != copy
                    )
                    if not linked:
                        merged += 1
                        if args.verbose:
                            print(f"  {hit.id} stands for {copy}")
        print(f"\nsearch, collapse=True, each base's title, top 10 ({pages} pages): "
              f"{missed} pages show two articles of one group, {merged} hits stand for "
              "an article of another story")  # fmt: skip


if __name__ == "__main__":
    main()
