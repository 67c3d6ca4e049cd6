"""A replication package: what a reviewer needs to recompute an estimate's figures without the database.

The folder holds the sample (its seed, population rule, every unit of its population in the draw's order, and
its members), every human code of its members (coder, the codebook version it was given under, the labels as
given and as read under the version in use, and which code the estimate used), the model's scores for the
whole population, the codebook, the estimate's own output, the estimator's source as it ran
(`intervals.py`, numpy only) and `recompute.py`, which reads those files, recomputes every figure and compares.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db import samples as sample_store
from replies.db.labels import codebook_content
from replies.db.schema import ADJUDICATED
from replies.db.versions import Reader
from replies.files import atomic_folder

from .errors import ExportError

RECOMPUTE = '''"""Recompute every figure of estimate.json from the files beside it, with numpy alone, and compare.

    python recompute.py

The estimator is intervals.py, the code replies ran (see its docstring). For each category: the model's mean score
over the population (scores.csv), the coded members' scores and codes (the codes the estimate used: codes.csv,
used = 1, labels as read under the codebook version in use), then `combine`. Exits 1 if any figure differs by
more than 1e-9.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # intervals.py beside this file, however Python was started

from intervals import combine, fpc  # noqa: E402


def main():
    estimate = json.loads((HERE / "estimate.json").read_text(encoding="utf-8"))
    sample = json.loads((HERE / "sample.json").read_text(encoding="utf-8"))
    population = len(sample["population"])
    ids = [c["id"] for c in estimate["categories"]]
    scores = {}  # (position, category) -> (score, predicted)
    with open(HERE / "scores.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            scores[(int(row["position"]), row["category"])] = (float(row["score"]), int(row["predicted"]))
    codes = {}
    with open(HERE / "codes.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["used"] == "1":
                codes[int(row["position"])] = [c for c in row["labels_read"].split(";") if c]
    positions = sorted(codes)
    n = len(positions)
    checked, wrong = 0, []
    for category in estimate["categories"]:
        cid = category["id"]
        if category.get("estimate") is None:
            continue
        mean = sum(scores[(p, cid)][0] for p in range(population)) / population
        tagged = sum(scores[(p, cid)][1] for p in range(population)) / population
        member = np.array([scores[(p, cid)][0] for p in positions])
        coded = np.array([float(cid in codes[p]) for p in positions])
        shares = combine(mean, member, coded, population, estimate["level"])
        correction = fpc(population, n) * float(shares.deff)
        mine = {"estimate": float(shares.estimate), "low": float(shares.low), "high": float(shares.high),
                "count": float(shares.estimate) * population, "count_low": float(shares.low) * population,
                "count_high": float(shares.high) * population, "model_only": tagged,
                "coded_positive": int(coded.sum()),
                "effective_n": round(n / correction, 1) if correction > 0 else None,
                "human_only.estimate": float(shares.human), "human_only.low": float(shares.human_low),
                "human_only.high": float(shares.human_high)}
        for key, value in mine.items():
            theirs = category["human_only"][key.split(".")[1]] if key.startswith("human_only.") else category[key]
            checked += 1
            if (value is None) != (theirs is None) or (value is not None and abs(value - theirs) > 1e-9):
                wrong.append(f"{cid} {key}: recomputed {value}, estimate.json {theirs}")
        print(f"{cid:<28} {100 * mine['estimate']:6.2f}%  ({100 * mine['low']:.2f} to {100 * mine['high']:.2f})")
    if estimate["labelled"] != n or estimate["population"] != population:
        wrong.append(f"coded {n} and population {population}, estimate.json {estimate['labelled']} and "
                     f"{estimate['population']}")
    if wrong:
        print("NOT reproduced:\\n  " + "\\n  ".join(wrong))
        sys.exit(1)
    print(f"All {checked} figures of estimate.json reproduced from the files ({n} coded of {population}).")


if __name__ == "__main__":
    main()
'''

README = """# Replication package for sample {name}

Made by replies {version} with `replies export --replication`. Recompute every figure: `python recompute.py`
(needs numpy).

- `sample.json`: the sample: seed, population rule (what was counted), when drawn, blind or not, its population
  in the draw's order (`population`, position = index) and its members (the first `size`).
- `codes.csv`: every human code of a member: position, platform, id, coder, the codebook version it was given under
  (`codebook_hash`), its labels as given and as read under the version in use (`labels_read`), and `used` = 1
  for the code the estimate used (a final decision where one was recorded, else the latest).
- `scores.csv`: the model's score (and 0/1 tag) for every reply of the population in every category, codebook
  version {codebook_hash}.
- `codebook.json`: that codebook version.
- `estimate.json`: the estimate as `replies estimate --format json` printed it.
- `intervals.py`: the estimator, as it ran; `recompute.py`: reads the files and compares its figures with
  `estimate.json`.
"""


def write_package(db: Database, codebook: Codebook, sample: str, estimate: dict, estimator_source: str,
                  out: str | Path, version: str) -> dict[str, int]:
    """Write the package for `sample` (its estimate already made: `estimate`, as JSON) into the folder `out`,
    atomically; returns counts of what it holds."""
    found = sample_store.get_sample(db, sample)
    if found is None:
        raise ExportError(f"no sample called {sample!r}")
    units = sample_store.units(db, sample)
    position = {key: i for i, key in enumerate(units)}
    members = set(units[: found["size"]])
    reader = Reader(db, codebook.hash, codebook.ids)
    used = {(p, i): reviewer for p, i, reviewer in db.execute(
        "select platform, id, reviewer from gold_current where codebook = ?", [codebook.name]).fetchall()}
    codes = []
    for platform, reply_id, reviewer, labels, version_hash in db.execute(
            "select platform, id, reviewer, labels, codebook_hash from gold_labels where codebook = ?"
            " order by platform, id, reviewer", [codebook.name]).fetchall():
        key = (platform, reply_id)
        if key not in members:
            continue
        given = json.loads(labels)
        codes.append({"position": position[key], "platform": platform, "id": reply_id, "coder": reviewer,
                      "codebook_hash": version_hash or "", "labels": ";".join(given),
                      "labels_read": ";".join(reader.read(given, version_hash).labels),
                      "used": int(used.get(key) == reviewer), "final_decision": int(reviewer == ADJUDICATED)})
    scores = db.execute(
        "select u.position, u.platform, u.id, p.category, p.score, p.predicted from sample_units u join predictions p"
        " on p.platform = u.platform and p.id = u.id and p.codebook_hash = ? where u.sample = ?"
        " order by u.position, p.category", [codebook.hash, sample]).fetchall()
    content = codebook_content(db, codebook.hash)
    with atomic_folder(out, error=ExportError) as folder:
        folder = Path(folder)
        (folder / "sample.json").write_text(json.dumps({
            "name": sample, "seed": found["seed"], "size": found["size"], "population_size": found["population"],
            "thread": found["thread"], "drawn_at": found["created_at"], "blind": found["blind"],
            "population_rule": estimate.get("population_rule"), "history": found["history"],
            "population": [{"position": i, "platform": p, "id": r} for i, (p, r) in enumerate(units)]},
            ensure_ascii=False, indent=1), encoding="utf-8")
        with open(folder / "codes.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["position", "platform", "id", "coder", "codebook_hash", "labels",
                                             "labels_read", "used", "final_decision"])
            writer.writeheader()
            writer.writerows(codes)
        with open(folder / "scores.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["position", "platform", "id", "category", "score", "predicted"])
            writer.writerows([p, platform, i, c, repr(float(s)), int(t or 0)] for p, platform, i, c, s, t in scores)
        (folder / "codebook.json").write_text(json.dumps(content or {"name": codebook.name}, ensure_ascii=False,
                                                         indent=1), encoding="utf-8")
        (folder / "estimate.json").write_text(json.dumps(estimate, ensure_ascii=False, indent=1), encoding="utf-8")
        (folder / "intervals.py").write_text(estimator_source, encoding="utf-8")
        (folder / "recompute.py").write_text(RECOMPUTE, encoding="utf-8")
        (folder / "README.md").write_text(README.format(name=sample, version=version, codebook_hash=codebook.hash),
                                          encoding="utf-8")
    return {"population": len(units), "members": found["size"], "codes": len(codes), "scores": len(scores)}
