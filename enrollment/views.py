"""The identity pages: list, enroll, detail, review queue, erasure and the private photo view.

Thin: forms parse, enrollment.services writes, identities.selectors reads. A domain
error is shown beside the field it names, never as a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import can, capability_required
from core.errors import DomainError
from core.forms import add_domain_error
from core.pictures import annotated_picture
from enrollment import services
from enrollment.forms import ConsentForm, IdentityForm, PhotosForm, ReviewForm
from enrollment.media import photo_file_response
from identities import selectors
from identities.models import Consent, EnrollmentImage, Identity
from recognition.runtime import read_image_file
from reenrollment.selectors import open_requests_of, with_summaries

PAGE_SIZE = 25
REVIEW_PAGE_SIZE = 50
REENROLLMENT_REQUESTS_SHOWN = 10
# A photo error of the enroll page, shown beside the photo field of the detail page it redirects to.
_PHOTO_ERROR_KEY = "identities.photo_error"


def _changeable_identity(request, pk: int) -> Identity:
    """An identity the user may change (manage_identities, or enroll and their own), else 404 / 403."""
    identity = get_object_or_404(selectors.visible_identities(request.user), pk=pk)
    if not selectors.may_change_identity(request.user, identity):
        raise PermissionDenied("you may not change this person's enrollment")
    return identity


# Quality figures of a processed photo (recognition.pipeline.quality), as people read them.
_FIGURES = [
    ("face_px", "Face size", "{:.0f} px"),
    ("probability", "Detector confidence", "{:.1%}"),
    ("sharpness", "Sharpness", "{:.1f}"),
    ("roll_deg", "Head tilt", "{:.0f}°"),
    ("yaw_ratio", "Turned aside", "{:.2f}"),
    ("face_count", "Faces found", "{:.0f}"),
]


def _with_figures(photos) -> list[EnrollmentImage]:
    photos = list(photos)
    for photo in photos:
        quality = photo.quality or {}
        photo.figures = [(label, fmt.format(quality[key])) for key, label, fmt in _FIGURES
                         if isinstance(quality.get(key), (int, float))]
        liveness = quality.get("liveness")
        if isinstance(liveness, dict):
            verdict = "live" if liveness.get("is_live") else "possible presentation attack"
            photo.figures.append(("Liveness", f"{liveness.get('score', 0):.3f} ({verdict})"))
    return photos


def _uploads(files) -> list[services.Upload]:
    return [services.Upload(name=f.name, data=f.read()) for f in files]


# --- list and enrollment --------------------------------------------------------


@capability_required(*selectors.READ_IDENTITIES)
@require_GET
def identity_list(request):
    queryset = selectors.identities_overview().order_by("status", "display_name", "id")  # erased last
    queryset = selectors.visible_identities(request.user, queryset)
    q = request.GET.get("q", "").strip()
    if q:
        queryset = queryset.filter(Q(display_name__icontains=q) | Q(external_ref__icontains=q))
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "identities/identity_list.html", {"page": page, "q": q})


@capability_required(*selectors.CHANGE_IDENTITIES)
@require_http_methods(["GET", "POST"])
def identity_create(request):
    if request.method == "POST":
        identity_form = IdentityForm(request.POST)
        consent_form = ConsentForm(request.POST)
        photos_form = PhotosForm(request.POST, request.FILES, required=False)
        if all([identity_form.is_valid(), consent_form.is_valid(), photos_form.is_valid()]):
            try:
                # A person without consent is of no use: both or neither.
                with transaction.atomic():
                    identity = services.create_identity(**identity_form.cleaned_data, actor=request.user)
                    services.record_consent(identity=identity, actor=request.user, **consent_form.consent_kwargs())
            except DomainError as exc:
                add_domain_error(consent_form if exc.field in consent_form.fields else identity_form, exc)
            except IntegrityError:  # external_ref taken between the form's check and the insert
                identity_form.add_error("external_ref", "Another person already has this external reference.")
            else:
                messages.success(request, format_html("<bdi>{}</bdi> was added with their consent.",
                                                      identity.display_name))
                files = photos_form.cleaned_data["photos"]
                if files:
                    try:
                        images = services.enroll_photos(identity=identity, uploads=_uploads(files),
                                                        actor=request.user)
                    except DomainError as exc:
                        request.session[_PHOTO_ERROR_KEY] = {"identity": identity.pk, "message": exc.message}
                        messages.error(request, "No photo was stored: see the error beside the photo upload below.")
                    else:
                        messages.success(request, _photos_queued(len(images)))
                return redirect("identities:detail", pk=identity.pk)
    else:
        identity_form, consent_form, photos_form = IdentityForm(), ConsentForm(), PhotosForm(required=False)
    return render(request, "identities/identity_form.html", {
        "identity_form": identity_form, "consent_form": consent_form, "photos_form": photos_form,
    })


def _photos_queued(count: int) -> str:
    return (f"{count} photo{'s' if count != 1 else ''} uploaded: they are checked for a usable face, "
            f"then wait for review.")


# --- detail and its forms -------------------------------------------------------


def _detail_page(request, identity: Identity, *, photos_form=None, consent_form=None, status: int = 200):
    if photos_form is None:
        photos_form = PhotosForm()
        stashed = request.session.pop(_PHOTO_ERROR_KEY, None)
        if stashed and stashed.get("identity") == identity.pk:
            # An unbound form has no cleaned_data for add_error(); its (empty) error dict takes it.
            photos_form.errors["photos"] = photos_form.error_class([stashed["message"]])
    photos = _with_figures(identity.images.select_related("uploaded_by"))
    return render(request, "identities/identity_detail.html", {
        "identity": identity,
        "consents": [(c, c.is_valid()) for c in identity.consents.select_related("recorded_by")],
        "valid_consent": selectors.valid_consent(identity),
        "photos": photos,
        "processing": any(p.status in (EnrollmentImage.Status.PENDING, EnrollmentImage.Status.PROCESSING)
                          for p in photos),
        "history": selectors.identity_history(identity)[:100],
        "photos_form": photos_form,
        "consent_form": consent_form or ConsentForm(),
        "active": identity.status == Identity.Status.ACTIVE,
        "erase_after_days": settings.FACEREC_ERASE_AFTER_WITHDRAWAL_DAYS,
        "reenrollment_requests": _open_reenrollment_requests(request.user, identity),
        "can_change": selectors.may_change_identity(request.user, identity),
        "show_faces": selectors.may_see_faces(request.user, identity),
    }, status=status)


def _open_reenrollment_requests(user, identity: Identity) -> list:
    """Who manages re-enrollment sees why this person is asked to re-enroll (the requests page has them all)."""
    if not can(user, "manage_reenrollment"):
        return []
    return with_summaries(open_requests_of(identity)[:REENROLLMENT_REQUESTS_SHOWN])


@capability_required(*selectors.READ_IDENTITIES)
@require_GET
def identity_detail(request, pk: int):
    identity = get_object_or_404(selectors.visible_identities(request.user), pk=pk)
    return _detail_page(request, identity)


@capability_required(*selectors.CHANGE_IDENTITIES)
@require_POST
def add_photos(request, pk: int):
    identity = _changeable_identity(request, pk)
    form = PhotosForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            images = services.enroll_photos(identity=identity, uploads=_uploads(form.cleaned_data["photos"]),
                                            actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _photos_queued(len(images)))
            return redirect("identities:detail", pk=identity.pk)
    return _detail_page(request, identity, photos_form=form)


@capability_required(*selectors.CHANGE_IDENTITIES)
@require_POST
def add_consent(request, pk: int):
    identity = _changeable_identity(request, pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            services.record_consent(identity=identity, actor=request.user, **form.consent_kwargs())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "The consent was recorded.")
            return redirect("identities:detail", pk=identity.pk)
    return _detail_page(request, identity, consent_form=form)


@capability_required("manage_identities")
@require_POST
def withdraw_consent(request, pk: int):
    consent = get_object_or_404(Consent, pk=pk)
    try:
        consent = services.withdraw_consent(consent=consent, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        note = "The consent was withdrawn: this person's templates no longer match."
        if consent.identity.erasure_due_at is not None:
            note += (f" No valid consent is left, so the person is erased from "
                     f"{timezone.localtime(consent.identity.erasure_due_at):%Y-%m-%d %H:%M}.")
        messages.success(request, note)
    return redirect("identities:detail", pk=consent.identity_id)


@capability_required("erase")
@require_http_methods(["GET", "POST"])
def identity_erase(request, pk: int):
    identity = get_object_or_404(Identity, pk=pk)
    if request.method == "POST":
        counts = services.erase_identity(identity=identity, actor=request.user)
        messages.success(request, f"Identity #{identity.pk} was erased: {counts['photos']} photos, "
                                  f"{counts['embeddings']} templates and {counts['consents']} consents removed.")
        return redirect("identities:list")
    return render(request, "identities/identity_erase.html", {
        "identity": identity, "photo_count": identity.images.count(), "consent_count": identity.consents.count(),
    })


# --- review queue ---------------------------------------------------------------


@capability_required("review")
@require_http_methods(["GET", "POST"])
def review_queue(request):
    form = ReviewForm(request.POST) if request.method == "POST" else ReviewForm()
    if form.is_bound and form.is_valid():
        ids, action = form.cleaned_data["ids"], form.cleaned_data["action"]
        try:
            if action == "approve":
                services.approve_photos(image_ids=ids, actor=request.user)
            else:
                services.reject_photos(image_ids=ids, reason=form.cleaned_data["reason"], actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            verb = "approved" if action == "approve" else "rejected"
            messages.success(request, f"{len(ids)} photo{'s' if len(ids) != 1 else ''} {verb}.")
            return redirect(request.get_full_path())
    selected = set(form.cleaned_data.get("ids", [])) if form.is_bound else set()
    page = Paginator(selectors.photos_awaiting_review(), REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _with_figures(page.object_list)
    return render(request, "identities/review_queue.html", {"page": page, "form": form, "selected": selected})


# --- private photo files --------------------------------------------------------


def _private_file_response(request, pk: int, which: str) -> FileResponse | HttpResponse:
    image = get_object_or_404(selectors.photos_with_visible_faces(request.user), pk=pk)
    # Decrypted by Django, or sent by nginx (FACEREC_MEDIA_ACCEL_REDIRECT) when stored plain.
    return photo_file_response(image, which)


@capability_required("view_faces", "enroll")
@require_GET
def photo_crop(request, pk: int):
    return _private_file_response(request, pk, "crop")


@capability_required("view_faces", "enroll")
@require_GET
def photo_original(request, pk: int):
    return _private_file_response(request, pk, "original")


# --- group photos: the reviewer picks the person's face -------------------------------


@capability_required("review")
@require_http_methods(["GET", "POST"])
def photo_faces(request, pk: int):
    """The photo with every significant face boxed and numbered, the chosen one green; picking another
    redoes the checks and the template for that face (services.choose_face)."""
    image = get_object_or_404(selectors.photos_with_visible_faces(request.user), pk=pk)
    error = None
    if request.method == "POST":
        try:
            index = int(request.POST.get("face", ""))
        except ValueError:
            error = "Pick one of the faces."
        else:
            try:
                image = services.choose_face(image_id=image.pk, index=index, actor=request.user)
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(request, f"Photo #{image.pk}: face {index + 1} is now the person's "
                                          f"({image.get_status_display()}).")
                return redirect("identities:review")
    picture = None
    if image.faces:
        pixels = read_image_file(image.file)
        picture = annotated_picture(pixels, [(face["box"], str(number), number - 1 == image.face_index)
                                             for number, face in enumerate(image.faces, start=1)])
    return render(request, "identities/photo_faces.html", {
        "photo": image, "picture": picture, "error": error,
        "faces": [{"number": n, "index": n - 1, **face} for n, face in enumerate(image.faces, start=1)]},
        status=400 if error else 200)
