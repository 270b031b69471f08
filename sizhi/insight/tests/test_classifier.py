"""The category classifier: training, evaluation, files, the command, versions and cases."""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path

import joblib
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseStatus
from sizhi.insight import services
from sizhi.insight.classifier import (
    FORMAT_VERSION,
    CsvRowsRejected,
    ModelFormatError,
    TrainedClassifier,
    TrainingDataError,
    compose,
    read_labelled_csv,
    train,
)
from sizhi.insight.models import ClassifierModel

# Evaluation data lives beside the project, never inside it (see ../shared/data/README.md).
PROJECT_ROOT = Path(__file__).resolve().parents[3]
MESSAGES = PROJECT_ROOT.parent / "shared" / "data" / "teddycup2020" / "messages_labelled.csv"
needs_messages = pytest.mark.skipif(
    not MESSAGES.exists(), reason=f"shared evaluation data not found at {MESSAGES}"
)
LAST_LINE = re.compile(r"^macro_f1=\d\.\d{4} accuracy=\d\.\d{4} n=\d+$")

# Made-up reports with a few telling words per subject, enough for a linear model to separate.
SUBJECTS = {
    "roads": ["路面坑洼破损", "道路塌陷有大坑", "路灯不亮晚上很黑", "桥面裂缝需要维修", "人行道砖块松动"],
    "sanitation": ["垃圾堆放没人清运", "垃圾桶满了发臭", "公厕脏乱无人打扫", "楼道堆满生活垃圾", "死老鼠没人处理"],
    "water": ["小区停水三天", "下水道堵塞污水外溢", "自来水浑浊发黄", "暴雨后路口积水严重", "水管爆裂漏水"],
}
PLACES = ["金业路", "周公庙", "唐宫路", "西关街道", "王城路", "中州路", "九都路", "七里河"]


def synthetic(n_per_label: int, seed: int = 1, labels: tuple[str, ...] = ("roads", "sanitation", "water")):
    rng = random.Random(seed)
    titles, details, out = [], [], []
    for label in labels:
        for _ in range(n_per_label):
            phrase = rng.choice(SUBJECTS[label])
            place = rng.choice(PLACES)
            titles.append(f"{place}{phrase}")
            details.append(f"{place}附近{phrase}，{rng.choice(SUBJECTS[label])}，请尽快处理。")
            out.append(label)
    return titles, details, out


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def synthetic_csv(path: Path, n_per_label: int, seed: int = 1) -> Path:
    titles, details, labels = synthetic(n_per_label, seed=seed)
    return write_csv(path, ["title", "detail", "label"], [list(r) for r in zip(titles, details, labels, strict=True)])


def real_slices(n_train: int, n_test: int) -> tuple[list[list[str]], list[list[str]]]:
    """Every k-th message for training and the ones after them for testing: disjoint, spread
    over the whole file and every label, the same on every run."""
    with MESSAGES.open(encoding="utf-8-sig", newline="") as f:
        rows = [[r["title"], r["detail"], r["label"]] for r in csv.DictReader(f)]
    step = len(rows) // n_train
    train_rows = rows[::step][:n_train]
    test_rows = rows[1::step][:n_test]
    return train_rows, test_rows


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("classifier", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def small_model() -> TrainedClassifier:
    return train(*synthetic(20))


@pytest.fixture(autouse=True)
def _models_in_tmp(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path / "data"


# --- training and prediction -------------------------------------------------------------------

def test_predict_gives_label_confidence_and_top_three(small_model):
    p = small_model.predict("中州路垃圾没人清运", "")
    assert p.label == "sanitation"
    assert 0 < p.confidence <= 1
    assert p.alternatives[0][0] == p.label
    assert len(p.alternatives) == 3
    assert sum(c for _, c in p.alternatives) == pytest.approx(1, abs=0.01)
    assert [c for _, c in p.alternatives] == sorted((c for _, c in p.alternatives), reverse=True)


def test_title_or_detail_may_be_empty(small_model):
    assert small_model.predict("", "小区停水三天了").label == "water"
    assert small_model.predict("路面坑洼破损", "").label == "roads"


def test_holdout_metrics_and_metadata_are_recorded(small_model):
    meta = small_model.meta
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["labels"] == ["roads", "sanitation", "water"]
    assert meta["n_train"] == 60
    assert meta["holdout"]["n"] == 6
    assert 0 <= meta["holdout"]["macro_f1"] <= 1
    assert {"scikit-learn", "numpy", "scipy", "jieba", "joblib", "python"} <= set(meta["libraries"])


def test_direct_scores_match_the_stored_pipeline(small_model):
    titles, details, _ = synthetic(5, seed=9)
    texts = [compose(t, d, title_repeat=2) for t, d in zip(titles, details, strict=True)]
    assert small_model.predict_labels(titles, details) == list(small_model.pipeline.predict(texts))
    np.testing.assert_allclose(
        small_model._scores(titles, details), small_model.pipeline.decision_function(texts), rtol=1e-5, atol=1e-6
    )


def test_two_labels_give_two_alternatives():
    model = train(*synthetic(10, labels=("roads", "water")))
    p = model.predict("停水", "小区停水三天")
    assert p.label == "water"
    assert [label for label, _ in p.alternatives] == ["water", "roads"]
    assert p.confidence > 0.5


def test_training_refuses_a_single_label():
    with pytest.raises(TrainingDataError):
        train(["路面坑洼"] * 5, [""] * 5, ["roads"] * 5)


def test_training_refuses_texts_with_nothing_in_common():
    with pytest.raises(TrainingDataError, match="共同字词"):
        train(["甲", "乙"], ["", ""], ["a", "b"])


def test_save_load_round_trip_gives_identical_predictions(small_model, tmp_path):
    path = small_model.save(tmp_path / "m.joblib")
    assert (tmp_path / "m.joblib.json").exists()
    loaded = TrainedClassifier.load(path)
    titles, details, _ = synthetic(5, seed=7)
    assert loaded.predict_many(titles, details) == small_model.predict_many(titles, details)
    assert loaded.meta == small_model.meta


def test_load_refuses_another_format_version(small_model, tmp_path):
    path = small_model.save(tmp_path / "m.joblib")
    box = joblib.load(path)
    box["format_version"] = FORMAT_VERSION + 1
    joblib.dump(box, path)
    with pytest.raises(ModelFormatError, match="格式版本"):
        TrainedClassifier.load(path)


def test_load_refuses_a_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "junk.joblib"
    joblib.dump({"hello": 1}, path)
    with pytest.raises(ModelFormatError):
        TrainedClassifier.load(path)


# --- CSV ---------------------------------------------------------------------------------------

def test_bad_rows_are_reported_with_their_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "title,detail,label\n"
        "路面坑洼,\"第一行\n第二行\",roads\n"  # lines 2-3: one row over two lines
        "垃圾没人清运,,\n"  # line 4: no label
        ",,water\n"  # line 5: nothing to classify
        "停水,三天,water,extra\n"  # line 6: one field too many
        "停水,三天,water\n",
        encoding="utf-8",
    )
    with pytest.raises(CsvRowsRejected) as info:
        read_labelled_csv(path)
    assert [e.split("：")[0] for e in info.value.errors] == ["第 4 行", "第 5 行", "第 6 行"]


def test_train_command_reports_bad_rows_and_writes_nothing(tmp_path):
    path = write_csv(tmp_path / "bad.csv", ["title", "detail", "label"], [["路面坑洼", "", "roads"], ["", "", "x"]])
    with pytest.raises(CommandError, match="第 3 行"):
        run("train", "--data", str(path), "--out", str(tmp_path / "m.joblib"))
    assert not (tmp_path / "m.joblib").exists()


def test_titles_only_and_gbk_files_with_extra_columns_are_read(tmp_path):
    titles, details, labels = synthetic(4)
    only_titles = write_csv(
        tmp_path / "t.csv", ["title", "label"], [[t, y] for t, y in zip(titles, labels, strict=True)]
    )
    gbk = write_csv(
        tmp_path / "g.csv", ["id", "user", "title", "time", "detail", "label"],
        [[str(i), "U1", t, "2019/1/1", d, y] for i, (t, d, y) in enumerate(zip(titles, details, labels, strict=True))],
        encoding="gbk",
    )
    bom = tmp_path / "b.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + gbk.read_bytes().decode("gbk").encode("utf-8"))
    assert read_labelled_csv(only_titles).titles == titles
    assert read_labelled_csv(gbk).details == details
    assert read_labelled_csv(bom).labels == labels


# --- the command on real messages --------------------------------------------------------------

@needs_messages
def test_train_and_evaluate_round_trip_on_real_messages(tmp_path):
    train_rows, test_rows = real_slices(300, 150)
    train_csv = write_csv(tmp_path / "train.csv", ["title", "detail", "label"], train_rows)
    test_csv = write_csv(tmp_path / "test.csv", ["title", "detail", "label"], test_rows)
    model = tmp_path / "m.joblib"

    out, err = run("train", "--data", str(train_csv), "--out", str(model))
    assert "n=300 labels=7" in out
    assert "hold-out: macro_f1=" in out
    assert "[classifier]" in err

    out, _ = run("evaluate", "--model", str(model), "--data", str(test_csv))
    last = out.strip().splitlines()[-1]
    assert LAST_LINE.match(last), last
    f1 = float(last.split()[0].split("=")[1])
    # 300 messages are few for seven labels; far above chance (0.14) is what matters here.
    assert f1 > 0.6
    assert last.endswith("n=150")


def test_evaluate_last_line_format(tmp_path, small_model):
    model = small_model.save(tmp_path / "m.joblib")
    data = synthetic_csv(tmp_path / "e.csv", 3, seed=5)
    out, _ = run("evaluate", "--model", str(model), "--data", str(data))
    assert LAST_LINE.match(out.splitlines()[-1])
    assert out.splitlines()[-1].endswith("n=9")


# --- versions ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_suggest_category_is_none_without_a_model():
    assert services.active_classifier() is None
    assert services.suggest_category(title="路面坑洼", detail="") is None


@pytest.mark.django_db
def test_register_activates_one_version_and_suggest_uses_it(small_model, tmp_path, settings):
    path = small_model.save(tmp_path / "elsewhere" / "a.joblib")
    first = services.classifier_register(path=path, source="csv")
    assert first.version == 1 and first.is_active
    assert first.path.exists() and first.path.parent == Path(settings.DATA_DIR) / "models"
    assert first.macro_f1 == small_model.meta["holdout"]["macro_f1"]
    assert services.suggest_category(title="停水", detail="小区停水三天").label == "water"

    other = train(*synthetic(10, labels=("roads", "sanitation")))
    second = services.classifier_register(path=other.save(tmp_path / "b.joblib"), source="csv")
    first.refresh_from_db()
    assert second.version == 2 and second.is_active and not first.is_active
    assert ClassifierModel.objects.filter(is_active=True).count() == 1
    assert services.active_classifier().labels == ["roads", "sanitation"]  # reloaded


@pytest.mark.django_db
def test_suggest_category_survives_a_missing_file(small_model, tmp_path):
    row = services.classifier_register(path=small_model.save(tmp_path / "a.joblib"), source="csv")
    row.path.unlink()
    services._loaded = None
    assert services.suggest_category(title="停水", detail="") is None


@pytest.mark.django_db
def test_register_command_flag(tmp_path):
    data = synthetic_csv(tmp_path / "d.csv", 10)
    out, _ = run("train", "--data", str(data), "--out", str(tmp_path / "m.joblib"), "--register")
    assert "registered and activated version 1" in out
    assert ClassifierModel.objects.get().source == "csv"


# --- training from cases -----------------------------------------------------------------------

def make_closed_cases(world, n_per_label: int, labels: tuple[str, ...] = ("roads", "sanitation", "water")) -> None:
    """Closed cases filed under second-level categories: the label must be the top level."""
    child = {
        code: Category.objects.filter(parent__code=code).order_by("code").first() for code in labels
    }
    titles, details, ys = synthetic(n_per_label, seed=3, labels=labels)
    now = timezone.now()
    Case.objects.bulk_create([
        Case(
            number=f"T{i:05d}", tracking_code=f"track{i:05d}", title=t, description=d,
            category=child[y], status=CaseStatus.CLOSED, region=world.village_a1,
            region_code=world.village_a1.code, closed_at=now,
        )
        for i, (t, d, y) in enumerate(zip(titles, details, ys, strict=True))
    ])


def test_train_from_cases_labels_by_top_level_category(world, tmp_path):
    make_closed_cases(world, 10)
    Case.objects.filter(pk=Case.objects.first().pk).update(status=CaseStatus.HANDLING)  # open: left out
    model = services.train_from_cases(tmp_path / "cases.joblib")
    assert model.labels == ["roads", "sanitation", "water"]
    assert model.meta["n_train"] == 29
    assert model.meta["source"] == "cases"
    assert TrainedClassifier.load(tmp_path / "cases.joblib").predict("路灯不亮", "").label == "roads"


def test_train_from_cases_refuses_too_few_cases_or_labels(world, tmp_path):
    make_closed_cases(world, 5)
    with pytest.raises(TrainingDataError, match="至少需要 20 件"):
        services.train_from_cases(tmp_path / "m.joblib")
    Case.objects.all().delete()
    make_closed_cases(world, 25, labels=("roads",))
    with pytest.raises(TrainingDataError, match="至少需要 2 个"):
        services.train_from_cases(tmp_path / "m.joblib")


def test_train_from_cases_command(world, tmp_path):
    make_closed_cases(world, 8)
    out, _ = run("train", "--from-cases", "--out", str(tmp_path / "m.joblib"), "--register")
    assert "n=24 labels=3" in out
    assert ClassifierModel.objects.get().source == "cases"


def test_weekly_retrain_needs_fifty_cases(world):
    make_closed_cases(world, 10)
    outcome = services.classifier_retrain_from_cases()
    assert outcome.registered is None and "50" in outcome.reason
    assert not list((services.models_dir()).glob("*.joblib"))  # the rejected file is removed


def test_weekly_retrain_registers_a_good_model_and_keeps_a_much_better_one(world, small_model, tmp_path):
    make_closed_cases(world, 20)
    outcome = services.classifier_retrain_from_cases()
    assert outcome.registered is not None and outcome.registered.is_active

    ClassifierModel.objects.filter(pk=outcome.registered.pk).update(macro_f1=2.0)  # unbeatable
    again = services.classifier_retrain_from_cases()
    assert again.registered is None and "below" in again.reason
    assert ClassifierModel.objects.get(is_active=True).pk == outcome.registered.pk


def test_weekly_task_runs_the_retrain(world):
    from sizhi.insight.tasks import classifier_retrain_weekly

    make_closed_cases(world, 20)
    classifier_retrain_weekly.call_local()
    assert ClassifierModel.objects.filter(is_active=True, source="cases").exists()
