"""A Dict shared by every worker: word counts per document, merged by whoever asks.

    toolkit run examples/dict_counter.py

Each call of `count_words` runs in a worker process and writes its own key, so no two writers
touch the same entry (a Dict operation is atomic; a read-modify-write of one key is not).
"""

from collections import Counter

import toolkit

app = toolkit.App("dict-counter")
counts = toolkit.Dict.from_name("dict-counter-example", create_if_missing=True)

DOCUMENTS = {
    "a": "the quick brown fox jumps over the lazy dog",
    "b": "the dog barks and the fox runs",
    "c": "a lazy afternoon for the dog",
}


@app.function()
def count_words(doc_id: str, text: str) -> int:
    words = Counter(text.split())
    counts[doc_id] = words
    counts.put("first-done", doc_id, skip_if_exists=True)  # compare-and-set: one winner
    return sum(words.values())


@app.function()
def totals() -> dict[str, int]:
    merged: Counter[str] = Counter()
    for key, value in counts.items():
        if key != "first-done":
            merged.update(value)
    return dict(merged.most_common(3))


@app.local_entrypoint()
def main() -> None:
    counts.clear()
    words = list(count_words.starmap(DOCUMENTS.items()))
    print("words per document:", words)
    print("documents counted:", counts.len() - 1, "- first done:", counts["first-done"])
    print("top words:", totals.remote())
