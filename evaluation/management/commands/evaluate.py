"""evaluate: run a report kind synchronously and write report.json, metrics.csv and the plots to a folder."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from evaluation import reports
from evaluation.datasets import DatasetError

# option name -> parameter name; unset options fall back to the report's defaults
OPTIONS = ("folder", "pairs", "pairs_per_fold", "tta", "subtract_mean", "folds", "min_photos", "source", "holdout",
           "holdout_fraction", "gallery_photos", "max_probes_per_identity", "enrolled", "strangers", "target_far", "target_fpir", "max_identities",
           "max_photos_per_identity", "max_impostor_pairs", "seed")


class Command(BaseCommand):
    help = ("Evaluate recognition like a report does (enrolled data, a benchmark folder, or an open set) and "
            "write report.json, metrics.csv and PNG plots to --out.")

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=reports.KINDS)
        parser.add_argument("--out", required=True, type=Path, help="folder for report.json, metrics.csv, plots")
        parser.add_argument("--folder", help="dataset folder under FACEREC_DATASET_ROOTS (benchmark, open set)")
        parser.add_argument("--pairs", help="pairs file inside the folder, e.g. pairs.txt (LFW protocol)")
        parser.add_argument("--pairs-per-fold", type=int, help="only the first N same + N different pairs per fold")
        parser.add_argument("--tta", action="store_true", help="flip test-time augmentation")
        parser.add_argument("--subtract-mean", action="store_true", help="subtract the training folds' mean")
        parser.add_argument("--folds", type=int, help="identification folds (default 5)")
        parser.add_argument("--min-photos", type=int, help="photos an identity needs to be used (default 3; open set 2)")
        parser.add_argument("--source", choices=["enrolled", "folder"], help="open set: data source")
        parser.add_argument("--holdout", help="open set: comma-separated identities held out as strangers")
        parser.add_argument("--holdout-fraction", type=float, help="open set: share held out when --holdout unset")
        parser.add_argument("--enrolled", type=int, help="open set: draw this many people to enroll (default: all "
                            "but the strangers)")
        parser.add_argument("--strangers", type=int, help="open set: draw this many never-enrolled people")
        parser.add_argument("--gallery-photos", type=int, help="open set: photos enrolled per person (default 5)")
        parser.add_argument("--max-probes-per-identity", type=int,
                            help="open set: probe photos per enrolled person or stranger (default 4)")
        parser.add_argument("--target-far", type=float)
        parser.add_argument("--target-fpir", type=float)
        parser.add_argument("--max-identities", type=int)
        parser.add_argument("--max-photos-per-identity", type=int)
        parser.add_argument("--max-impostor-pairs", type=int)
        parser.add_argument("--seed", type=int)

    def handle(self, *args, kind: str, out: Path, **options):
        raw = {name: options[name] for name in OPTIONS if options.get(name) not in (None, False)}
        try:
            parameters = reports.clean_parameters(kind, raw)
        except reports.ParameterError as exc:
            raise CommandError(f"--{exc.field.replace('_', '-')}: {exc}")
        with tqdm(total=100, desc=kind, unit="%", file=self.stderr, dynamic_ncols=True) as bar:
            def progress(fraction: float, message: str) -> None:
                bar.set_postfix_str(message[:60], refresh=False)
                bar.update(round(100 * fraction) - bar.n)

            try:
                output = reports.run_report(kind, parameters, out, progress)
            except (reports.ParameterError, DatasetError) as exc:
                raise CommandError(str(exc))
        document = reports.report_document(kind=kind, parameters=parameters, output=output)
        reports.write_exports(out, document)
        self._print(output)
        self.stdout.write(f"written: {out / 'report.json'}, {out / 'metrics.csv'}, "
                          + ", ".join(str(out / name) for name in output.plots.values()))

    def _print(self, output: reports.ReportOutput) -> None:
        m = output.metrics
        self.stdout.write(f"model {output.model_version}; data {m.get('data')}")
        v = m.get("verification")
        if v:
            ci = v.get("confidence_intervals", {}).get("auc")
            ci_text = f" (95% CI {ci['low']:.4f}-{ci['high']:.4f})" if ci else ""
            self.stdout.write(f"verification: {v['pairs']['genuine']} genuine / {v['pairs']['impostor']} impostor "
                              f"pairs; AUC {v['auc']:.4f}{ci_text}; EER {100 * v['eer']:.2f}% "
                              f"at {_num(v['eer_threshold'])}; accuracy {100 * v['accuracy']['mean']:.2f}% "
                              f"+- {100 * v['accuracy']['std']:.2f} ({v['accuracy']['folds']} folds)")
            for far, t in v["tar_at_far"].items():
                note = "" if t["resolvable"] else " (below what the impostor pairs can resolve)"
                self.stdout.write(f"  TAR @ FAR {far}: {100 * t['tar']:.2f}% at {_num(t['threshold'])}{note}")
        i = m.get("identification")
        if i:
            self.stdout.write(f"identification: {i['identities']} identities, {i['photos']} photos, "
                              f"{i['folds']} folds, {len(i['excluded_identities'])} identities with fewer than "
                              f"{i['min_photos']} photos left out")
            for method, r in i["methods"].items():
                self.stdout.write(f"  {method}: top-1 {100 * r['top1']:.2f}%, top-5 {100 * r['top5']:.2f}%")
        o = m.get("open_set")
        if o:
            self.stdout.write(f"open set: {o['enrolled_identities']} enrolled ({o['gallery_photos']} gallery photos), "
                              f"{len(o['held_out_identities'])} strangers; {o['mated_probes']} mated / "
                              f"{o['nonmated_probes']} non-mated probes")
            for method, r in o["methods"].items():
                rates = ", ".join(f"DIR {100 * d['dir']:.1f}% @ FPIR {f}" + ("" if d["resolvable"] else "*")
                                  for f, d in r["dir_at_fpir"].items())
                self.stdout.write(f"  {method}: top-1 {100 * r['rank1_closed_set']:.1f}%; {rates}")
                t = r.get("at_threshold")
                if t:
                    self.stdout.write(f"    at the threshold in force {t['threshold']:.4f} ({t.get('source', '')}): "
                                      f"correct {100 * t['correct']:.1f}%, wrong person {100 * t['wrong_person']:.1f}%"
                                      f", unknown {100 * t['unknown']:.1f}%; strangers accepted "
                                      f"{100 * t['strangers_accepted']:.2f}%")
            v = o["verify_identity"]
            t = v.get("at_threshold")
            if t:
                self.stdout.write(f"verify (identity mode): {v['claims']['genuine']} genuine / "
                                  f"{v['claims']['impostor']} impostor claims; at the threshold in force "
                                  f"{t['threshold']:.4f}: TAR {100 * t['tar']:.2f}%, FAR {100 * t['far']:.3f}%")
        live = m.get("liveness")
        if live:
            self.stdout.write(f"liveness: {100 * live['bona_fide_accepted']:.2f}% of {live['photos']} bona fide photos "
                              f"accepted at {live['threshold']:g} (score p1 {live['score_p1']:.3f}, median "
                              f"{live['score_median']:.3f})")
        for kind, rec in m.get("recommended", {}).items():
            state = "applicable" if rec.get("applicable") else f"not applicable: {rec.get('not_applicable_because')}"
            self.stdout.write(f"recommended {kind} threshold: {_num(rec.get('threshold'))} ({state})")
        if output.skipped:
            self.stdout.write(f"skipped images: {len(output.skipped)}")


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
