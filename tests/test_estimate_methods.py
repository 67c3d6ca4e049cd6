"""What a methods section needs from `replies estimate`: codes tied to the codebook version they were given
under, the population rule, a citable method, groups, reliability and a replication package."""

from __future__ import annotations

import json

from tests.helpers import count, rows

CATEGORIES = ["workforce_protectionism", "policy", "money", "time_resources", "healthcare_different",
              "lean_misconceptions", "leadership"]


def _members(classified, name: str) -> list[dict]:
    return rows(classified, "select u.platform, u.id from sample_units u join samples s on s.name = u.sample "
                            "where u.sample = ? and u.position < s.size order by u.position", [name])


def test_codes_stay_tied_to_the_codebook_version_they_were_given_under(cli, classified, tmp_path):
    """Ten members coded `money`; the codebook (same name) then renames money to funding. The estimate warns,
    refuses to estimate funding from codes whose version had no funding, and once the rename is recorded
    (`codebook migrate`) gives exactly the estimate money had; the codes themselves are never rewritten."""
    from replies.codebook import bundled

    cli("sample", "--size", "10", "--seed", "4", "--name", "ten")
    for member in _members(classified, "ten"):
        cli("label", f"{member['platform']}:{member['id']}", "money", "--reviewer", "ann")
    before = json.loads(cli("estimate", "--sample", "ten", "--format", "json").stdout)
    money = next(c for c in before["categories"] if c["id"] == "money")
    assert money["estimate"] > 0.5
    old_hash = rows(classified, "select distinct codebook_hash from gold_labels")[0]["codebook_hash"]
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(bundled()["lean_nhs"].read_text().replace("id: money", "id: funding"))
    cli("classify", "--codebook", renamed)
    refused = cli("estimate", "--sample", "ten", "--codebook", renamed, "--format", "json")
    assert f"10 codes were given under another version of codebook lean_nhs, version {old_hash}: money removed; " \
           "funding added; perhaps renamed: money to funding" in refused.stderr
    funding = next(c for c in json.loads(refused.stdout)["categories"] if c["id"] == "funding")
    assert funding["estimate"] is None and f"migrate --from {old_hash}" in funding["not_estimated"]
    text = cli("estimate", "--sample", "ten", "--codebook", renamed).stdout
    assert "not estimated" in text
    said = cli("codebook", "migrate", "--from", old_hash, "--map", "money=funding", "--codebook", renamed)
    assert "money as funding" in said.stdout
    after = json.loads(cli("estimate", "--sample", "ten", "--codebook", renamed, "--format", "json").stdout)
    mapped = next(c for c in after["categories"] if c["id"] == "funding")
    for key in ("estimate", "low", "high", "count", "human_only"):
        assert mapped[key] == money[key], key
    assert count(classified, "select count(*) from gold_labels where labels like '%funding%'") == 0  # untouched
    versions = cli("codebook", "versions", "--codebook", renamed, "--json").stdout
    assert old_hash in versions and "mapped: money=funding" in versions
    bad = cli("codebook", "migrate", "--from", old_hash, "--map", "nope=funding", "--codebook", renamed, code=2)
    assert "has no category 'nope'" in bad.stderr


def test_exports_and_evaluate_read_codes_under_the_version_in_use(cli, classified, tmp_path):
    """After the rename is recorded, an export gives the old `money` codes as `funding` (saying the version
    they were given under), and evaluate compares them with the model's funding."""
    from replies.codebook import bundled

    coded = rows(classified, "select platform, id from replies where status = 'ok' and text != '' limit 6")
    for reply in coded:
        cli("label", f"{reply['platform']}:{reply['id']}", "money", "--reviewer", "ann")
    old_hash = rows(classified, "select distinct codebook_hash from gold_labels")[0]["codebook_hash"]
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(bundled()["lean_nhs"].read_text().replace("id: money", "id: funding"))
    cli("classify", "--codebook", renamed)
    unmapped = [json.loads(line) for line in cli("export", "--codebook", renamed, "--gold-only").stdout.splitlines()]
    assert {r["gold_codebook"] for r in unmapped} == {old_hash} and all(r["gold"] == [] for r in unmapped)
    report = json.loads(cli("evaluate", "--json", "--codebook", renamed).stdout)
    funding = next(r for r in report["per_category"] if r["category"] == "funding")
    assert funding["support"] == 0  # nothing is known of funding from those codes: not "not funding" either
    cli("codebook", "migrate", "--from", old_hash, "--map", "money=funding", "--codebook", renamed)
    mapped = [json.loads(line) for line in cli("export", "--codebook", renamed, "--gold-only").stdout.splitlines()]
    assert all(r["gold"] == ["funding"] for r in mapped) and len(mapped) == 6
    import csv
    import io

    table = list(csv.DictReader(io.StringIO(cli("export", "--codebook", renamed, "--gold-only", "--format",
                                                "csv").stdout)))
    assert len(table) == 6 and all(row["gold_funding"] == "1" and row["gold"] == "funding" for row in table)
    report = json.loads(cli("evaluate", "--json", "--codebook", renamed).stdout)
    assert next(r for r in report["per_category"] if r["category"] == "funding")["support"] == 6


def _coded_sample(cli, classified, tmp_path, size=30, coded=25, name="s"):
    cli("sample", "--size", str(size), "--seed", "2", "--name", name)
    members = _members(classified, name)[:coded]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps({**m, "labels": ["money"] if i % 3 == 0 else ["policy"] if i % 4 == 0
                                        else []}) + "\n" for i, m in enumerate(members)))
    cli("import-labels", path, "--reviewer", "ann")
    return members


def test_an_estimate_says_what_a_methods_section_needs(cli, classified, tmp_path):
    _coded_sample(cli, classified, tmp_path)
    out = json.loads(cli("estimate", "--format", "json").stdout)
    assert out["version"] and "regression estimator" in out["method"]["estimator"]
    assert "Wilson" in out["method"]["interval"] and len(out["method"]["references"]) == 5
    assert out["population_rule"]["asker"] is False and "asker's own posts not counted" in \
        out["population_rule"]["in_words"]
    assert out["blind"] is True and out["drawn_at"]
    for c in out["categories"]:
        assert c["effective_n"] >= 25  # never less than the coded members: the model only helps
    methods = cli("estimate", "--format", "methods").stdout
    population = out["population"]
    for expected in (f"The population was the {population} replies with text", "simple random sample of 30",
                     "(seed 2); 25 were coded by 1 coder (ann: 25), blind to the model's tags and scores",
                     "5 remained uncoded", "regression estimator", "Wilson's score interval", "95%",
                     "finite-population correction", f"replies {out['version']}", "Science 382",
                     "asker's own posts not counted"):
        assert expected in methods, expected
    import csv
    import io

    table = list(csv.DictReader(io.StringIO(cli("estimate", "--format", "csv").stdout)))
    assert [row["category"] for row in table] == CATEGORIES
    money = next(row for row in table if row["category"] == "money")
    assert float(money["low"]) <= float(money["share"]) <= float(money["high"]) and money["effective_n"]
    page = tmp_path / "report.html"
    cli("report", "--out", page)
    assert "Methods, for a paper" in page.read_text() and "regression estimator" in page.read_text()


def test_groups_and_their_difference_from_one_sample(cli, classified, tmp_path):
    """Each platform's share with its own interval from one sample drawn over every thread, computed as the
    whole population's is on the group alone, and the difference between two platforms with an interval that
    holds the difference of the two estimates."""
    import numpy as np

    from replies.estimate.intervals import combine

    _coded_sample(cli, classified, tmp_path, size=60, coded=60, name="all60")
    out = json.loads(cli("estimate", "--sample", "all60", "--by", "platform", "--compare",
                         "platform=x,platform=bluesky", "--format", "json").stdout)
    groups = {g["group"]: g for g in out["groups"]["groups"]}
    assert set(groups) == {"x", "bluesky", "mastodon"} and sum(g["population"] for g in groups.values()) == \
        out["population"]
    assert sum(g["coded"] for g in groups.values()) == 60
    # the x group recomputed here from the stored scores and codes of its units alone
    units = rows(classified, "select u.position, u.platform, u.id from sample_units u where u.sample = 'all60'")
    x_units = [u for u in units if u["platform"] == "x"]
    codes = {(r["platform"], r["id"]): json.loads(r["labels"]) for r in rows(
        classified, "select platform, id, labels from gold_labels where reviewer = 'ann'")}
    scores = {(r["platform"], r["id"]): r["score"] for r in rows(
        classified, "select platform, id, score from predictions where category = 'money'")}
    coded_x = [(u["platform"], u["id"]) for u in x_units if (u["platform"], u["id"]) in codes]
    shares = combine(np.mean([scores[(u["platform"], u["id"])] for u in x_units]),
                     np.array([scores[k] for k in coded_x]), np.array([float("money" in codes[k]) for k in coded_x]),
                     len(x_units))
    money_x = next(c for c in groups["x"]["categories"] if c["id"] == "money")
    assert money_x["estimate"] == float(shares.estimate) and money_x["low"] == float(shares.low)
    money_b = next(c for c in groups["bluesky"]["categories"] if c["id"] == "money")
    difference = next(c for c in out["comparison"]["categories"] if c["id"] == "money")
    assert difference["difference"] == money_x["estimate"] - money_b["estimate"]
    assert difference["low"] <= difference["difference"] <= difference["high"]
    text = cli("estimate", "--sample", "all60", "--by", "depth").stdout
    assert "By depth:" in text and "\n  1:" in text
    assert "not BY=A,BY=B" in cli("estimate", "--compare", "platform=x", code=2).stderr
    assert "no platform 'reddit'" in cli("estimate", "--compare", "platform=x,platform=reddit", code=1).stderr


def test_a_second_coder_codes_an_overlap_blind_and_evaluate_gives_krippendorffs_alpha(cli, classified, tmp_path):
    import krippendorff
    import numpy as np

    from replies import db
    from replies.codebook import load
    from replies.review.queue import review_queue

    members = _coded_sample(cli, classified, tmp_path, size=30, coded=30, name="rel")
    said = cli("sample", "--overlap", "12", "rel", "--coder", "bea", "--seed", "5")
    assert "12 of its members drawn at random for bea" in said.stdout
    overlap = rows(classified, "select platform, id from overlap_units where sample = 'rel' and coder = 'bea' "
                               "order by position")
    assert len(overlap) == 12 and all(o in members for o in overlap)
    book = load()
    database = db.open_db(classified)
    queue = review_queue(database, codebook=book.name, codebook_hash=book.hash, reviewer="bea", sample="rel")
    assert queue == [(o["platform"], o["id"]) for o in overlap]  # bea's queue: the overlap, in its order
    assert len(review_queue(database, codebook=book.name, codebook_hash=book.hash, reviewer="cy", sample="rel")) == 30
    ann = {(r["platform"], r["id"]): json.loads(r["labels"]) for r in rows(
        classified, "select platform, id, labels from gold_labels where reviewer = 'ann'")}
    # bea agrees with ann except on three replies
    bea = {(o["platform"], o["id"]): (ann[(o["platform"], o["id"])] if i >= 3 else ["money", "leadership"])
           for i, o in enumerate(overlap)}
    path = tmp_path / "bea.jsonl"
    path.write_text("".join(json.dumps({"platform": k[0], "id": k[1], "labels": v}) + "\n" for k, v in bea.items()))
    cli("import-labels", path, "--reviewer", "bea")
    found = json.loads(cli("evaluate", "--json").stdout)["reliability"]
    assert found["replies"] == 12 and found["coders"] == {"ann": 12, "bea": 12}
    keys = list(bea)
    matrices = []
    for row in found["categories"]:
        matrix = np.array([[float(row["category"] in ann[k]) for k in keys],
                           [float(row["category"] in bea[k]) for k in keys]])
        matrices.append(matrix)
        if len(set(matrix.ravel())) > 1:
            expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
            assert abs(row["alpha"] - expected) < 1e-9, row
            assert row["low"] <= row["alpha"] <= row["high"] or row["low"] is None
        else:
            assert row["alpha"] is None  # every code the same: alpha is undefined, said n/a
    pooled = krippendorff.alpha(reliability_data=np.concatenate(matrices, axis=1), level_of_measurement="nominal")
    assert abs(found["pooled"]["alpha"] - pooled) < 1e-9
    text = cli("evaluate").stdout
    assert "Krippendorff's alpha" in text and "pooled" in text
    methods = cli("estimate", "--sample", "rel", "--format", "methods").stdout
    assert "Reliability. 12 replies were coded independently by 2 coders; Krippendorff's alpha" in methods
    page = tmp_path / "report.html"
    cli("report", "--out", page, "--sample", "rel")
    assert "Krippendorff&#x27;s alpha" in page.read_text() or "Krippendorff's alpha" in page.read_text()
    refused = cli("sample", "--overlap", "5", "rel", "--coder", "bea", code=1)
    assert "bea already has an overlap of sample 'rel'" in refused.stderr


def test_a_replication_package_recomputes_every_figure_with_numpy_alone(cli, classified, tmp_path):
    import ast
    import subprocess
    import sys

    _coded_sample(cli, classified, tmp_path, size=30, coded=24, name="rep")
    first = _members(classified, "rep")[0]
    cli("label", f"{first['platform']}:{first['id']}", "leadership", "--reviewer", "bea")  # a later, other code
    folder = tmp_path / "package"
    said = cli("export", "--replication", folder, "--sample", "rep")
    assert "recomputes every figure" in said.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "codebook.json", "codes.csv", "estimate.json",
                                                         "intervals.py", "recompute.py", "sample.json", "scores.csv"]
    for script in ("recompute.py", "intervals.py"):
        imported = {(node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
                    for node in ast.walk(ast.parse((folder / script).read_text()))
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in (node.names if isinstance(node, ast.Import) else [node])}
        assert imported - set(sys.stdlib_module_names) - {"numpy", "intervals"} == set(), (script, imported)
    ran = subprocess.run([sys.executable, "-I", "recompute.py"], cwd=folder, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "All 84 figures of estimate.json reproduced from the files (24 coded of" in ran.stdout
    estimate = json.loads((folder / "estimate.json").read_text())
    assert estimate == json.loads(cli("estimate", "--sample", "rep", "--format", "json").stdout)
    estimate["categories"][2]["high"] += 0.001  # a figure that does not follow from the files is caught
    (folder / "estimate.json").write_text(json.dumps(estimate))
    tampered = subprocess.run([sys.executable, "-I", "recompute.py"], cwd=folder, capture_output=True, text=True)
    assert tampered.returncode == 1 and "NOT reproduced" in tampered.stdout and "money high" in tampered.stdout
    assert "already" in cli("export", "--replication", folder, code=1).stderr or \
        "not an empty folder" in cli("export", "--replication", folder, code=1).stderr
