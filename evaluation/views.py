"""The report pages (the run_reports capability): list, new report, detail with metrics and plots, exports, apply a threshold.

Thin: forms parse, evaluation.services writes, evaluation.selectors reads. Reports
describe the enrolled population, so every page needs run_reports. A domain error is shown
beside the field it names, or as a message, never as a 500.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import capability_required
from core.errors import DomainError
from core.forms import add_domain_error
from evaluation import reports, selectors, services
from evaluation.forms import ApplyThresholdForm, ReportForm
from evaluation.models import EvaluationReport
from recognition.models import RecognitionThreshold
from recognition.selectors import current_threshold

PAGE_SIZE = 25
SKIPPED_SHOWN = 50
REFRESH_EVERY_S = 3
PLOT_CACHE_S = 3600  # a finished report's plots do not change


# --- list and new report ----------------------------------------------------------------


@capability_required("run_reports")
@require_GET
def report_list(request):
    page = Paginator(selectors.reports(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "evaluation/report_list.html", {"page": page})


@capability_required("run_reports")
@require_http_methods(["GET", "POST"])
def report_create(request):
    form = ReportForm(request.POST) if request.method == "POST" else ReportForm()
    if form.is_bound and form.is_valid():
        try:
            report = services.create_report(kind=form.cleaned_data["kind"], parameters=form.parameters(),
                                            actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Report #{report.pk} is queued; this page follows its progress.")
            return redirect("evaluation:detail", pk=report.pk)
    return render(request, "evaluation/report_form.html", {"form": form})


# --- detail ------------------------------------------------------------------------------


def _pct(value, places: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{places}f}%"


def _num(value, places: int = 4) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def _ci(interval: dict | None, fmt) -> str:
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return ""
    level = interval.get("level")
    prefix = f"{level * 100:.0f}% CI" if level else "CI"
    return f"{prefix} {fmt(interval['low'])} – {fmt(interval['high'])}"


def _rate_key(key: str) -> float:
    try:
        return float(key)
    except ValueError:
        return 0.0


def _verification(v: dict) -> dict:
    ci = v.get("confidence_intervals") or {}
    headline = [("AUC", _num(v.get("auc")), _ci(ci.get("auc"), _num))]
    eer_note = f"threshold {_num(v.get('eer_threshold'), 3)}"
    if _ci(ci.get("eer"), _pct):
        eer_note += f"; {_ci(ci.get('eer'), _pct)}"
    headline.append(("EER", _pct(v.get("eer")), eer_note))
    accuracy = v.get("accuracy") or {}
    if accuracy.get("mean") is not None:
        note = f"{accuracy.get('folds', '?')} folds"
        if accuracy.get("protocol"):
            note += f"; {accuracy['protocol']}"
        headline.append(("Accuracy (k-fold)", f"{_pct(accuracy['mean'])} ± {_pct(accuracy.get('std'))}", note))
    pairs = v.get("pairs") or {}
    if pairs:
        headline.append(("Pairs", f"{pairs.get('genuine', 0)} genuine, {pairs.get('impostor', 0)} impostor", ""))
    tar_rows = [{"far": key, "tar": _pct(entry.get("tar")), "threshold": _num(entry.get("threshold"), 3),
                 "achieved": _pct(entry.get("far"), 3), "resolvable": entry.get("resolvable", True)}
                for key, entry in sorted((v.get("tar_at_far") or {}).items(), key=lambda kv: -_rate_key(kv[0]))]
    by_attribute = []
    for attribute, groups in (v.get("by_attribute") or {}).items():
        for value, g in groups.items():
            by_attribute.append({
                "attribute": attribute, "value": value, "identities": g.get("identities"),
                "genuine": g.get("genuine_pairs"), "impostor": g.get("impostor_pairs"), "note": g.get("note", ""),
                "auc": _num(g.get("auc")), "eer": _pct(g.get("eer")), "tar": _pct(g.get("tar_at_target_far")),
                "tar_resolvable": g.get("tar_resolvable", True), "far": _pct(g.get("far_at_threshold"), 3),
                "frr": _pct(g.get("frr_at_threshold"))})
    return {"headline": headline, "tar_rows": tar_rows, "by_attribute": by_attribute}


def _identification(i: dict) -> dict:
    methods = [{"name": name.replace("_", " "), "top1": _pct(m.get("top1")), "top5": _pct(m.get("top5")),
                "top1_std": _pct(m.get("top1_fold_std")), "probes": m.get("probes")}
               for name, m in (i.get("methods") or {}).items()]
    return {"folds": i.get("folds"), "identities": i.get("identities"), "photos": i.get("photos"),
            "min_photos": i.get("min_photos"), "methods": methods,
            "excluded": i.get("excluded_identities") or []}


def _open_set(o: dict) -> dict:
    rows = []
    for name, m in (o.get("methods") or {}).items():
        for key, entry in sorted((m.get("dir_at_fpir") or {}).items(), key=lambda kv: -_rate_key(kv[0])):
            rows.append({"method": name.replace("_", " "), "fpir": key, "dir": _pct(entry.get("dir")),
                         "threshold": _num(entry.get("threshold"), 3), "achieved": _pct(entry.get("fpir"), 3),
                         "resolvable": entry.get("resolvable", True)})
    rank1 = [(name.replace("_", " "), _pct(m.get("rank1_closed_set"))) for name, m in (o.get("methods") or {}).items()]
    at_threshold = [{"method": name.replace("_", " "), "threshold": _num(t.get("threshold"), 4),
                     "source": t.get("source", ""), "correct": _pct(t.get("correct")),
                     "wrong": _pct(t.get("wrong_person")), "unknown": _pct(t.get("unknown")),
                     "strangers": _pct(t.get("strangers_accepted"), 2)}
                    for name, m in (o.get("methods") or {}).items() if (t := m.get("at_threshold"))]
    v = (o.get("verify_identity") or {}).get("at_threshold")
    verify = v and {"threshold": _num(v.get("threshold"), 4), "source": v.get("source", ""),
                    "tar": _pct(v.get("tar")), "far": _pct(v.get("far"), 3),
                    "claims": (o.get("verify_identity") or {}).get("claims") or {}}
    return {"at_threshold": at_threshold, "verify": verify, "enrolled": o.get("enrolled_identities"), "held_out": o.get("held_out_identities") or [],
            "gallery_photos": o.get("gallery_photos"), "mated": o.get("mated_probes"),
            "nonmated": o.get("nonmated_probes"), "rows": rows, "rank1": rank1}


def _recommendations(report: EvaluationReport) -> list[dict]:
    out = []
    for kind, rate_name, hit_name in ((RecognitionThreshold.Kind.VERIFY, "far", "tar"),
                                      (RecognitionThreshold.Kind.IDENTIFY, "fpir", "dir")):
        rec = (report.metrics.get("recommended") or {}).get(kind)
        if not rec:
            continue
        in_force = current_threshold(kind, model_version=report.model_version) if report.model_version else None
        out.append({
            "kind": kind, "threshold": _num(rec.get("threshold"), 4), "rate_name": rate_name.upper(),
            "target": rec.get(f"target_{rate_name}"), "achieved": _pct(rec.get(rate_name), 3),
            "hit_name": hit_name.upper(), "hit": _pct(rec.get(hit_name)),
            "resolvable": rec.get("resolvable", True), "score": rec.get("score", ""),
            "applicable": bool(rec.get("applicable")) and report.status == EvaluationReport.Status.DONE,
            "not_applicable_because": rec.get("not_applicable_because") or "",
            "in_force": in_force,
        })
    return out


def _plots(report: EvaluationReport) -> list[dict]:
    order = list(reports.PLOT_TITLES)
    names = sorted(report.plots or {}, key=lambda n: (order.index(n) if n in order else len(order), n))
    return [{"name": name, "title": reports.PLOT_TITLES.get(name, name.replace("_", " "))} for name in names]


@capability_required("run_reports")
@require_GET
def report_detail(request, pk: int):
    report = get_object_or_404(selectors.reports(), pk=pk)
    metrics = report.metrics or {}
    skipped = list((report.skipped or {}).items())
    return render(request, "evaluation/report_detail.html", {
        "report": report,
        "refresh_s": None if report.is_finished else REFRESH_EVERY_S,
        "percent": round((report.progress or 0.0) * 100),
        "parameters": sorted((report.parameters or {}).items()),
        "data": sorted((metrics.get("data") or {}).items()),
        "verification": _verification(metrics["verification"]) if metrics.get("verification") else None,
        "identification": _identification(metrics["identification"]) if metrics.get("identification") else None,
        "open_set": _open_set(metrics["open_set"]) if metrics.get("open_set") else None,
        "liveness": ({**metrics["liveness"], "accepted_percent": _pct(metrics["liveness"]["bona_fide_accepted"], 2)}
                     if metrics.get("liveness") else None),
        "recommendations": _recommendations(report),
        "plots": _plots(report),
        "skipped": skipped[:SKIPPED_SHOWN],
        "skipped_count": len(skipped),
    })


@capability_required("run_reports")
@require_POST
def apply_threshold(request, pk: int):
    report = get_object_or_404(EvaluationReport, pk=pk)
    form = ApplyThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say which threshold to apply: verify or identify.")
        return redirect("evaluation:detail", pk=report.pk)
    kind = form.cleaned_data["kind"]
    try:
        row = services.apply_recommended_threshold(report_id=report.pk, kind=kind, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"The {kind} threshold was not applied: {exc.message}")
    else:
        before = "" if row.previous_value is None else f" (was {row.previous_value:.4f})"
        messages.success(request, f"The {kind} threshold is now {row.value:.4f}{before}, from report #{report.pk}.")
    return redirect("evaluation:detail", pk=report.pk)


# --- files ------------------------------------------------------------------------------


@capability_required("run_reports")
@require_GET
def report_plot(request, pk: int, name: str):
    report = get_object_or_404(EvaluationReport, pk=pk)
    path = selectors.plot_file(report, name)  # only names the report row lists
    if path is None:
        raise Http404("no such plot")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = f"private, max-age={PLOT_CACHE_S}"
    response["Content-Disposition"] = f'inline; filename="report-{report.pk}-{name}.png"'
    return response


def _finished(pk: int) -> EvaluationReport:
    report = get_object_or_404(EvaluationReport, pk=pk)
    if report.status != EvaluationReport.Status.DONE:
        raise Http404("the report has no results yet")
    return report


def _attachment(content: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private"
    return response


@capability_required("run_reports")
@require_GET
def export_json(request, pk: int):
    report = _finished(pk)
    document = reports.report_document(kind=report.kind, parameters=report.parameters, output=reports.ReportOutput(
        metrics=report.metrics, plots=report.plots, skipped=report.skipped, model_version=report.model_version,
        classifier_version=report.classifier_version))
    return _attachment(json.dumps(document, indent=2), "application/json", f"report-{report.pk}.json")


@capability_required("run_reports")
@require_GET
def export_csv(request, pk: int):
    report = _finished(pk)
    return _attachment(reports.metrics_csv(report.metrics), "text/csv; charset=utf-8", f"report-{report.pk}.csv")
