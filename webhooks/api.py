"""REST API of webhook subscriptions (/api/v1/webhooks/): manage_webhooks only. The signing secret is
in the answers to a creation and a rotation only; no other answer carries it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import requires
from core.api import Pagination, StrictInputSerializer, error_responses, filtered_page, get_visible_or_404
from webhooks import selectors, services
from webhooks.models import Delivery, EventType, Subscription


class SubscriptionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    enabled = serializers.BooleanField()
    include_names = serializers.BooleanField(help_text="The person's name is added to payloads (opt-in, audited).")
    paused_at = serializers.DateTimeField(allow_null=True, help_text="Set when deliveries kept failing.")
    pause_reason = serializers.CharField()
    consecutive_failures = serializers.IntegerField()
    pending_count = serializers.IntegerField(required=False, help_text="Deliveries not yet accepted.")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "WebhookSubscription"


class SubscriptionWithSecretSerializer(SubscriptionOutputSerializer):
    secret = serializers.CharField(help_text="`whsec_...`: shown this once; verify signatures with it.")

    class Meta:
        ref_name = "WebhookSubscriptionWithSecret"


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    response_excerpt = serializers.CharField()
    error = serializers.CharField()

    class Meta:
        ref_name = "WebhookAttempt"


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_type = serializers.CharField(source="event.type")
    message_id = serializers.UUIDField(source="event.message_id")
    payload = serializers.JSONField(source="event.payload")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempt_log = AttemptSerializer(many=True)

    class Meta:
        ref_name = "WebhookDelivery"


class SubscriptionInputSerializer(StrictInputSerializer):
    url = serializers.URLField(max_length=2000, help_text="http(s); private addresses are refused.")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), min_length=1)
    enabled = serializers.BooleanField(required=False, default=True)
    include_names = serializers.BooleanField(required=False, default=False)
    description = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)

    class Meta:
        ref_name = "WebhookSubscriptionInput"


def _subscription(pk: int) -> Subscription:
    return get_visible_or_404(selectors.subscriptions(), pk, "webhook subscription")


class SubscriptionListApi(APIView):
    permission_classes = [requires("manage_webhooks")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WebhookSubscriptionFilter"

    @extend_schema(summary="List webhook subscriptions",
                   responses={200: SubscriptionOutputSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request):
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=selectors.subscriptions, serializer_class=SubscriptionOutputSerializer)

    @extend_schema(summary="Create a webhook subscription",
                   description="Answers the signing secret once, in `secret`. 400 `webhook_target_refused` for a "
                               "URL that is not http(s) or resolves to a private address. Audited as webhook.create.",
                   request=SubscriptionInputSerializer,
                   responses={201: SubscriptionWithSecretSerializer, **error_responses(400, 401, 403)})
    def post(self, request):
        data = SubscriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription, secret = services.create_subscription(**data.validated_data, actor=request.user)
        body = {**SubscriptionOutputSerializer(subscription).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class SubscriptionDetailApi(APIView):
    permission_classes = [requires("manage_webhooks")]

    class UpdateSerializer(SubscriptionInputSerializer):
        url = serializers.URLField(max_length=2000, required=False)
        event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), min_length=1,
                                            required=False)
        enabled = serializers.BooleanField(required=False)
        include_names = serializers.BooleanField(required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=200)

        class Meta:
            ref_name = "WebhookSubscriptionUpdate"

    @extend_schema(summary="One webhook subscription",
                   responses={200: SubscriptionOutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request, subscription_id: int):
        return Response(SubscriptionOutputSerializer(_subscription(subscription_id)).data)

    @extend_schema(summary="Change a webhook subscription", description="Audited as webhook.update.",
                   request=UpdateSerializer,
                   responses={200: SubscriptionOutputSerializer, **error_responses(400, 401, 403, 404)})
    def patch(self, request, subscription_id: int):
        _subscription(subscription_id)
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.update_subscription(subscription_id=subscription_id, actor=request.user, **data.validated_data)
        return Response(SubscriptionOutputSerializer(_subscription(subscription_id)).data)

    @extend_schema(summary="Delete a webhook subscription", description="Its deliveries go with it.",
                   responses={204: None, **error_responses(401, 403, 404)})
    def delete(self, request, subscription_id: int):
        _subscription(subscription_id)
        services.delete_subscription(subscription_id=subscription_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretApi(APIView):
    permission_classes = [requires("manage_webhooks")]

    @extend_schema(operation_id="webhooks_rotate_secret", summary="Rotate a subscription's secret",
                   description="Answers the new secret once; the old one still signs (a second signature) for "
                               "FACEREC_WEBHOOK_ROTATION_GRACE_S.", request=None,
                   responses={200: SubscriptionWithSecretSerializer, **error_responses(401, 403, 404)})
    def post(self, request, subscription_id: int):
        _subscription(subscription_id)
        subscription, secret = services.rotate_secret(subscription_id=subscription_id, actor=request.user)
        body = {**SubscriptionOutputSerializer(subscription).data, "secret": secret}
        return Response(body, headers={"Cache-Control": "no-store"})


class ResumeApi(APIView):
    permission_classes = [requires("manage_webhooks")]

    @extend_schema(operation_id="webhooks_resume", summary="Resume a paused subscription",
                   description="The deliveries it held are sent now.", request=None,
                   responses={200: SubscriptionOutputSerializer, **error_responses(401, 403, 404)})
    def post(self, request, subscription_id: int):
        _subscription(subscription_id)
        services.resume_subscription(subscription_id=subscription_id, actor=request.user)
        return Response(SubscriptionOutputSerializer(_subscription(subscription_id)).data)


class DeliveryListApi(APIView):
    permission_classes = [requires("manage_webhooks")]
    pagination_class = Pagination

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)

        class Meta:
            ref_name = "WebhookDeliveryFilter"

    @extend_schema(summary="A subscription's deliveries", description="Newest first, each with every attempt.",
                   parameters=[FilterSerializer],
                   responses={200: DeliveryOutputSerializer(many=True), **error_responses(400, 401, 403, 404)})
    def get(self, request, subscription_id: int):
        _subscription(subscription_id)
        return filtered_page(request=request, view=self, filter_serializer=self.FilterSerializer,
                             select=lambda **f: selectors.deliveries(subscription_id=subscription_id, **f),
                             serializer_class=DeliveryOutputSerializer)


class ReplayApi(APIView):
    permission_classes = [requires("manage_webhooks")]

    @extend_schema(operation_id="webhooks_replay", summary="Send a delivery's event again",
                   description="A new delivery of the same message (same webhook-id). Audited as webhook.replay.",
                   request=None, responses={202: DeliveryOutputSerializer, **error_responses(401, 403, 404)})
    def post(self, request, subscription_id: int, delivery_id: int):
        get_visible_or_404(selectors.deliveries(subscription_id=subscription_id), delivery_id, "webhook delivery")
        replay = services.replay(delivery_id=delivery_id, actor=request.user)
        replay = selectors.deliveries(subscription_id=subscription_id).get(pk=replay.pk)
        return Response(DeliveryOutputSerializer(replay).data, status=status.HTTP_202_ACCEPTED)
