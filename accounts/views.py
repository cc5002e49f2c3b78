"""The API token pages (manage_tokens): the list, a new token shown once, revoking one.

Thin: forms parse, accounts.services writes, accounts.selectors reads. The page that
shows a new token is the answer to the POST itself (no redirect, not cached): the
plaintext exists nowhere else.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import TokenFilterForm, TokenForm
from accounts.roles import capability_required
from core.errors import DomainError

PAGE_SIZE = 25


@capability_required("manage_tokens")
@require_GET
def token_list(request):
    form = TokenFilterForm(request.GET)
    form.is_valid()  # an invalid filter shows beside its field and is left out
    page = Paginator(selectors.api_tokens(**form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "accounts/token_list.html", {"form": form, "page": page, "query": query.urlencode()})


@capability_required("manage_tokens")
@require_http_methods(["GET", "POST"])
def token_new(request):
    if request.method == "GET":
        form = TokenForm(initial={"account": request.GET.get("account", "")})
        return render(request, "accounts/token_form.html", {"form": form})
    form = TokenForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # a new client without its token is not kept
                user = data.get("user")
                if data["new_client"]:
                    user = services.create_api_client(username=data["new_client"], can_enroll=data["can_enroll"],
                                                      actor=request.user)
                token, plaintext = services.create_token(user=user, name=data["name"], expires_at=form.expires_at(),
                                                         actor=request.user)
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            response = render(request, "accounts/token_created.html", {
                "token": token, "plaintext": plaintext, "api_url": request.build_absolute_uri("/api/v1/")})
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "accounts/token_form.html", {"form": form})


@capability_required("manage_tokens")
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(selectors.api_tokens(), pk=pk)
    was_revoked = token.revoked_at is not None
    services.revoke_token(token=token, actor=request.user)
    # The name is isolated: a right-to-left override in it must not reverse the rest of the message.
    if was_revoked:
        messages.info(request, format_html("The token <bdi>{}</bdi> was already revoked.", token))
    else:
        messages.success(request, format_html("The token <bdi>{}</bdi> is revoked: it no longer works.", token))
    return redirect("accounts:tokens")
