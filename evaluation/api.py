"""REST API of evaluation reports (/api/v1/reports/), for the run_reports capability.

Thin views: parse with a nested input serializer, call one service or selector, shape
the answer. Reports describe the enrolled population, so only admins (run_reports) read them. Errors
become the one JSON error shape in core.api.exception_handler.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from core.api import Pagination, StrictInputSerializer, error_responses, get_visible_or_404, paginated_response
from evaluation import reports, selectors, services
from evaluation.models import EvaluationReport
from recognition.models import RecognitionThreshold

_PARAMETERS_HELP = (
    "Optional; absent ones take their defaults. Common: seed, target_far, folds, min_photos, max_impostor_pairs. "
    "Data: source (enrolled|folder; benchmark: folder), folder (under FACEREC_DATASET_ROOTS), max_identities, "
    "max_photos_per_identity, tta. Benchmark: pairs (a pairs file in the folder), pairs_per_fold, subtract_mean. "
    "Open set: holdout (identity labels) or strangers (how many to draw) or holdout_fraction, enrolled (how many "
    "to draw), gallery_photos, max_probes_per_identity, target_fpir. An invalid one is a 400 "
    "naming it in `fields`.")


def _absolute(request, url: str) -> str:
    return request.build_absolute_uri(url) if request else url


def _report(pk: int) -> EvaluationReport:
    return get_visible_or_404(selectors.reports(), pk, "report")


class ReportOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="This report in the API.")
    kind = serializers.ChoiceField(choices=EvaluationReport.Kind.choices)
    status = serializers.ChoiceField(choices=EvaluationReport.Status.choices,
                                     help_text="pending -> running -> done or failed.")
    progress = serializers.FloatField(help_text="0..1")
    progress_message = serializers.CharField()
    parameters = serializers.JSONField(help_text="The cleaned parameters, defaults filled in.")
    model_version = serializers.CharField(help_text="Embedding model measured; empty until done.")
    classifier_version = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(help_text="Why it failed; empty otherwise.")
    scheduled = serializers.BooleanField(help_text="Created by the weekly schedule.")
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    job = serializers.SerializerMethodField(help_text="Status of the report's Celery job; null if it was never "
                                                      "queued.")

    class Meta:
        ref_name = "Report"

    def get_url(self, report: EvaluationReport) -> str:
        return _absolute(self.context.get("request"), reverse("evaluation_api:report-detail", args=[report.pk]))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_job(self, report: EvaluationReport) -> str | None:
        if not report.task_id:
            return None
        return _absolute(self.context.get("request"), reverse("api-job-status", args=[report.task_id]))


class ReportDetailSerializer(ReportOutputSerializer):
    metrics = serializers.JSONField(help_text="Empty until done. Sections (present by kind): data, verification, "
                                              "identification, open_set, recommended {verify, identify}.")
    plots = serializers.SerializerMethodField(help_text="Plot name -> URL of its PNG.")
    skipped_count = serializers.SerializerMethodField(help_text="Images left out (unreadable, no face).")
    skipped = serializers.DictField(child=serializers.CharField(), help_text="Image -> why it was left out.")

    class Meta:
        ref_name = "ReportDetail"

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_plots(self, report: EvaluationReport) -> dict:
        request = self.context.get("request")
        return {name: _absolute(request, reverse("evaluation_api:report-plot", args=[report.pk, name]))
                for name in (report.plots or {})}

    def get_skipped_count(self, report: EvaluationReport) -> int:
        return len(report.skipped or {})


class ReportListApi(APIView):
    permission_classes = [requires("run_reports")]
    pagination_class = Pagination

    class InputSerializer(StrictInputSerializer):
        # Not a ChoiceField: the service names an unknown kind with the same message as the page.
        kind = serializers.CharField(help_text=f"One of: {', '.join(reports.KINDS)}.")
        parameters = serializers.DictField(required=False, default=dict, help_text=_PARAMETERS_HELP)

        class Meta:
            ref_name = "ReportCreate"

    @extend_schema(responses={200: ReportOutputSerializer(many=True), **error_responses(401, 403, 404)})
    def get(self, request):
        return paginated_response(request=request, view=self, queryset=selectors.reports(),
                                  serializer_class=ReportOutputSerializer)

    @extend_schema(summary="Request a report",
                   description="Validates the parameters and queues the report; poll the report (or its `job`) "
                               "until its status is done or failed.",
                   request=InputSerializer, responses={202: ReportOutputSerializer, **error_responses(400, 401, 403)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.create_report(kind=data.validated_data["kind"],
                                        parameters=data.validated_data["parameters"], actor=request.user)
        return Response(ReportOutputSerializer(report, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


class ReportDetailApi(APIView):
    permission_classes = [requires("run_reports")]

    @extend_schema(responses={200: ReportDetailSerializer, **error_responses(401, 403, 404)})
    def get(self, request, report_id: int):
        return Response(ReportDetailSerializer(_report(report_id), context={"request": request}).data)


class IgnoreClientContentNegotiation(BaseContentNegotiation):
    """The PNG is answered whatever Accept says; errors are JSON (the first renderer)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportPlotApi(APIView):
    permission_classes = [requires("run_reports")]
    content_negotiation_class = IgnoreClientContentNegotiation

    @extend_schema(operation_id="reports_plot", summary="A plot of a report (PNG)",
                   description="`name` is a key of the report's `plots` (roc, det, scores, cmc, dir_fpir, "
                               "open_set_scores, by kind).",
                   responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The PNG."),
                              **error_responses(401, 403, 404)})
    def get(self, request, report_id: int, name: str):
        path = selectors.plot_file(_report(report_id), name)  # only names the report row lists
        if path is None:
            raise Http404(f"report #{report_id} has no plot {name!r}")
        response = FileResponse(path.open("rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class ReportApplyThresholdApi(APIView):
    permission_classes = [requires("run_reports")]

    class InputSerializer(StrictInputSerializer):
        kind = serializers.ChoiceField(choices=RecognitionThreshold.Kind.choices,
                                       help_text="verify: 1:1; identify: 1:N open set.")

        class Meta:
            ref_name = "ReportApplyThreshold"

    class OutputSerializer(serializers.Serializer):
        kind = serializers.CharField()
        value = serializers.FloatField(help_text="The threshold now in force for the serving model.")
        source = serializers.CharField()
        previous_value = serializers.FloatField(allow_null=True, help_text="The value in force before.")

        class Meta:
            ref_name = "AppliedThreshold"

    @extend_schema(operation_id="reports_apply_threshold", summary="Apply a report's recommended threshold",
                   description="Makes the report's recommended verify or identify threshold the platform's for "
                               "the serving model, from now on (audited). 409 when the report is not done, "
                               "measured no such threshold (`no_recommendation`), its threshold cannot be applied "
                               "(`not_applicable`, e.g. measured with TTA) or it measured another model than the "
                               "one served (`model_mismatch`).",
                   request=InputSerializer,
                   responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, report_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.apply_recommended_threshold(report_id=report_id, kind=data.validated_data["kind"],
                                                   actor=request.user)
        return Response(self.OutputSerializer({"kind": row.kind, "value": row.value, "source": row.source,
                                               "previous_value": row.previous_value}).data)
