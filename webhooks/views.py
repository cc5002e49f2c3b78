"""The webhooks page (/webhooks/, manage_webhooks): subscriptions, why one is paused, its deliveries
with every attempt, and the actions (new, edit, rotate the secret, resume, replay, delete)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import capability_required
from core.errors import DomainError
from core.forms import add_domain_error
from webhooks import selectors, services
from webhooks.forms import SubscriptionForm

PAGE_SIZE = 50


def _secret_page(request, subscription, secret: str, what: str):
    response = render(request, "webhooks/secret.html", {"subscription": subscription, "secret": secret, "what": what})
    response["Cache-Control"] = "no-store"
    return response


@capability_required("manage_webhooks")
@require_GET
def subscription_list(request):
    return render(request, "webhooks/list.html", {"subscriptions": selectors.subscriptions()})


@capability_required("manage_webhooks")
@require_http_methods(["GET", "POST"])
def subscription_new(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription, secret = services.create_subscription(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return _secret_page(request, subscription, secret, "created")
    return render(request, "webhooks/form.html", {"form": form})


@capability_required("manage_webhooks")
@require_http_methods(["GET", "POST"])
def subscription_detail(request, pk: int):
    subscription = get_object_or_404(selectors.subscriptions(), pk=pk)
    initial = {f: getattr(subscription, f) for f in ("url", "event_types", "description", "enabled", "include_names")}
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_subscription(subscription_id=pk, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("webhooks:detail", pk=pk)
    page = Paginator(selectors.deliveries(subscription_id=pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "webhooks/detail.html", {"subscription": subscription, "form": form, "page": page})


@capability_required("manage_webhooks")
@require_POST
def subscription_rotate(request, pk: int):
    subscription, secret = services.rotate_secret(subscription_id=pk, actor=request.user)
    return _secret_page(request, subscription, secret, "rotated")


@capability_required("manage_webhooks")
@require_POST
def subscription_resume(request, pk: int):
    services.resume_subscription(subscription_id=pk, actor=request.user)
    messages.success(request, "Resumed: the deliveries it held are being sent.")
    return redirect("webhooks:detail", pk=pk)


@capability_required("manage_webhooks")
@require_POST
def subscription_delete(request, pk: int):
    services.delete_subscription(subscription_id=pk, actor=request.user)
    messages.success(request, "Subscription deleted.")
    return redirect("webhooks:list")


@capability_required("manage_webhooks")
@require_POST
def delivery_replay(request, pk: int, delivery_id: int):
    get_object_or_404(selectors.deliveries(subscription_id=pk), pk=delivery_id)
    services.replay(delivery_id=delivery_id, actor=request.user)
    messages.success(request, "Queued again.")
    return redirect("webhooks:detail", pk=pk)
