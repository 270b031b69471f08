"""Classifier versions: register a trained file, keep the active one loaded, suggest a category,
and retrain from closed cases."""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from sizhi.insight.classifier import (
    Metrics,
    ModelFormatError,
    Prediction,
    ProgressFn,
    TrainedClassifier,
    TrainingDataError,
    sidecar_path,
    train,
)
from sizhi.insight.models import ClassifierModel, ClassifierSource, models_dir

logger = logging.getLogger("sizhi.insight")

MIN_CASES = 20
MIN_CASES_TO_REGISTER = 50
# A weekly model may be this much worse on its own hold-out than the one in use and still
# replace it: hold-out estimates on a few hundred cases move by about this much by chance.
MAX_F1_DROP = 0.02
# The most recently closed cases only: training stays within minutes on a megacity's history
# and follows how dispatchers label today.
MAX_TRAINING_CASES = 50_000


# --- registration ------------------------------------------------------------------------------

def _stored_name(path: Path, version: int) -> str:
    """The file's name relative to the models folder; a file elsewhere is copied in (with its
    JSON sidecar) so the row never points at a file someone may move or delete."""
    root = models_dir().resolve()
    resolved = path.resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"classifier-v{version:04d}{path.suffix or '.joblib'}"
    shutil.copyfile(resolved, target)
    if sidecar_path(resolved).exists():
        shutil.copyfile(sidecar_path(resolved), sidecar_path(target))
    return target.name


def classifier_register(
    *, path: str | Path, metrics: Metrics | None = None, source: str, activate: bool = True
) -> ClassifierModel:
    """Record a trained model file as the next version. The file is loaded first, so a broken
    or incompatible file is refused before any row is written. `metrics` defaults to the
    hold-out figures stored in the file."""
    if source not in ClassifierSource.values:
        raise ValueError(f"source must be one of {ClassifierSource.values}")
    path = Path(path)
    model = TrainedClassifier.load(path)
    metrics = metrics or model.holdout
    with transaction.atomic():
        version = (ClassifierModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        if activate:
            ClassifierModel.objects.filter(is_active=True).update(is_active=False)
        row = ClassifierModel.objects.create(
            version=version,
            file=_stored_name(path, version),
            n_train=int(model.meta["n_train"]),
            accuracy=metrics.accuracy if metrics else None,
            macro_f1=metrics.macro_f1 if metrics else None,
            labels=model.labels,
            is_active=activate,
            source=source,
        )
    return row


# --- the active model --------------------------------------------------------------------------

_lock = threading.Lock()
# Keyed by version and resolved file path: a version number alone could be reused by a fresh
# database (tests, a restored backup) with a different file behind it.
_loaded: tuple[tuple[int, str], TrainedClassifier] | None = None


def active_classifier() -> TrainedClassifier | None:
    """The active version, loaded once per process. Each call asks the database which version
    is active (one indexed query), so a new activation reaches every worker on its next call."""
    global _loaded
    row = ClassifierModel.objects.filter(is_active=True).values_list("version", "file").first()
    if row is None:
        return None
    path = models_dir() / row[1]
    key = (row[0], str(path))
    cached = _loaded
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        if _loaded is None or _loaded[0] != key:
            _loaded = (key, TrainedClassifier.load(path))
        return _loaded[1]


def suggest_category(*, title: str, detail: str) -> Prediction | None:
    """The active model's guess, or None when there is no usable model. A suggestion is
    advice: a missing or unreadable file is logged and must not stop a report being filed."""
    try:
        model = active_classifier()
    except (OSError, ModelFormatError) as exc:
        logger.warning("classifier unavailable: %s", exc)
        return None
    if model is None or not (title or detail):
        return None
    return model.predict(title, detail)


# --- training from cases -----------------------------------------------------------------------

def _top_level_codes() -> dict[int, str]:
    """Category id → code of its top-level ancestor (itself when it has no parent)."""
    from sizhi.cases.models import Category

    parents = dict(Category.objects.values_list("id", "parent_id"))
    codes = dict(Category.objects.values_list("id", "code"))
    out: dict[int, str] = {}
    for cid in parents:
        root, seen = cid, {cid}
        while parents.get(root) is not None and parents[root] not in seen:
            root = parents[root]
            seen.add(root)
        out[cid] = codes[root]
    return out


def closed_case_rows() -> tuple[list[str], list[str], list[str]]:
    """(titles, descriptions, top-level category codes) of the most recently closed cases."""
    from sizhi.cases.models import Case
    from sizhi.cases.workflow import CaseStatus

    top = _top_level_codes()
    rows = (
        Case.objects.filter(status=CaseStatus.CLOSED, category__isnull=False)
        .order_by("-closed_at", "-id")
        .values_list("title", "description", "category_id")[:MAX_TRAINING_CASES]
    )
    titles: list[str] = []
    details: list[str] = []
    labels: list[str] = []
    for title, description, category_id in rows.iterator(chunk_size=2000):
        titles.append(title)
        details.append(description)
        labels.append(top[category_id])
    return titles, details, labels


def train_from_cases(out_path: str | Path, *, progress: ProgressFn | None = None) -> TrainedClassifier:
    """Train on closed cases, labelled by their top-level category, and save to `out_path`."""
    titles, details, labels = closed_case_rows()
    if len(labels) < MIN_CASES:
        raise TrainingDataError(
            f"有类别的已结案件只有 {len(labels)} 件，至少需要 {MIN_CASES} 件才能训练"
        )
    distinct = len(set(labels))
    if distinct < 2:
        raise TrainingDataError(
            f"已结案件只涉及 {distinct} 个一级类别，至少需要 2 个才能训练"
        )
    model = train(titles, details, labels, source=ClassifierSource.CASES, progress=progress)
    model.save(out_path)
    return model


@dataclass(frozen=True)
class RetrainOutcome:
    registered: ClassifierModel | None
    reason: str


def classifier_retrain_from_cases() -> RetrainOutcome:
    """The weekly job: train on closed cases and activate the result only when there were
    enough cases and its hold-out macro-F1 is not clearly worse than the active version's."""
    active = ClassifierModel.objects.filter(is_active=True).first()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    out = models_dir() / f"cases-{stamp}.joblib"
    try:
        model = train_from_cases(out)
    except TrainingDataError as exc:
        return RetrainOutcome(None, str(exc))
    n = int(model.meta["n_train"])
    holdout = model.holdout
    reason = ""
    if n < MIN_CASES_TO_REGISTER:
        reason = f"{n} cases, fewer than {MIN_CASES_TO_REGISTER}: not registered"
    elif holdout is None:
        reason = "no hold-out estimate: not registered"
    elif active is not None and active.macro_f1 is not None and holdout.macro_f1 < active.macro_f1 - MAX_F1_DROP:
        reason = (
            f"hold-out macro-F1 {holdout.macro_f1:.4f} is more than {MAX_F1_DROP} below "
            f"v{active.version}'s {active.macro_f1:.4f}: not registered"
        )
    if reason:
        out.unlink(missing_ok=True)
        sidecar_path(out).unlink(missing_ok=True)
        return RetrainOutcome(None, reason)
    row = classifier_register(path=out, metrics=holdout, source=ClassifierSource.CASES)
    return RetrainOutcome(row, f"registered v{row.version} ({n} cases, {holdout.line() if holdout else ''})")
