"""Category classifier: cross-validated quality, training time and prediction latency.

    .venv/bin/python bench/classifier_cv.py [--folds 5] [--seed 0] [--no-titles] [--calls 1000]

Reads ../shared/data/teddycup2020/ (beside the project, never inside it) and measures in one run:

- 5-fold stratified CV on messages_labelled.csv: per-fold and mean ± sd macro-F1 and accuracy.
  titles_labelled.csv rows join the TRAINING folds only; a title row equal (ignoring spaces and
  punctuation) to the title of a message in the evaluation fold is left out of that fold's
  training, so no evaluated message is trained on under its own title.
  Caveat printed with the figures: 1,989 messages have an empty title, and titles_labelled.csv
  appears to hold the titles of the same original messages (it contains 1,717 of the 1,661
  non-empty ones), so those messages' own titles cannot be recognised and stay in training.
  The F1 on titled messages alone is the estimate free of that effect.
- training time of `train()` as production runs it (hold-out probe + refit) on every message
  and title (~12,000 rows);
- latency of `TrainedClassifier.predict()`, one call per message, median and p99;
- the floor from docs/PERFORMANCE.md in the same run: char 1–3-gram TF-IDF + LinearSVC fitted
  on 10,000 rows and predicting one at a time.

The last line is the ratio to the floor.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sizhi.insight.classifier import (  # noqa: E402 - after the path set-up above
    LabelledRows,
    read_labelled_csv,
    score,
    train,
)

DATA = ROOT.parent / "shared" / "data" / "teddycup2020"
_NOT_WORD = re.compile(r"[\W_]+")


def key(title: str) -> str:
    return _NOT_WORD.sub("", title).lower()


def pick(rows: LabelledRows, idx: list[int] | np.ndarray) -> LabelledRows:
    return LabelledRows(
        titles=[rows.titles[i] for i in idx],
        details=[rows.details[i] for i in idx],
        labels=[rows.labels[i] for i in idx],
    )


def cross_validate(messages: LabelledRows, titles: LabelledRows | None, folds: int, seed: int) -> None:
    from sklearn.model_selection import StratifiedKFold

    y = np.array(messages.labels)
    titled = np.array([bool(t) for t in messages.titles])
    predicted = np.empty(len(y), dtype=object)
    results = []
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    for k, (tr, te) in enumerate(split, 1):
        fold = pick(messages, tr)
        if titles is not None:
            held = {key(messages.titles[i]) for i in te if messages.titles[i]}
            fold.extend(pick(titles, [i for i, t in enumerate(titles.titles) if key(t) not in held]))
        started = time.perf_counter()
        model = train(fold.titles, fold.details, fold.labels, holdout=0)
        fit = time.perf_counter() - started
        test = pick(messages, te)
        predicted[te] = model.predict_labels(test.titles, test.details)
        m = score(test.labels, list(predicted[te]))
        results.append((m.macro_f1, m.accuracy))
        print(f"fold {k}: macro_f1={m.macro_f1:.4f} accuracy={m.accuracy:.4f} "
              f"n_test={m.n} n_train={len(fold)} fit={fit:.1f}s", flush=True)
    f1s, accs = [r[0] for r in results], [r[1] for r in results]
    print(f"CV mean: macro_f1={statistics.mean(f1s):.4f} ± {statistics.stdev(f1s):.4f}  "
          f"accuracy={statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f}")
    for name, mask in (("titled messages", titled), ("untitled messages", ~titled)):
        m = score(list(y[mask]), list(predicted[mask]))
        print(f"  pooled on {name} ({m.n}): macro_f1={m.macro_f1:.4f} accuracy={m.accuracy:.4f}")


def latency(predict: object, messages: LabelledRows, calls: int) -> tuple[float, float]:
    """Median and p99 in milliseconds of `calls` single-message predictions."""
    times = []
    for i in range(calls):
        j = i % len(messages)
        started = time.perf_counter()
        predict(messages.titles[j], messages.details[j])  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), float(np.percentile(times, 99))


def floor(messages: LabelledRows, titles: LabelledRows, calls: int) -> tuple[float, int, float, float]:
    """docs/PERFORMANCE.md: char 1–3-gram TF-IDF + LinearSVC, 10,000 rows, one prediction at a time."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    texts = [f"{t} {d}" for t, d in zip(messages.titles + titles.titles, messages.details + titles.details,
                                         strict=True)]
    labels = messages.labels + titles.labels
    order = np.random.default_rng(0).permutation(len(texts))[:10_000]
    started = time.perf_counter()
    pipe = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LinearSVC())
    pipe.fit([texts[i] for i in order], [labels[i] for i in order])
    fit = time.perf_counter() - started
    median, p99 = latency(lambda t, d: pipe.predict([f"{t} {d}"]), messages, calls)
    return fit, len(order), median, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-titles", action="store_true", help="train on messages only")
    parser.add_argument("--calls", type=int, default=1000, help="single predictions timed")
    parser.add_argument("--skip-cv", action="store_true")
    args = parser.parse_args()
    if not (args.data / "messages_labelled.csv").exists():
        sys.exit(f"skipped: {args.data / 'messages_labelled.csv'} not found (the shared evaluation data)")

    messages = read_labelled_csv(args.data / "messages_labelled.csv")
    titles = read_labelled_csv(args.data / "titles_labelled.csv")
    print(f"messages: {len(messages)}, titles: {len(titles)}, labels: {len(set(messages.labels))}")
    if not args.skip_cv:
        cross_validate(messages, None if args.no_titles else titles, args.folds, args.seed)

    everything = LabelledRows()
    everything.extend(messages)
    everything.extend(titles)
    started = time.perf_counter()
    model = train(everything.titles, everything.details, everything.labels)
    fit = time.perf_counter() - started
    print(f"train() on {len(everything)} rows (hold-out probe + refit): {fit:.1f} s; "
          f"hold-out {model.holdout.line() if model.holdout else '-'}")
    model.predict(messages.titles[0], messages.details[0])  # jieba and caches are warm in a server
    med, p99 = latency(model.predict, messages, args.calls)
    print(f"predict(): median {med:.2f} ms, p99 {p99:.2f} ms over {args.calls} single calls")

    f_fit, f_n, f_med, f_p99 = floor(messages, titles, args.calls)
    print(f"floor (char 1-3 TF-IDF + LinearSVC): fit {f_n} rows {f_fit:.1f} s; "
          f"predict median {f_med:.2f} ms, p99 {f_p99:.2f} ms")
    per_k = (fit / len(everything)) / (f_fit / f_n)
    print(f"ratio to floor: training per row {per_k:.2f}x, predict median {med / f_med:.2f}x, p99 {p99 / f_p99:.2f}x")


if __name__ == "__main__":
    main()
