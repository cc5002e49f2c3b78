"""The re-enrollment pages (manage_reenrollment): the list of requests with filters, and dismissing one.

Thin: forms parse, reenrollment.services writes, reenrollment.selectors reads. A domain
error is shown as a message, never as a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import capability_required
from core.errors import DomainError
from reenrollment import selectors, services
from reenrollment.forms import DismissForm, RequestFilterForm
from reenrollment.models import ReenrollmentRequest

PAGE_SIZE = 25


@capability_required("manage_reenrollment")
@require_GET
def request_list(request):
    form = RequestFilterForm(request.GET)
    form.is_valid()  # invalid filters are shown beside their field and left out
    page = Paginator(selectors.reenrollment_requests(**form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.with_summaries(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "reenrollment/request_list.html", {
        "form": form, "page": page, "query": query.urlencode(), "open": ReenrollmentRequest.Status.OPEN,
    })


@capability_required("manage_reenrollment")
@require_POST
def dismiss(request, pk: int):
    form = DismissForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Request #{pk} was not dismissed: the note is longer than 1000 characters.")
    else:
        try:
            services.dismiss_request(request_id=pk, actor=request.user, note=form.cleaned_data["note"])
        except DomainError as exc:
            messages.error(request, f"Request #{pk} was not dismissed: {exc.message}")
        else:
            messages.success(request, f"Request #{pk} was dismissed.")
    # Back to where the button was (the list with its filters, or the identity page).
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return redirect("reenrollment:list")
    return redirect(back)
