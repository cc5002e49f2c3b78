"""Job status for pages and clients polling long work (photo processing, reports)."""

from __future__ import annotations

import logging
import re

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.roles import requires
from core.api import error_responses
from facerec_site.celery import app
from identities import selectors
from identities.models import EnrollmentImage

log = logging.getLogger(__name__)

_TASK_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,255}$")


_PHOTO_JOB = re.compile(r"^enroll-photo-(\d+)$")
_REPORT_JOB = re.compile(r"^evaluation-report-(\d+)$")


def may_see_job(user, task_id: str) -> bool:
    """A job's state tells about the object behind it: a photo's processing is shown to whoever may read
    that photo's person, a report's to whoever runs reports; any other id is nobody's business (404)."""
    photo = _PHOTO_JOB.match(task_id)
    if photo:
        return selectors.visible_photos(user, EnrollmentImage.objects.filter(pk=int(photo.group(1)))).exists()
    return bool(_REPORT_JOB.match(task_id)) and roles.can(user, "run_reports")


class JobStatusApi(APIView):
    """The state of one Celery job, for pages and clients polling long work."""

    # Jobs are started by enrolling (photo processing) and by reports.
    permission_classes = [requires("enroll", "manage_identities", "run_reports")]

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        status = serializers.CharField(help_text="Celery state: PENDING (or unknown), STARTED, RETRY, SUCCESS, "
                                                 "FAILURE.")
        result = serializers.JSONField(allow_null=True, help_text="The task's result once SUCCESS; on FAILURE "
                                                                  "{\"error\": exception class name}.")

        class Meta:
            ref_name = "JobStatus"

    @extend_schema(responses={200: OutputSerializer, **error_responses(401, 403, 404, 503)})
    def get(self, request, task_id: str):
        if not _TASK_ID_OK.match(task_id) or not may_see_job(request.user, task_id):
            raise Http404("no such job")
        result = app.AsyncResult(task_id)
        try:
            state, value = result.state, result.result
        except Exception as exc:  # the result backend is a separate service; say so rather than 500
            log.warning("job status of %s unavailable: %s", task_id, exc)
            raise JobBackendUnavailable() from exc
        if state == "FAILURE" or isinstance(value, BaseException):
            value = {"error": type(value).__name__}
        elif not isinstance(value, (dict, list, str, int, float, bool, type(None))):
            value = None
        return Response(self.OutputSerializer({"id": task_id, "status": state, "result": value}).data)


class JobBackendUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "job status is unavailable right now; try again shortly"
    default_code = "job_backend_unavailable"
    wait = 5  # answered as Retry-After, as the other 503s are
