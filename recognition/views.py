"""The identify and verify pages: upload a probe, see the faces found and who they are.

As thin as recognition.api, on the same services. The probe is decoded in memory and
shown back as a PNG data URI with the faces drawn on it by Pillow; it is never stored.
A service's error is shown beside the field it names, never as a 500.
"""

from __future__ import annotations

import numpy as np
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.roles import can, capability_required
from core.errors import DomainError
from core.forms import add_domain_error
from core.pictures import annotated_picture
from identities.models import Identity
from recognition import services
from recognition.api import decode_upload
from recognition.forms import IdentifyForm, VerifyIdentityForm, VerifyImagesForm
from recognition.selectors import verifiable_identities


@capability_required("identify")
@require_http_methods(["GET", "POST"])
def identify(request):
    choose = can(request.user, "choose_liveness")
    form = (IdentifyForm(request.POST, request.FILES, choose_liveness=choose) if request.method == "POST"
            else IdentifyForm(choose_liveness=choose))
    result = picture = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            image = decode_upload(data["image"], "image")
            result = services.identify(image=image, top_k=data["top_k"], threshold=data["threshold"],
                                       actor=request.user, liveness=data.get("liveness") or None,
                                       visible_to=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            picture = annotated_picture(image, [
                (face.box, f"{number}. {face.label}", face.identity_id is not None)
                for number, face in enumerate(result.faces, 1)])
    return render(request, "recognition/identify.html", {"form": form, "result": result, "picture": picture})


@capability_required("verify")
@require_http_methods(["GET", "POST"])
def verify(request):
    identities = (verifiable_identities(request.user).filter(status=Identity.Status.ACTIVE)
                  .order_by("display_name", "id"))
    mode = request.POST.get("mode") if request.method == "POST" else None
    choose = can(request.user, "choose_liveness")
    pair_form = (VerifyImagesForm(request.POST, request.FILES, choose_liveness=choose)
                 if mode == VerifyImagesForm.mode else VerifyImagesForm(choose_liveness=choose))
    claim_form = (VerifyIdentityForm(request.POST, request.FILES, identities=identities, choose_liveness=choose)
                  if mode == VerifyIdentityForm.mode else VerifyIdentityForm(identities=identities,
                                                                             choose_liveness=choose))
    context = {"pair_form": pair_form, "claim_form": claim_form, "mode": mode, "result": None, "pictures": [],
               "claimed": None, "has_identities": identities.exists()}
    if request.method == "POST" and mode not in (VerifyImagesForm.mode, VerifyIdentityForm.mode):
        context["mode_error"] = "Use one of the two forms below: two photos, or a photo and a person."
    elif pair_form.is_bound and pair_form.is_valid():
        data = pair_form.cleaned_data
        try:
            images = [decode_upload(data["image_a"], "image_a"), decode_upload(data["image_b"], "image_b")]
            result = services.verify_images(image_a=images[0], image_b=images[1], threshold=data["threshold"],
                                            actor=request.user, liveness=data.get("liveness") or None)
        except DomainError as exc:
            add_domain_error(pair_form, exc)
        else:
            context.update(result=result, pictures=_compared_faces(images, result, ["A", "B"]))
    elif claim_form.is_bound and claim_form.is_valid():
        data = claim_form.cleaned_data
        try:
            image = decode_upload(data["image"], "image")
            result = services.verify_identity(image=image, identity=data["identity"], threshold=data["threshold"],
                                              actor=request.user, liveness=data.get("liveness") or None)
        except DomainError as exc:
            add_domain_error(claim_form, exc, aliases={"identity_id": "identity"})
        else:
            context.update(result=result, claimed=data["identity"],
                           pictures=_compared_faces([image], result, [str(data["identity"])]))
    return render(request, "recognition/verify.html", context)


def _compared_faces(images: list[np.ndarray], result: services.VerifyResult, labels: list[str]
                    ) -> list[tuple[str, dict | None]]:
    """Each photo with its compared face boxed, and that face's liveness."""
    liveness = result.liveness or [None] * len(images)
    return [(annotated_picture(image, [(box, label, result.match)]), live)
            for image, box, label, live in zip(images, result.faces, labels, liveness)]
