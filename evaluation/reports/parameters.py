"""A report's parameters: one DRF serializer validates them for the page, the API, the schedule and
`manage.py evaluate`, fills in the defaults and names the field at fault."""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework import serializers
from rest_framework.fields import empty

from evaluation.datasets import DatasetError, resolve_folder
from evaluation.models import EvaluationReport

Kind = EvaluationReport.Kind
KINDS = tuple(Kind.values)
SOURCES = ("enrolled", "folder")
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class ParameterError(ValueError):
    """A parameter a report cannot use; `field` names it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class _Value(serializers.Field):
    """Parameters are stored as validated: plain JSON values."""

    def to_representation(self, value):
        return value


class _Parameter(_Value):
    """Optional: absent, null or "" takes `default` (a callable is read at each use)."""

    def __init__(self, *, default=None):
        self.fallback = default
        super().__init__(required=False, allow_null=True)

    def validate_empty_values(self, data):
        if data is empty or data is None or data == "":
            return True, self.fallback() if callable(self.fallback) else self.fallback
        return False, data


class WholeNumber(_Parameter):
    def __init__(self, low: int, high: int, *, default: int | None = None):
        super().__init__(default=default)
        self.low, self.high = low, high

    def to_internal_value(self, data) -> int:
        try:
            value = int(data)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an infinity from a form or the CLI
            raise serializers.ValidationError(f"{self.field_name} must be a whole number") from None
        if not self.low <= value <= self.high:
            raise serializers.ValidationError(f"{self.field_name} must be between {self.low} and {self.high}")
        return value


class Number(_Parameter):
    def __init__(self, low: float, high: float, *, default):
        super().__init__(default=default)
        self.low, self.high = low, high

    def to_internal_value(self, data) -> float:
        try:
            value = float(data)
        except (TypeError, ValueError):
            raise serializers.ValidationError(f"{self.field_name} must be a number") from None
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise serializers.ValidationError(f"{self.field_name} must be between {self.low:g} and {self.high:g}")
        return value


class Flag(_Parameter):
    def __init__(self):
        super().__init__(default=False)

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        word = data.lower() if isinstance(data, str) else None
        if word in TRUE_WORDS:
            return True
        if data == 0 or word in FALSE_WORDS:
            return False
        raise serializers.ValidationError(f"{self.field_name} must be true or false")


class Labels(_Parameter):
    """Identity labels: a list, or one string separated by commas or lines."""

    def __init__(self):
        super().__init__(default=list)

    def to_internal_value(self, data) -> list[str]:
        if not data:
            return []
        if isinstance(data, str):
            data = [label.strip() for label in data.replace("\n", ",").split(",") if label.strip()]
        if not isinstance(data, list) or not all(isinstance(label, (str, int)) for label in data):
            raise serializers.ValidationError(f"{self.field_name} must be a list of identity labels")
        return [str(label) for label in data]


class Name(_Value):
    """A file or folder name, "" when absent (a pairs file is looked for in its folder by the serializer)."""

    def validate_empty_values(self, data):
        return False, "" if data is empty else data

    def to_internal_value(self, data) -> str:
        return str(data or "").strip()


class FolderName(Name):
    def to_internal_value(self, data) -> str:
        name = super().to_internal_value(data)
        try:
            resolve_folder(name)
        except DatasetError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return name


class Source(_Value):
    """enrolled (the approved photos) or folder; what the kind reads is the only one it takes."""

    def to_internal_value(self, data) -> str:
        kind = self.parent.context["kind"]
        if kind == Kind.BENCHMARK and data != "folder":
            raise serializers.ValidationError("a benchmark report reads a dataset folder")
        if data not in SOURCES:
            raise serializers.ValidationError("source must be enrolled or folder")
        if kind == Kind.ENROLLED and data != "enrolled":
            raise serializers.ValidationError("an enrolled-data report reads the platform's approved photos")
        return data


COMMON = ("seed", "target_far", "min_photos", "folds", "max_impostor_pairs", "source")
FROM_A_FOLDER = ("folder", "max_identities", "max_photos_per_identity", "tta")
BENCHMARK = ("pairs",)
WITH_PAIRS = ("pairs_per_fold", "subtract_mean")
OPEN_SET = ("holdout", "holdout_fraction", "gallery_photos", "max_probes_per_identity", "enrolled", "strangers",
            "target_fpir")


class ReportParameters(serializers.Serializer):
    """The parameters of one report kind (context["kind"]), defaults filled in, in this order.

    Parameters another kind or data source takes are left out unread; one no report takes is refused.
    """

    seed = WholeNumber(0, 2**31 - 1, default=0)
    target_far = Number(1e-6, 0.5, default=lambda: settings.FACEREC_TARGET_FAR)
    # Closed-set identification needs 3 photos per identity; an open set's strangers 1, but
    # LFW's single-photo people are the impostors the shipped calibration was measured on.
    min_photos = WholeNumber(2, 1000, default=3)
    folds = WholeNumber(2, 10, default=5)
    max_impostor_pairs = WholeNumber(1000, 5_000_000, default=500_000)
    source = Source()
    folder = FolderName()
    max_identities = WholeNumber(2, 1_000_000)
    max_photos_per_identity = WholeNumber(1, 100_000)
    tta = Flag()
    pairs = Name()
    pairs_per_fold = WholeNumber(1, 100_000)
    subtract_mean = Flag()
    holdout = Labels()
    holdout_fraction = Number(0.01, 0.9, default=0.25)
    gallery_photos = WholeNumber(1, 100, default=5)
    max_probes_per_identity = WholeNumber(1, 1000, default=4)
    enrolled = WholeNumber(1, 1_000_000)
    strangers = WholeNumber(1, 1_000_000)
    target_fpir = Number(1e-6, 0.5, default=lambda: settings.FACEREC_TARGET_FPIR)

    @property
    def kind(self) -> str:
        return self.context["kind"]

    @property
    def source_asked(self):
        raw = self.initial_data
        return raw.get("source") or ("folder" if self.kind == Kind.BENCHMARK or raw.get("folder") else "enrolled")

    def get_fields(self):
        fields = super().get_fields()
        used = [*COMMON]
        if self.source_asked == "folder":
            used += FROM_A_FOLDER
        if self.kind == Kind.BENCHMARK:
            used += BENCHMARK
            if str(self.initial_data.get("pairs") or "").strip():
                used += WITH_PAIRS
            elif self.initial_data.get("subtract_mean"):
                used += ("subtract_mean",)  # read only to be refused (below), unless it says false
        if self.kind == Kind.OPEN_SET:
            used += OPEN_SET
            fields["min_photos"] = WholeNumber(1, 1000, default=2)
        return {name: field for name, field in fields.items() if name in used}

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self._declared_fields))
        if unknown:
            raise serializers.ValidationError({unknown[0]: [f"unknown parameter(s): {', '.join(unknown)}"]})
        return super().to_internal_value({**data, "source": self.source_asked})

    def validate(self, attrs: dict) -> dict:
        if self.kind == Kind.BENCHMARK:
            if attrs["pairs"]:
                folder = resolve_folder(attrs["folder"])
                try:
                    path = (folder / attrs["pairs"]).resolve()  # a link out of the folder resolves outside it
                    usable = path.is_relative_to(folder) and path.is_file()
                except (ValueError, OSError):  # a NUL byte, a name too long
                    usable = False
                if not usable:
                    raise serializers.ValidationError({"pairs": f"no pairs file {attrs['pairs']!r} in "
                                                                f"{attrs['folder']}"})
            else:
                if attrs.pop("subtract_mean", False):
                    raise serializers.ValidationError(
                        {"subtract_mean": "subtract_mean needs a pairs file (it uses the training folds)"})
                del attrs["pairs"]
        if self.kind == Kind.OPEN_SET and attrs["holdout"] and attrs["strangers"]:
            raise serializers.ValidationError(
                {"strangers": "name the held-out identities or how many strangers to draw, not both"})
        return attrs


def clean_parameters(kind: str, raw: dict | None) -> dict:
    """Validated parameters with defaults filled in; ParameterError names the field at fault."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}", "kind")
    parameters = ReportParameters(data=dict(raw or {}), context={"kind": kind})
    if not parameters.is_valid():
        field, messages = next(iter(parameters.errors.items()))
        raise ParameterError(str(messages[0]), field)
    return dict(parameters.validated_data)
