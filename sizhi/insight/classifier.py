"""Category classifier for citizen reports: TF-IDF features and a linear model.

Input is a report's title and detail (either may be empty). Features are character 1–3-grams
of the normalised text, where the title is repeated so that its few words weigh like a
paragraph, plus jieba word unigrams; a LinearSVC ranks the labels. A linear SVM has no
probabilities, so the decision values go through a softmax whose temperature is fitted on a
stratified hold-out at training time: the confidence is then calibrated on data the model did
not see, and top-k alternatives come for free.

Nothing here needs Django, the network or a model download: jieba's bundled dictionary is the
only resource (loaded once per process by textsim, its cache in the temp folder).

Model files are pickles (joblib). Loading a pickle runs code, so only load files this system
wrote itself; never load an uploaded file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import platform
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from sizhi.insight import textsim

# Bump when the saved layout or the meaning of the features changes: an old file must be
# retrained, not silently misread.
FORMAT_VERSION = 1
TOP_K = 3
# Long pasted essays add latency but no signal beyond their first paragraphs.
MAX_DETAIL_CHARS = 2000

ProgressFn = Callable[[str], None]


class ClassifierError(Exception):
    """Base for errors a caller should show to a person as is."""


class ModelFormatError(ClassifierError):
    """The file is not a model this version can use (format or library version differs)."""


class TrainingDataError(ClassifierError):
    """The training data cannot produce a model (too few rows or labels)."""


class CsvRowsRejected(ClassifierError):
    """Some CSV rows are unusable; `errors` names each by its line number."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}：{len(errors)} 行有问题\n" + "\n".join(errors))


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    # The best TOP_K labels with their confidences, best first (the first is `label`).
    alternatives: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class ClassifierConfig:
    """The tuned configuration (see bench/classifier_cv.py and docs/benchmarks.md)."""

    char_ngrams: tuple[int, int] = (1, 3)
    word_ngrams: tuple[int, int] | None = (1, 1)
    title_repeat: int = 2
    # An n-gram seen in one text only cannot generalise; dropping them shrinks the model about
    # threefold and halves training time at the same CV macro-F1.
    min_df: int = 2
    C: float = 1.0
    # Macro-F1 weighs the rare labels (交通运输 is a fifteenth of the data) like the common ones.
    class_weight: str | None = "balanced"


@dataclass
class Metrics:
    accuracy: float
    macro_f1: float
    n: int

    def line(self) -> str:
        return f"macro_f1={self.macro_f1:.4f} accuracy={self.accuracy:.4f} n={self.n}"


# --- text --------------------------------------------------------------------------------------

def compose(title: str, detail: str, *, title_repeat: int) -> str:
    """One string per report. Lower case on top of the shared normalisation (NFKC, so
    'ＡＢＣ１２３' and 'abc123' give the same n-grams); the detail is capped so that a pasted
    essay cannot blow the latency budget."""
    title = textsim.normalise(title).lower()
    detail = textsim.normalise(detail).lower()[:MAX_DETAIL_CHARS]
    return " ".join([title] * title_repeat + [detail]).strip()


def word_tokens(text: str) -> list[str]:
    """jieba words, cut inside runs of letters and digits so punctuation never joins two.
    A module-level function so that a pickled vectorizer refers to it by name. Saved models
    call it at prediction time: a change to how textsim cuts text needs FORMAT_VERSION bumped."""
    return textsim.cut(text)


# --- training ----------------------------------------------------------------------------------

def _build_features(config: ClassifierConfig) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    blocks: list[tuple[str, Any]] = [
        ("char", TfidfVectorizer(
            analyzer="char", ngram_range=config.char_ngrams, sublinear_tf=True, min_df=config.min_df,
            dtype=np.float32, lowercase=False,
        )),
    ]
    if config.word_ngrams:
        blocks.append(("word", TfidfVectorizer(
            tokenizer=word_tokens, token_pattern=None, lowercase=False, ngram_range=config.word_ngrams,
            sublinear_tf=True, min_df=config.min_df, dtype=np.float32,
        )))
    return FeatureUnion(blocks)


def _build_svm(config: ClassifierConfig) -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=config.C, class_weight=config.class_weight)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _linear_scores(svm: Any, X: Any) -> np.ndarray:
    """Decision values, one column per label. Computed directly rather than through
    decision_function, whose input checks cost as much as the product on one report."""
    scores = np.asarray(X @ svm.coef_.T + svm.intercept_, dtype=np.float64)
    if scores.shape[1] == 1:  # two labels: one column, the score of classes_[1]
        scores = np.column_stack([-scores[:, 0], scores[:, 0]]) / 2
    return scores


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature with the lowest log-loss on held-out scores. A one-parameter
    grid search cannot overfit a hold-out of a few hundred rows the way Platt scaling per
    class can."""
    best_t, best_loss = 1.0, math.inf
    for t in np.geomspace(0.02, 5.0, 60):
        p = _softmax(scores, float(t))[np.arange(len(truth)), truth]
        loss = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if loss < best_loss:
            best_t, best_loss = float(t), loss
    return best_t


def score(truth: Sequence[str], predicted: Sequence[str]) -> Metrics:
    from sklearn.metrics import accuracy_score, f1_score

    return Metrics(
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, average="macro", zero_division=0)),
        n=len(truth),
    )


def _holdout_split(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]] | None:
    """Stratified when every label has two rows; a plain random split otherwise; None when the
    data is too small for a hold-out to mean anything."""
    from sklearn.model_selection import train_test_split

    n = len(labels)
    n_test = round(n * fraction)
    if fraction <= 0 or n_test < 2 or n - n_test < 2:
        return None
    counts = Counter(labels)
    stratify = list(labels) if min(counts.values()) >= 2 and n_test >= len(counts) else None
    train_idx, test_idx = train_test_split(
        list(range(n)), test_size=n_test, random_state=seed, stratify=stratify
    )
    if len({labels[i] for i in train_idx}) < 2:
        return None
    return list(train_idx), list(test_idx)


def train(
    texts_titles: Sequence[str],
    texts_details: Sequence[str],
    labels: Sequence[str],
    *,
    config: ClassifierConfig | None = None,
    holdout: float = 0.1,
    seed: int = 0,
    source: str = "csv",
    progress: ProgressFn | None = None,
) -> TrainedClassifier:
    """Fit a classifier. With `holdout` > 0 a stratified share is fitted without first, to
    estimate accuracy and macro-F1 and to fit the confidence temperature; the returned model
    is then refitted on every row."""
    config = config or ClassifierConfig()
    say = progress or (lambda _msg: None)
    if not (len(texts_titles) == len(texts_details) == len(labels)):
        raise ValueError("titles, details and labels must have the same length")
    texts = [compose(t, d, title_repeat=config.title_repeat) for t, d in zip(texts_titles, texts_details, strict=True)]
    keep = [i for i, text in enumerate(texts) if text]
    texts = [texts[i] for i in keep]
    y = [str(labels[i]).strip() for i in keep]
    label_set = sorted(set(y))
    if len(label_set) < 2:
        raise TrainingDataError(f"至少需要 2 个不同的类别，只有 {len(label_set)} 个")
    started = time.perf_counter()

    from sklearn.pipeline import Pipeline

    # The vocabulary and IDF are fitted once on every row and only the SVM is fitted twice
    # (probe without the hold-out, then on all rows): vectorising is most of the training time.
    # The hold-out rows thus shape the IDF weights, which does not inform the SVM of their labels.
    say(f"vectorising {len(texts)} texts")
    features = _build_features(config)
    try:
        X = features.fit_transform(texts)
    except ValueError as exc:  # scikit-learn: "After pruning, no terms remain"
        raise TrainingDataError(f"文本太少或彼此毫无共同字词，无法训练：{exc}") from exc
    y_arr = np.array(y)
    holdout_metrics: Metrics | None = None
    temperature = 1.0
    split = _holdout_split(y, holdout, seed)
    if split is not None:
        train_idx, test_idx = split
        say(f"fitting on {len(train_idx)} rows, holding out {len(test_idx)}")
        probe = _build_svm(config).fit(X[train_idx], y_arr[train_idx])
        scores = _linear_scores(probe, X[test_idx])
        classes = [str(c) for c in probe.classes_]
        predicted = [classes[j] for j in scores.argmax(axis=1)]
        truth = [y[i] for i in test_idx]
        holdout_metrics = score(truth, predicted)
        say(f"hold-out {holdout_metrics.line()}")
        # Hold-out rows whose label the probe never saw cannot inform the temperature.
        seen = [k for k, label in enumerate(truth) if label in classes]
        if seen:
            temperature = _fit_temperature(scores[seen], np.array([classes.index(truth[k]) for k in seen]))
    say(f"fitting on all {len(texts)} rows")
    pipeline = Pipeline([("features", features), ("svm", _build_svm(config).fit(X, y_arr))])
    elapsed = time.perf_counter() - started
    say(f"trained in {elapsed:.1f} s")
    meta = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": [str(c) for c in pipeline.classes_],
        "label_counts": dict(sorted(Counter(y).items())),
        "n_train": len(texts),
        "source": source,
        "holdout": asdict(holdout_metrics) if holdout_metrics else None,
        "temperature": temperature,
        "config": asdict(config),
        "train_seconds": round(elapsed, 2),
        "libraries": _library_versions(),
    }
    return TrainedClassifier(pipeline=pipeline, meta=meta)


def _library_versions() -> dict[str, str]:
    import jieba
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
        "jieba": jieba.__version__,
    }


# --- the trained model -------------------------------------------------------------------------

class TrainedClassifier:
    def __init__(self, *, pipeline: Any, meta: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.meta = meta
        self.labels: list[str] = list(meta["labels"])
        self.temperature = float(meta.get("temperature") or 1.0)
        self.title_repeat = int(meta["config"]["title_repeat"])

    @property
    def holdout(self) -> Metrics | None:
        data = self.meta.get("holdout")
        return Metrics(**data) if data else None

    def _scores(self, titles: Sequence[str], details: Sequence[str]) -> np.ndarray:
        """Each vectoriser is applied directly: Pipeline and FeatureUnion add about a
        millisecond of bookkeeping per call, as much as the arithmetic itself on one report."""
        import scipy.sparse as sp

        texts = [compose(t, d, title_repeat=self.title_repeat) for t, d in zip(titles, details, strict=True)]
        blocks = [vectorizer.transform(texts) for _name, vectorizer in self.pipeline["features"].transformer_list]
        return _linear_scores(self.pipeline["svm"], sp.hstack(blocks, format="csr"))

    def predict(self, title: str, detail: str) -> Prediction:
        return self.predict_many([title], [detail])[0]

    def predict_many(self, titles: Sequence[str], details: Sequence[str]) -> list[Prediction]:
        if not titles:
            return []
        probs = _softmax(self._scores(titles, details), self.temperature)
        out = []
        for row in probs:
            order = np.argsort(-row)[:TOP_K]
            top = [(self.labels[j], round(float(row[j]), 4)) for j in order]
            out.append(Prediction(label=top[0][0], confidence=top[0][1], alternatives=top))
        return out

    def predict_labels(self, titles: Sequence[str], details: Sequence[str]) -> list[str]:
        if not titles:
            return []
        return [self.labels[j] for j in self._scores(titles, details).argmax(axis=1)]

    def evaluate(self, titles: Sequence[str], details: Sequence[str], labels: Sequence[str]) -> Metrics:
        return score([str(x).strip() for x in labels], self.predict_labels(titles, details))

    # The pipeline is pickled into bytes inside an outer dict of plain types, so load() can check
    # the format and library versions before unpickling any scikit-learn object.
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = pickle.dumps(self.pipeline, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump({"format_version": FORMAT_VERSION, "meta": self.meta, "pipeline": payload}, tmp, compress=3)
        tmp.replace(path)  # a reader never sees half a file
        sidecar_path(path).write_text(json.dumps(self.meta, ensure_ascii=False, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainedClassifier:
        path = Path(path)
        try:
            box = joblib.load(path)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise ModelFormatError(f"{path} 不是四治的分类模型文件（{type(exc).__name__}）") from exc
        if not isinstance(box, dict) or "format_version" not in box:
            raise ModelFormatError(f"{path} 不是四治的分类模型文件")
        if box["format_version"] != FORMAT_VERSION:
            raise ModelFormatError(
                f"{path} 的模型格式版本是 {box['format_version']}，本程序只读版本 {FORMAT_VERSION}："
                "请用 `sizhi classifier train` 重新训练"
            )
        meta = box["meta"]
        import sklearn

        saved = meta.get("libraries", {}).get("scikit-learn")
        if saved != sklearn.__version__:
            raise ModelFormatError(
                f"{path} 由 scikit-learn {saved} 训练，本机安装的是 {sklearn.__version__}："
                "请用 `sizhi classifier train` 重新训练"
            )
        pipeline = pickle.loads(box["pipeline"])  # noqa: S301 - our own file, versions checked above
        return cls(pipeline=pipeline, meta=meta)


def save(model: TrainedClassifier, path: str | Path) -> Path:
    return model.save(path)


def load(path: str | Path) -> TrainedClassifier:
    return TrainedClassifier.load(path)


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


# --- CSV ---------------------------------------------------------------------------------------

@dataclass
class LabelledRows:
    titles: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def extend(self, other: LabelledRows) -> None:
        self.titles += other.titles
        self.details += other.details
        self.labels += other.labels


def _decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) first; Chinese spreadsheets often export GBK, whose
    superset GB18030 decodes every GBK file."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_labelled_csv(path: str | Path) -> LabelledRows:
    """Rows of (title, detail, label). A `label` column and at least one of `title` and
    `detail` are required; other columns are ignored. Every bad row is reported with its
    line number and nothing is returned unless all rows are good."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_decode(path.read_bytes()), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvRowsRejected(str(path), ["第 1 行：文件是空的"]) from None
    if "label" not in header or not ({"title", "detail"} & set(header)):
        raise CsvRowsRejected(str(path), [
            f"第 1 行：需要 label 列，以及 title、detail 至少一列；实际表头为 {header}"
        ])
    col = {name: header.index(name) for name in ("title", "detail", "label") if name in header}
    rows = LabelledRows()
    errors: list[str] = []
    line = reader.line_num + 1
    for record in reader:
        start, line = line, reader.line_num + 1  # a quoted field may span lines: report where the row starts
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append(f"第 {start} 行：有 {len(record)} 列，表头有 {len(header)} 列")
            continue
        title = record[col["title"]].strip() if "title" in col else ""
        detail = record[col["detail"]].strip() if "detail" in col else ""
        label = record[col["label"]].strip()
        if not label:
            errors.append(f"第 {start} 行：label 为空")
        elif not title and not detail:
            errors.append(f"第 {start} 行：title 和 detail 都是空的")
        else:
            rows.titles.append(title)
            rows.details.append(detail)
            rows.labels.append(label)
    if errors:
        raise CsvRowsRejected(str(path), errors)
    return rows


def read_many(paths: Iterable[str | Path]) -> LabelledRows:
    """All files' rows; every file is checked, so one run reports every bad row."""
    paths = list(paths)
    out = LabelledRows()
    errors: list[str] = []
    for p in paths:
        try:
            out.extend(read_labelled_csv(p))
        except CsvRowsRejected as exc:
            errors += [f"{exc.path} {e}" for e in exc.errors]
    if errors:
        raise CsvRowsRejected("、".join(str(p) for p in paths), errors)
    return out
