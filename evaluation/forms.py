"""Forms of the report pages: they parse input; the rules live in the serializer the API shares
(evaluation.reports.parameters.ReportParameters, through services.create_report)."""

from __future__ import annotations

from django import forms

from evaluation.datasets import available_folders
from evaluation.models import EvaluationReport
from recognition.models import RecognitionThreshold


def _number(field_class, label: str, help_text: str = "", **kwargs) -> forms.Field:
    # Ranges are checked by the service, so the page and the API give the same message.
    return field_class(label=label, required=False, help_text=help_text,
                       widget=forms.NumberInput(attrs={"step": "any"} if field_class is forms.FloatField else {}),
                       **kwargs)


class ReportForm(forms.Form):
    """A new report: its kind and the parameters that differ from the defaults."""

    # The parameters a report takes from this form, in the order they are sent.
    PARAMETERS = ("source", "folder", "pairs", "pairs_per_fold", "tta", "subtract_mean", "folds", "min_photos",
                  "holdout", "holdout_fraction", "enrolled", "strangers", "gallery_photos",
                  "max_probes_per_identity", "target_far", "target_fpir", "max_identities",
                  "max_photos_per_identity", "seed")

    kind = forms.ChoiceField(choices=EvaluationReport.Kind.choices, label="Kind")
    source = forms.ChoiceField(
        choices=[("", "default for the kind"), ("enrolled", "the platform's approved photos"),
                 ("folder", "a dataset folder")],
        required=False, label="Data",
        help_text="Benchmark reports read a folder, enrolled-data reports the approved photos; an open-set "
                  "report can use either.")
    folder = forms.ChoiceField(required=False, label="Dataset folder",
                               help_text="A folder under the configured dataset roots (a folder per identity, "
                                         "or LFW).")
    pairs = forms.CharField(required=False, max_length=200, label="Pairs file",
                            help_text="Benchmark: a pairs file in the folder (e.g. pairs.txt) for the LFW "
                                      "protocol; empty: all pairs of the folder's identities.")
    pairs_per_fold = _number(forms.IntegerField, "Pairs per fold",
                             "Benchmark with a pairs file: use only the first N genuine and N impostor pairs "
                             "of each fold (a quick run).")
    tta = forms.BooleanField(required=False, label="Flip test-time augmentation",
                             help_text="Embeds each photo and its mirror image. Verify and identify do not, so "
                                       "its threshold cannot be applied.")
    subtract_mean = forms.BooleanField(required=False, label="Subtract the training folds' mean",
                                       help_text="Benchmark with a pairs file: the accuracy protocol only.")
    folds = _number(forms.IntegerField, "Folds", "k of the k-fold identification (default 5).")
    min_photos = _number(forms.IntegerField, "Minimum photos per identity",
                         "Identities with fewer are listed, not used for identification (default 3).")
    holdout = forms.CharField(required=False, label="Held-out identities",
                              help_text="Open set: identity labels treated as strangers, separated by commas; "
                                        "empty: a random fraction.")
    holdout_fraction = _number(forms.FloatField, "Held-out fraction",
                               "Open set: the share of identities held out when none are named (default 0.25).")
    enrolled = _number(forms.IntegerField, "People to enroll",
                       "Open set: draw this many people with more photos than the gallery takes (default: "
                       "everyone not held out).")
    strangers = _number(forms.IntegerField, "Strangers",
                        "Open set: draw this many never-enrolled people instead of a held-out fraction.")
    gallery_photos = _number(forms.IntegerField, "Gallery photos per person",
                             "Open set: photos enrolled per person; the others probe (default 5).")
    max_probes_per_identity = _number(forms.IntegerField, "Probes per person",
                                      "Open set: at most this many probe photos per person or stranger (default 4).")
    target_far = _number(forms.FloatField, "Target FAR",
                         "The false accept rate the recommended verify threshold keeps to (e.g. 0.001).")
    target_fpir = _number(forms.FloatField, "Target FPIR",
                          "Open set: the false positive identification rate the recommended identify threshold "
                          "keeps to (e.g. 0.01).")
    max_identities = _number(forms.IntegerField, "Maximum identities", "Folder: read at most this many.")
    max_photos_per_identity = _number(forms.IntegerField, "Maximum photos per identity",
                                      "Folder: read at most this many of each.")
    seed = _number(forms.IntegerField, "Random seed", "Same seed, same pairs and folds (default 0).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read per form: the dataset roots can change while the site runs.
        self.fields["folder"].choices = [("", "—")] + [(name, name) for name in available_folders()]

    def parameters(self) -> dict:
        """The filled-in parameters only, so the service's defaults apply to the rest."""
        data = self.cleaned_data
        out: dict = {}
        for name in self.PARAMETERS:
            value = data.get(name)
            if value is None or value == "" or value is False:
                continue
            if name == "holdout":
                value = [label.strip() for label in value.split(",") if label.strip()]
                if not value:
                    continue
            out[name] = value.strip() if isinstance(value, str) else value
        return out


class ApplyThresholdForm(forms.Form):
    kind = forms.ChoiceField(choices=RecognitionThreshold.Kind.choices)
