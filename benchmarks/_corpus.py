"""Loading benchmark corpora: JSON Lines articles, or the ``.txt`` files of a folder."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "seeds"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus" / "indosum-news.jsonl"


def load_articles(path: str | Path, limit: int | None = None) -> list[dict]:
    """Articles as dicts with id, title, body (and whatever else the file has)."""
    path = Path(path)
    articles: list[dict] = []
    if path.is_dir():
        from searchlib.ingest import parse_article_text

        for number, file in enumerate(sorted(path.glob("*.txt"))):
            record = parse_article_text(file.read_text("utf-8"))
            record["id"] = file.stem or str(number)
            articles.append(record)
    else:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if line.strip():
                    record = json.loads(line)
                    record.setdefault("id", str(number))
                    articles.append(record)
                if limit and len(articles) >= limit:
                    break
    return articles[:limit] if limit else articles
