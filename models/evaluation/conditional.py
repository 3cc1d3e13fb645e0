"""What a conditional edit saves: the drift of the attributes held fixed, with and without `keep`.

    python -m models.evaluation.conditional --model models/weights/faces64 [--photos DIR] [--n 60]
        [--amount 0.3] [--steps 20] [--out docs/evaluation_photos]

A slider moves z_sem along its classifier direction; the directions of correlated attributes
are not orthogonal (smiling faces in the training data are younger, say), so an edit drags the
others along. `keep` (InterFaceGAN's conditional manipulation, `AttributeClassifier.direction`)
moves along the part orthogonal to the kept directions instead. On real photos, aligned by the
project's aligner (the protocol of `models.evaluation.photos`), for each judged edit among Smiling,
Young and Male with the other two kept, this measures both ways, plain and kept, at +amount:

- the model's classifier on the re-encoded result: the change of the edited logit (target) and
  the mean |change| of the kept logits (leakage);
- the independent judges (`models.facegen.labels`: age in years, the gender network's
  log-odds, the landmark smile logit), in units of each measure's spread over the unedited
  photos: the same two figures.

The report is `conditional.json` and `conditional.md` in --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.evaluation.batching import Batched, Meter
from models.evaluation.photos import JUDGED, faces_and_model, judge_measures, to_judge, to_model
from models.facegen.labels import Calibration, FaceMeasurer
from models.pipeline import DiffAEPipeline

#: The edits measured, each with the attributes it keeps (those of the three the model has).
TRIO = ("Smiling", "Young", "Male")


def measure(
    pipe: DiffAEPipeline, faces: np.ndarray, amount: float = 0.3, steps: int = 20, batch: int = 32,
    verbose: bool = True,
) -> dict[str, Any]:
    """For each edit of `TRIO` the model has: target change and kept-attribute leakage, plain and
    conditional, by the classifier and by the judges (JSON-ready)."""
    names = [a for a in TRIO if a in pipe.attributes]
    encode_steps = pipe.config.diffusion.encode_steps or pipe.config.diffusion.default_steps
    n = len(faces)
    run = Batched(pipe, batch, Meter(n * (encode_steps + steps * (1 + 2 * len(names))), verbose))
    z, x_T = run.invert(to_model(faces, pipe.image_size), encode_steps)
    base = run.decode(z, x_T, steps, "(unedited)")
    s0 = pipe.attribute_scores(run.encode_semantic(base)).cpu().numpy()
    measurer, cal = FaceMeasurer(), Calibration.load()
    j0 = judge_measures(measurer, cal, to_judge(base))
    spread = j0.std(0) + 1e-6
    index = {a: pipe.attributes.index(a) for a in names}
    out: dict[str, Any] = {}
    for name in names:
        kept = [a for a in names if a != name]
        row: dict[str, Any] = {"keep": kept}
        for mode, keep in (("plain", []), ("kept", kept)):
            edited = pipe.manipulate(z, {name: amount}, keep).cpu()
            x = run.decode(edited, x_T, steps, f"({name} +{amount:g}, {mode})")
            c = pipe.attribute_scores(run.encode_semantic(x)).cpu().numpy() - s0
            j = (judge_measures(measurer, cal, to_judge(x)) - j0) / spread
            row[mode] = {
                "classifier": {"target": float(c[:, index[name]].mean()),
                               "leakage": float(np.abs(c[:, [index[k] for k in kept]]).mean())},
                "judge": {"target": float(j[:, JUDGED.index(name)].mean()),
                          "leakage": float(np.abs(j[:, [JUDGED.index(k) for k in kept]]).mean()),
                          "kept_mean_change": {k: float(j[:, JUDGED.index(k)].mean()) for k in kept}},
            }
        for judge in ("classifier", "judge"):
            plain, held = row["plain"][judge]["leakage"], row["kept"][judge]["leakage"]
            row[f"{judge}_leakage_saved"] = float(1 - held / plain) if plain > 0 else None
        out[name] = row
        if verbose:
            c, j = (f"{row['plain'][w]['leakage']:.3f} → {row['kept'][w]['leakage']:.3f}"
                    for w in ("classifier", "judge"))
            print(f"  {name} keeping {', '.join(kept)}: leakage by the classifier {c}, by the judges {j}",
                  flush=True)
    return {"model": pipe.config.preset, "photos": n, "amount": amount, "steps": steps,
            "encode_steps": encode_steps, "edits": out}


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Conditional edits: what keeping attributes fixed saves",
        "",
        f"`python -m models.evaluation.conditional --model ... --n {report['photos']} --amount "
        f"{report['amount']}`: {report['photos']} real photos (CelebA crops aligned by our aligner), "
        f"model `{report['model']}`, edit +{report['amount']} decoded with {report['steps']} DDIM steps "
        f"from x_T inverted with {report['encode_steps']}.",
        "",
        "Target: mean change of the edited attribute; leakage: mean |change| of the kept ones. "
        "Classifier: the model's logits on the re-encoded result. Judges: independent measures "
        "(age, gender network, smile from landmarks) in units of their spread over the unedited photos.",
        "",
        "| edit | kept | classifier target (plain → kept) | classifier leakage | judge target "
        "| judge leakage |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["edits"].items():
        p, k = row["plain"], row["kept"]
        lines.append(
            f"| {name} +{report['amount']} | {', '.join(row['keep'])} "
            f"| {p['classifier']['target']:.3f} → {k['classifier']['target']:.3f} "
            f"| {p['classifier']['leakage']:.3f} → {k['classifier']['leakage']:.3f} "
            f"| {p['judge']['target']:.3f} → {k['judge']['target']:.3f} "
            f"| {p['judge']['leakage']:.3f} → {k['judge']['leakage']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.evaluation.conditional",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--photos", default=None, help="a folder of photos (default: the CelebA crops, fetched)")
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--amount", type=float, default=0.3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", type=Path, default=Path("docs/evaluation_photos"))
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    pipe, faces = faces_and_model(args.model, args.photos, args.n)
    report = measure(pipe, faces, args.amount, args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conditional.json").write_text(json.dumps(report, indent=2))
    (args.out / "conditional.md").write_text(render_markdown(report))
    print(f"{len(faces)} photos; wrote {args.out}/conditional.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
