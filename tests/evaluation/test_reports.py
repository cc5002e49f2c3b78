"""Report kinds through the real worker on small subsets of ../shared/data, checked against
the metrics module computed directly on the same embeddings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.core.files.base import ContentFile
from sklearn.model_selection import StratifiedKFold

from audit.models import AuditLog
from evaluation import metrics, protocols, services
from evaluation.datasets import enrolled_dataset, list_folder
from evaluation.models import EvaluationReport
from identities.models import Consent, EnrollmentImage, Identity
from recognition.models import FaceEmbedding
from recognition.pipeline.faces import embed_files
from recognition.pipeline.lfw import read_pairs, unique_images
from recognition.runtime import get_liveness_checker, get_pipeline, read_image_file
from tests.shared_data import LFW_DIR, ORL_DIR

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def wait_for(report: EvaluationReport, timeout_s: float = 240) -> EvaluationReport:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.is_finished:
            return report
        time.sleep(0.5)
    raise AssertionError(f"report #{report.pk} still {report.status} ({report.progress_message})")


def enroll_orl(people: dict[str, int], cohorts: dict[str, str] | None = None) -> dict[str, Identity]:
    """ORL subjects with `n` approved photos each, embedded here by the serving pipeline."""
    pipeline = get_pipeline()
    model = pipeline.embedder.model_info
    enrolled = {}
    for subject, n in people.items():
        identity = Identity.objects.create(display_name=f"ORL {subject}",
                                           attributes={"cohort": (cohorts or {}).get(subject, "")} if cohorts else {})
        consent = Consent.objects.create(identity=identity, given_by_name="x", purpose="test", wording_version="v1")
        paths = [str(ORL_DIR / subject / f"{k}.pgm") for k in range(1, n + 1)]
        result = embed_files(pipeline, paths, read_image_file, select="largest")
        assert not result.skipped
        for path, vector in zip(result.paths, result.embeddings):
            image = EnrollmentImage(identity=identity, consent=consent, sha256=path, status="approved")
            image.file.save("x", ContentFile(b"not used"), save=False)
            image.save()
            FaceEmbedding.objects.create(image=image, identity=identity, vector=vector, model_name=model.name,
                                         model_version=model.version, active=True)
        enrolled[subject] = identity
    return enrolled


def calibrated(embeddings: np.ndarray, model_version: str) -> np.ndarray:
    """Embeddings in the space scores are measured in (the serving weights' mean face subtracted)."""
    from recognition.selectors import scorer

    return scorer(model_version).project(embeddings)


def assert_plots(report: EvaluationReport, names: set[str]) -> None:
    assert set(report.plots) == names
    for name in names:
        path = services.report_dir(report.pk) / report.plots[name]
        assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert (services.report_dir(report.pk) / "report.json").is_file()


def test_enrolled_report_matches_metrics_computed_directly(celery_worker, admin_user):
    people = {f"s{i}": 5 for i in range(1, 7)}
    people["s7"] = 2  # too few photos to be identified: listed, not silently dropped
    enroll_orl(people, cohorts={f"s{i}": "a" if i <= 3 else "b" for i in range(1, 8)})

    report = wait_for(services.create_report(kind="enrolled", parameters={"folds": 5, "min_photos": 3},
                                             actor=admin_user))

    assert report.status == "done", report.error
    assert report.progress == 1.0 and report.model_version == get_pipeline().embedder.model_info.version
    data = enrolled_dataset(report.model_version)
    data.embeddings = calibrated(data.embeddings, report.model_version)
    _, _, scores, same = protocols.all_pairs(data)
    v = report.metrics["verification"]
    assert v["pairs"] == {"genuine": 6 * 10 + 1, "impostor": int((~same).sum())}
    assert v["auc"] == pytest.approx(metrics.auc(scores, same))
    assert v["eer"] == pytest.approx(metrics.eer(scores, same)[0])
    tar = metrics.tar_at_far(scores, same, [1e-3])[1e-3]
    assert report.metrics["recommended"]["verify"]["threshold"] == pytest.approx(tar.threshold)
    assert report.metrics["recommended"]["verify"]["applicable"] is True

    ident = report.metrics["identification"]
    assert ident["excluded_identities"] == [{"identity": str(Identity.objects.get(display_name="ORL s7").pk),
                                             "photos": 2}]
    kept = data.subset(data.labels != ident["excluded_identities"][0]["identity"])
    hits = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(kept.embeddings, kept.labels):
        ranks, _ = metrics.identification_ranks(kept.embeddings[test] @ kept.embeddings[train].T,
                                                kept.labels[test], kept.labels[train])
        hits += list(ranks == 1)
    assert ident["methods"]["nearest_neighbour"]["top1"] == pytest.approx(np.mean(hits))
    assert set(ident["methods"]) == {"nearest_neighbour", "svm"}
    assert set(v["by_attribute"]["cohort"]) == {"a", "b"}
    assert_plots(report, {"roc", "det", "scores", "cmc"})
    actions = list(AuditLog.objects.filter(target_type="evaluation.evaluationreport", target_id=str(report.pk))
                   .values_list("action", flat=True))
    assert actions == ["evaluation.report_requested", "evaluation.report_finished"]


def test_lfw_pairs_benchmark_matches_the_lfw_protocol_computed_directly(celery_worker):
    report = wait_for(services.create_report(kind="benchmark", parameters={
        "folder": "lfw", "pairs": "pairs.txt", "pairs_per_fold": 2}))

    assert report.status == "done", report.error
    pairs, taken = [], {}
    for pair in read_pairs(LFW_DIR / "pairs.txt", LFW_DIR):  # the first 2 same + 2 different per fold
        key = (pair.fold, pair.same)
        taken[key] = taken.get(key, 0) + 1
        if taken[key] <= 2:
            pairs.append(pair)
    assert len(pairs) == 40 and report.metrics["data"]["pairs"] == 40
    images = [str(p) for p in unique_images(pairs)]
    result = embed_files(get_pipeline(), images, read_image_file, select="center")
    assert not result.skipped
    emb = dict(zip(result.paths, result.embeddings))
    a = np.stack([emb[str(p.path_a)] for p in pairs])
    b = np.stack([emb[str(p.path_b)] for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    scores = metrics.cosine_similarity_pairs(calibrated(a, report.model_version), calibrated(b, report.model_version))
    v = report.metrics["verification"]
    assert v["auc"] == pytest.approx(metrics.auc(scores, same), abs=1e-6)
    kfold = metrics.lfw_protocol(a, b, same, folds, distance="cosine")
    assert v["accuracy"]["mean"] == pytest.approx(kfold.mean, abs=1e-6)
    assert v["accuracy"]["folds"] == 10
    assert "identification" not in report.metrics  # a pairs protocol measures verification only
    assert_plots(report, {"roc", "det", "scores"})


def test_folder_benchmark_on_orl(celery_worker):
    folder = wait_for(services.create_report(kind="benchmark", parameters={
        "folder": "att_faces", "max_identities": 5, "max_photos_per_identity": 4, "folds": 4}))

    assert folder.status == "done", folder.error
    assert folder.metrics["identification"]["identities"] == 5
    assert folder.metrics["identification"]["methods"]["nearest_neighbour"]["probes"] == 20
    assert folder.metrics["verification"]["pairs"] == {"genuine": 5 * 6, "impostor": 20 * 19 // 2 - 30}
    assert_plots(folder, {"roc", "det", "scores", "cmc"})
    # Every ORL photo is a bona fide face: the report says how many the liveness check accepts.
    liveness = folder.metrics["liveness"]
    assert liveness["photos"] == 20 and liveness["scored_at"] == "this report"
    paths = [str(path) for _, path in list_folder(ORL_DIR, min_photos=3, max_identities=5,
                                                  max_photos_per_identity=4).files]
    checker = get_liveness_checker()
    direct = embed_files(get_pipeline(), paths, read_image_file, select="center", liveness_checker=checker)
    assert liveness["bona_fide_accepted"] == pytest.approx(np.mean(np.array(direct.liveness) >= checker.threshold))


def test_open_set_on_orl_with_the_default_thresholds(celery_worker):
    """ORL's first 12 subjects (name order): 10 enrolled with 5 photos, 4 probes each; s18 and s19 are strangers."""
    report = wait_for(services.create_report(kind="open-set", parameters={
        "source": "folder", "folder": "att_faces", "max_identities": 12, "holdout": ["s18", "s19"]}))

    assert report.status == "done", report.error
    o = report.metrics["open_set"]
    assert o["held_out_identities"] == ["s18", "s19"]
    assert (o["enrolled_identities"], o["gallery_photos"], o["mated_probes"], o["nonmated_probes"]) == (10, 50, 40, 8)
    at = o["methods"]["identify"]["at_threshold"]
    assert at["source"].startswith("calibrated default: FPIR 0.005")
    assert at["correct"] >= 0.95 and at["wrong_person"] == 0.0 and at["strangers_accepted"] == 0.0
    verify = o["verify_identity"]
    assert verify["claims"]["genuine"] == 40 and verify["claims"]["impostor"] == 8 * 10
    assert verify["at_threshold"]["tar"] >= 0.95 and verify["at_threshold"]["far"] == 0.0
    rec = report.metrics["recommended"]
    assert rec["identify"]["threshold"] == pytest.approx(o["methods"]["identify"]["dir_at_fpir"]["0.005"]["threshold"])
    assert rec["verify"]["mode"] == "identity" and rec["verify"]["applicable"]
    assert_plots(report, {"dir_fpir", "open_set_scores"})


def test_open_set_on_a_small_lfw_split_with_the_default_thresholds(celery_worker):
    """10 LFW people enrolled with 5 photos (2 probes each), 20 strangers with up to 2 photos: seeded."""
    report = wait_for(services.create_report(kind="open-set", parameters={
        "folder": "lfw", "enrolled": 10, "strangers": 20, "max_probes_per_identity": 2, "seed": 3}))

    assert report.status == "done", report.error
    o = report.metrics["open_set"]
    assert (o["enrolled_identities"], o["gallery_photos"]) == (10, 50) and 10 <= o["mated_probes"] <= 20
    assert 20 <= o["nonmated_probes"] <= 40 and len(o["held_out_identities"]) == 20
    at = o["methods"]["identify"]["at_threshold"]
    assert at["correct"] >= 0.9 and at["strangers_accepted"] <= 0.05
    assert o["verify_identity"]["at_threshold"]["tar"] >= 0.9
    assert o["verify_identity"]["at_threshold"]["far"] <= 0.01
    assert o["methods"]["identify"]["rank1_closed_set"] >= 0.95


def test_open_set_on_enrolled_identities_holds_the_chosen_ones_out(celery_worker):
    from recognition.pipeline.classifier import FaceClassifier
    from recognition.selectors import scorer

    enrolled = enroll_orl({f"s{i}": 4 for i in range(20, 26)})
    strangers = [str(enrolled["s24"].pk), str(enrolled["s25"].pk)]

    report = wait_for(services.create_report(kind="open-set", parameters={"holdout": strangers}))

    assert report.status == "done", report.error
    data = enrolled_dataset(report.model_version)
    roles = protocols.open_set_split(data.labels, holdout=strangers, seed=0)
    expected = protocols.open_set_identification(
        data, roles=roles, scorer=scorer(report.model_version), target_fpir=5e-3, seed=0,
        classifier_factory=lambda: FaceClassifier(min_samples_per_class=2))
    for method in ("identify", "nearest_neighbour"):
        got = report.metrics["open_set"]["methods"][method]["dir_at_fpir"]
        assert got == expected.metrics["methods"][method]["dir_at_fpir"]
    # 4 photos each: 3 enrolled and 1 probe per person; the strangers' 4 photos each probe.
    assert report.metrics["open_set"]["nonmated_probes"] == 8
    assert report.metrics["open_set"]["mated_probes"] == 4


def test_a_report_that_cannot_run_fails_with_its_reason(celery_worker):
    report = wait_for(services.create_report(kind="enrolled"))  # nobody enrolled

    assert report.status == "failed"
    assert "at least two identities" in report.error
    assert not services.report_dir(report.pk).exists()


def test_running_a_report_twice_computes_it_once(celery_worker):
    enroll_orl({"s30": 3, "s31": 3})
    report = wait_for(services.create_report(kind="enrolled"))
    finished_at = report.finished_at

    assert services.run_report(report.pk) is None  # a redelivery finds it done
    report.refresh_from_db()
    assert report.finished_at == finished_at


def test_applying_a_reports_threshold_changes_the_verify_answer_on_a_borderline_pair(
        celery_worker, admin_client, settings):
    from tests.recognition.conftest import lfw_bytes

    enroll_orl({f"s{i}": 4 for i in range(32, 38)})
    report = wait_for(services.create_report(kind="enrolled"))
    assert report.status == "done", report.error
    recommended = report.metrics["recommended"]["verify"]["threshold"]

    def verify() -> dict:
        response = admin_client.post("/api/v1/verify", {
            "image_a": ContentFile(lfw_bytes("Tony_Blair", 15), name="a.jpg"),
            "image_b": ContentFile(lfw_bytes("Tony_Blair", 18), name="b.jpg")})
        assert response.status_code == 200, response.content
        return response.json()

    score = verify()["score"]  # the pair's calibrated similarity: near any sensible threshold
    assert abs(score - recommended) > 1e-3, "pick another pair: this one sits on the threshold"
    # The default on the other side of the pair from the report's threshold, so the answer must flip.
    settings.FACEREC_VERIFY_THRESHOLD = score + 0.01 if score >= recommended else score - 0.01
    before = verify()
    assert before["match"] is (score < recommended)
    assert before["threshold_source"] == "default setting FACEREC_VERIFY_THRESHOLD"

    applied = admin_client.post(f"/api/v1/reports/{report.pk}/apply-threshold", {"kind": "verify"},
                                content_type="application/json")
    assert applied.status_code == 200, applied.content

    after = verify()
    assert after["match"] is (score >= recommended)
    assert after["threshold"] == pytest.approx(recommended)
    assert after["threshold_source"].startswith(f"evaluation report #{report.pk}, applied by admin")
    entry = AuditLog.objects.filter(action="recognition.threshold_set").latest("id")
    assert entry.details["new"] == pytest.approx(recommended) and entry.actor_name == "admin"
    assert entry.details["old"] == pytest.approx(settings.FACEREC_VERIFY_THRESHOLD)
