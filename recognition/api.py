"""REST API of recognition: 1:N identification and 1:1 verification of uploaded probes (/api/v1/).

Thin views: parse the multipart input, decode the probe, call one service, shape the
answer. Probes are decoded in memory and never stored; errors become the one JSON error
shape in core.api.exception_handler.
"""

from __future__ import annotations

import numpy as np
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import can, requires
from core.api import StrictInputSerializer, error_responses
from core.upload_limits import MaxUploadSizeHandler
from identities.models import Identity
from recognition import services
from recognition.selectors import verifiable_identities
from recognition.configuration import LIVENESS_POLICIES

MAX_TOP_K = 20
TWO_MODES = ("send either image_a and image_b (are these two photos the same person?), or image and "
             "identity_id (is this photo that enrolled person?)")


def decode_upload(file, field: str) -> np.ndarray:
    """The uploaded probe as pixels; a refusal names the form field it came from."""
    return services.decode_probe(file.read(), field=field)


def _probe_field(**kwargs) -> serializers.FileField:
    return serializers.FileField(allow_empty_file=True, use_url=False, **kwargs)


def _threshold_field(default_setting: str) -> serializers.FloatField:
    return serializers.FloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True,
                                  help_text=f"Decision threshold on the score; default: the one applied for the serving "
                                            f"model (from an evaluation report), else the setting {default_setting}, "
                                            f"else the calibrated default of the weights.")


LIVENESS_HELP = ("Liveness policy for this request: `off`, `report` (each face gets its liveness score) or "
                 "`enforce` (a face that fails is not identified / verify answers no match); default: the "
                 "platform's FACEREC_LIVENESS. Needs the `choose_liveness` capability (403 otherwise).")


def _liveness_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=list(LIVENESS_POLICIES), required=False, help_text=LIVENESS_HELP)


def requested_liveness(request, given: dict) -> str | None:
    """The policy the caller asked for, when it may choose one (403 otherwise)."""
    requested = given.get("liveness")
    if requested is not None and not can(request.user, "choose_liveness"):
        raise PermissionDenied("choosing the liveness policy needs the choose_liveness capability")
    return requested


class LivenessSerializer(serializers.Serializer):
    score = serializers.FloatField(help_text="Mean probability of a real face from the two MiniFASNets (0-1).")
    is_live = serializers.BooleanField(help_text="score >= the liveness threshold.")

    class Meta:
        ref_name = "Liveness"


class _UploadApi(APIView):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request, *args, **kwargs):
        # Refuses an oversized file while it is being received, before it is spooled (413).
        request.upload_handlers.insert(0, MaxUploadSizeHandler(request))
        return super().initialize_request(request, *args, **kwargs)


# --- identification (1:N) ---------------------------------------------------------------


class CandidateSerializer(serializers.Serializer):
    identity_id = serializers.IntegerField()
    display_name = serializers.CharField()
    score = serializers.FloatField(help_text="What the threshold is applied to: the closest template's "
                                             "similarity, calibrated for the number of templates searched, so a "
                                             "threshold means the same false-positive rate for any gallery size.")
    similarity = serializers.FloatField(help_text="Cosine similarity to the identity's closest template.")
    probability = serializers.FloatField(allow_null=True, help_text="Classifier (SVM) probability among the "
                                                                    "candidates; null without a classifier or for "
                                                                    "someone approved after its last training.")

    class Meta:
        ref_name = "IdentifyCandidate"


class IdentifiedIdentitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()

    class Meta:
        ref_name = "IdentifiedIdentity"


class IdentifiedFaceSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4,
                                help_text="[x1, y1, x2, y2] in probe pixels.")
    detection_probability = serializers.FloatField()
    identity = serializers.SerializerMethodField(help_text="The first candidate when its score reaches the "
                                                           "threshold and the classifier does not disagree; null: "
                                                           "unknown.")
    label = serializers.CharField(help_text="The identity's name, or `unknown`.")
    score = serializers.FloatField(allow_null=True, help_text="The best candidate's score; null when the gallery "
                                                              "has no template to compare with.")
    candidates = CandidateSerializer(many=True, help_text="By score, best first: the number the answer is "
                                                          "decided on. Besides the answer, only people the caller "
                                                          "may read are listed (an api_client sees the answer "
                                                          "alone).")
    decided_by = serializers.ChoiceField(choices=["score+classifier", "score"], help_text=(
        "`score+classifier`: the first candidate's score reached the threshold and the classifier (SVM), which "
        "knew every candidate, had a say; `score`: the score alone (no classifier yet, or it was trained before "
        "one of the candidates was approved)."))
    reason = serializers.ChoiceField(
        choices=["below_threshold", "classifier_disagrees", "empty_gallery", "liveness_failed"], allow_null=True,
        help_text="Why the face is `unknown`: `below_threshold` (the first candidate's score is under the "
                  "threshold), `classifier_disagrees` (the classifier's first choice is another candidate: a sign "
                  "of a stranger), `empty_gallery` (nothing to compare with) or `liveness_failed` (policy "
                  "`enforce`; no candidates are listed); null when identified.")
    liveness = LivenessSerializer(allow_null=True, help_text="Null with the liveness policy `off`.")

    class Meta:
        ref_name = "IdentifiedFace"

    @extend_schema_field(IdentifiedIdentitySerializer(allow_null=True))
    def get_identity(self, face: services.IdentifiedFace) -> dict | None:
        if face.identity_id is None:
            return None
        return {"id": face.identity_id, "display_name": face.label}


class IdentifyApi(_UploadApi):
    permission_classes = [requires("identify")]

    class InputSerializer(StrictInputSerializer):
        image = _probe_field(help_text="The probe photo (JPEG, PNG, WebP, BMP, PGM/PPM). Never stored.")
        top_k = serializers.IntegerField(min_value=1, max_value=MAX_TOP_K, default=5,
                                         help_text="Candidates listed per face.")
        threshold = _threshold_field("FACEREC_IDENTIFY_THRESHOLD")
        liveness = _liveness_field()

        class Meta:
            ref_name = "Identify"

    class OutputSerializer(serializers.Serializer):
        faces = IdentifiedFaceSerializer(many=True, help_text="Every face found; empty when there is none.")
        threshold = serializers.FloatField()
        threshold_source = serializers.CharField(help_text="Where the threshold came from: `request`, the value "
                                                           "applied for this model (its origin, who applied it and "
                                                           "when), or the default setting.")
        model_version = serializers.CharField(help_text="Embedding model the probe and templates share.")
        classifier_version = serializers.IntegerField(allow_null=True, help_text="The classifier used; null when "
                                                                                 "none is.")
        method = serializers.CharField(help_text="`svm+nearest-neighbours`, or `nearest-neighbours` alone while there "
                                                 "is no classifier (fewer than two people enrolled, or the first "
                                                 "training not finished) or it does not know the candidates yet.")
        templates_searched = serializers.IntegerField(help_text="Active templates of the gallery: the score of "
                                                                "each candidate accounts for them.")
        image_size = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2,
                                           help_text="[width, height] of the probe.")
        liveness_policy = serializers.CharField(help_text="The liveness policy applied: off, report or enforce.")

        class Meta:
            ref_name = "IdentifyResult"

    @extend_schema(
        operation_id="identify", summary="Identify the faces in a photo (1:N)",
        description="Open set: each face found gets its ranked candidates and the best one's name when its "
                    "score reaches the threshold, else `unknown`. A photo without a face answers 200 with "
                    "no faces. The probe is never stored; the call is audited.",
        request={"multipart/form-data": InputSerializer},
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 413, 415)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image = decode_upload(data.validated_data["image"], "image")
        liveness = requested_liveness(request, data.validated_data)
        result = services.identify(image=image, top_k=data.validated_data["top_k"],
                                   threshold=data.validated_data.get("threshold"), actor=request.user,
                                   liveness=liveness, visible_to=request.user)
        return Response(self.OutputSerializer(result).data)


# --- verification (1:1) ---------------------------------------------------------------


class VerifyApi(_UploadApi):
    permission_classes = [requires("verify")]

    class InputSerializer(StrictInputSerializer):
        image_a = _probe_field(required=False, help_text="Two-photo mode: the first photo.")
        image_b = _probe_field(required=False, help_text="Two-photo mode: the second photo.")
        image = _probe_field(required=False, help_text="Identity mode: the photo of the person claiming to be "
                                                      "identity_id.")
        identity_id = serializers.IntegerField(min_value=1, required=False, help_text="Identity mode: the "
                                                                                      "claimed identity.")
        threshold = _threshold_field("FACEREC_VERIFY_THRESHOLD")
        liveness = _liveness_field()

        class Meta:
            ref_name = "Verify"

        def validate(self, attrs):
            pair = [name for name in ("image_a", "image_b") if name in attrs]
            claim = [name for name in ("image", "identity_id") if name in attrs]
            if pair and claim:
                raise serializers.ValidationError(f"two modes at once: {TWO_MODES}")
            if not pair and not claim:
                raise serializers.ValidationError(f"nothing to compare: {TWO_MODES}")
            wanted = ("image_a", "image_b") if pair else ("image", "identity_id")
            missing = [name for name in wanted if name not in attrs]
            if missing:
                raise serializers.ValidationError({name: f"this field is required in this mode: {TWO_MODES}"
                                                   for name in missing})
            return attrs

    class OutputSerializer(serializers.Serializer):
        similarity = serializers.FloatField(help_text="Cosine similarity of the two faces (or of the face and "
                                                      "the identity's closest template).")
        score = serializers.FloatField(help_text="What the threshold is applied to: the calibrated similarity, "
                                                 "in identity mode accounting for the number of templates compared "
                                                 "(an impostor meets each of them).")
        match = serializers.BooleanField(help_text="score >= threshold (and, with the liveness policy `enforce`, "
                                                   "every face compared live)")
        reason = serializers.CharField(allow_null=True, help_text="Why it is no match: `below_threshold` or "
                                                                  "`liveness_failed`; null on a match.")
        threshold = serializers.FloatField()
        threshold_source = serializers.CharField(help_text="Where the threshold came from: `request`, the value "
                                                           "applied for this model (its origin, who applied it and "
                                                           "when), or the default setting.")
        model_version = serializers.CharField()
        faces = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()),
                                      help_text="The face box [x1, y1, x2, y2] compared in each photo (the largest "
                                                "face of each).")
        identity_id = serializers.IntegerField(allow_null=True, help_text="Identity mode only.")
        templates_compared = serializers.IntegerField(allow_null=True, help_text="Identity mode only: the "
                                                                                 "identity's active templates.")
        liveness = serializers.ListField(child=LivenessSerializer(allow_null=True), allow_null=True,
                                         help_text="Liveness of each face compared (as `faces`); null items with "
                                                   "the policy `off`.")
        liveness_policy = serializers.CharField(help_text="The liveness policy applied: off, report or enforce.")

        class Meta:
            ref_name = "VerifyResult"

    @extend_schema(
        operation_id="verify", summary="Verify a face (1:1)",
        description=f"Two modes: {TWO_MODES}. The largest face of each photo is compared; no face is a 400 "
                    "(`no_face`). An erased identity is 410, one without approved templates 409. Probes are "
                    "never stored; the call is audited.",
        request={"multipart/form-data": InputSerializer},
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409, 410, 413, 415)})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        liveness = requested_liveness(request, given)
        if "identity_id" in given:
            try:
                identity = verifiable_identities(request.user).get(pk=given["identity_id"])
            except Identity.DoesNotExist:
                raise Http404(f"identity #{given['identity_id']} not found") from None
            result = services.verify_identity(image=decode_upload(given["image"], "image"), identity=identity,
                                              threshold=given.get("threshold"), actor=request.user,
                                              liveness=liveness)
        else:
            image_a, image_b = decode_upload(given["image_a"], "image_a"), decode_upload(given["image_b"], "image_b")
            result = services.verify_images(image_a=image_a, image_b=image_b, threshold=given.get("threshold"),
                                            actor=request.user, liveness=liveness)
        return Response(self.OutputSerializer(result).data)
