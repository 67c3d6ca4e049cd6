"""Each category's share of a sample's population, with a confidence interval: the model's scores on every
reply in the population combined with the human codes on the sample's coded members (`intervals.combine`)."""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlite_utils import Database

from replies import __version__
from replies.codebook import Codebook
from replies.db import labels as label_store
from replies.db import samples as sample_store
from replies.db.schema import ADJUDICATED
from replies.db.versions import Reader, differences

from .draw import named_sample
from .errors import EstimateError
from .groups import difference, group_shares
from .intervals import coded_needed, combine, fpc, z_value

TARGET_HALF_WIDTH = 0.05  # what `estimate` plans for: each share within ±5 points


@dataclass
class CategoryShare:
    """One category's share. A category some coded member's code says nothing about (given under a codebook
    version without it, and not mapped) is not estimated: its figures are None and `not_estimated` says why."""
    id: str
    label: str
    estimate: float | None
    low: float | None
    high: float | None
    count: float | None
    count_low: float | None
    count_high: float | None
    human_only: dict | None
    model_only: float
    coded_positive: int | None
    deff: float | None
    not_estimated: str | None = None
    effective_n: float | None = None  # the coded members' worth in simple random sampling, n / (fpc × deff)

    def as_json(self) -> dict:
        out = asdict(self)
        out.pop("deff")
        if out["not_estimated"] is None:
            out.pop("not_estimated")
        return out


@dataclass
class Estimate:
    sample: str
    seed: int
    thread: tuple[str, str] | None
    population: int
    size: int
    labelled: int
    level: float
    codebook: str
    codebook_hash: str
    scored_by: list[dict]
    coders: dict[str, int]
    disagreements: int
    reviewer: str | None
    categories: list[CategoryShare] = field(default_factory=list)
    plan: dict | None = None
    uncodable: int = 0  # members nobody coded that can no longer be coded (deleted or removed since the draw)
    versions: list = field(default_factory=list)  # other codebook versions members' codes were given under
    drawn_at: str = ""           # when the sample was drawn (UTC, ISO 8601)
    blind: bool = True           # coded blind to the model
    rule: dict = field(default_factory=dict)  # the population rule: asker, quotes, duplicates, left_out, in_words
    tool_version: str = ""       # the version of replies that made the estimate
    groups: dict | None = None   # with `by`: {"by", "groups": [{"group", "population", "coded", "categories"}]}
    comparison: dict | None = None  # with `compare`: {"by", "first", "second", "categories": [difference]}

    @property
    def to_code(self) -> int:
        """Members still to code: neither coded nor gone."""
        return self.size - self.labelled - self.uncodable

    def as_json(self) -> dict:
        from .methods import METHOD

        return {"sample": self.sample, "seed": self.seed, "population": self.population, "size": self.size,
                "labelled": self.labelled, "level": self.level, "codebook": self.codebook,
                "codebook_hash": self.codebook_hash, "scored_by": self.scored_by, "coders": self.coders,
                "disagreements": self.disagreements, "to_code": self.to_code, "not_codable": self.uncodable,
                "drawn_at": self.drawn_at, "blind": self.blind, "population_rule": self.rule,
                "method": METHOD, "version": self.tool_version,
                "categories": [c.as_json() for c in self.categories], "plan": self.plan,
                **({"groups": self.groups} if self.groups else {}),
                **({"comparison": self.comparison} if self.comparison else {})}


def choose_sample(db: Database, name: str | None, thread: tuple[str, str] | None) -> dict:
    """The sample `name`, else the newest (drawn from `thread`, with it)."""
    if name:
        found = named_sample(db, name)
        if thread and found["thread"] != thread:
            raise EstimateError(f"sample {name!r} was not drawn from thread {thread[0]}:{thread[1]} alone: "
                                f"`--by thread` gives each thread's share from it")
        return found
    found = sample_store.latest_sample(db, thread)
    if found is None:
        where = f" from thread {thread[0]}:{thread[1]}" if thread else ""
        command = "replies sample --size 40" + (f" --thread {shlex.quote(f'{thread[0]}:{thread[1]}')}" if thread else "")
        raise EstimateError(f"no sample drawn{where} yet: draw one with `{command}`, code its replies, then estimate")
    return found


def model_totals(db: Database, sample: dict, codebook: Codebook) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(mean score, share tagged) per category over the sample's population, and the methods and models that
    scored it; every reply must have a score in every category."""
    index = {c: j for j, c in enumerate(codebook.ids)}
    scored, total, tagged = np.zeros(len(index)), np.zeros(len(index)), np.zeros(len(index))
    sources: dict[tuple[str, str], int] = {}
    for category, method, model, replies, score_sum, tags in sample_store.score_totals(db, sample["name"], codebook.hash):
        j = index.get(category)
        if j is None:
            continue
        scored[j] += replies
        total[j] += score_sum or 0.0
        tagged[j] += tags or 0
        sources[(method, model)] = max(sources.get((method, model), 0), replies)
    missing = int(sample["population"] - scored.min())
    if missing:
        raise EstimateError(
            f"{missing} of the {sample['population']} replies in sample {sample['name']!r} have no score from "
            f"codebook {codebook.name} ({codebook.hash}): run `replies classify` with this codebook first"
            + (f" (--thread {sample['thread'][0]}:{sample['thread'][1]} is enough)" if sample["thread"] else ""))
    population = sample["population"]
    return (total / population, tagged / population,
            [{"method": m, "model": model, "replies": n} for (m, model), n in sources.items()])


def estimate(db: Database, codebook: Codebook, *, sample: str | None = None, thread: tuple[str, str] | None = None,
             level: float = 0.95, reviewer: str | None = None, by: str | None = None,
             compare: tuple[str, str, str] | None = None) -> Estimate:
    """Estimate every category's share of the sample's population (`sample`, else the newest one) from the
    model's scores and the members coded so far: each member's current code (a final decision where one was
    recorded, else the latest), or only `reviewer`'s. With `by` (platform, thread or depth), each group's share
    too; with `compare` (by, first group, second group), the difference between two groups' shares."""
    if compare and by and compare[0] != by:
        raise EstimateError(f"--by {by} and --compare by {compare[0]}: compare groups of the grouping shown")
    by = by or (compare[0] if compare else None)
    if by is not None and by not in sample_store.GROUPINGS:
        raise EstimateError(f"unknown grouping {by!r}: choose one of {', '.join(sample_store.GROUPINGS)}")
    try:
        z_value(level)  # refuses a level outside (0, MAX_LEVEL]
    except ValueError as exc:
        raise EstimateError(str(exc)) from None
    chosen = choose_sample(db, sample, thread)
    name = chosen["name"]
    codes = sample_store.member_codes(db, name, codebook.name, reviewer)
    if not codes:
        who = f" by {reviewer}" if reviewer else ""
        raise EstimateError(f"none of the {chosen['size']} members of sample {name!r} is coded{who} with codebook "
                            f"{codebook.name} yet: code them with `replies review --sample {name}` (or in "
                            "`replies serve`, or with `replies label` or `replies import-labels`)")
    mean_score, tagged, sources = model_totals(db, chosen, codebook)
    positions = sorted(codes)
    # each code read under the codebook version in use: a category its own version lacked is unknown for it
    reader = Reader(db, codebook.hash, codebook.ids)
    readings = {p: reader.read(codes[p]["labels"], codes[p]["version"]) for p in positions}
    other = {codes[p]["version"] for p in positions} - {None, codebook.hash}
    row = {p: i for i, p in enumerate(positions)}
    index = {c: j for j, c in enumerate(codebook.ids)}
    member = np.full((len(index), len(positions)), np.nan)  # K × n: the coded members' scores
    for position, category, score in sample_store.member_scores(db, name, codebook.hash):
        if position in row and category in index and score is not None:
            member[index[category], row[position]] = score
    coded = np.array([[int(c in readings[p].labels) for p in positions] for c in codebook.ids])  # K × n
    shares = combine(mean_score, member, coded, chosen["population"], level)
    total = chosen["population"]
    result = Estimate(
        sample=name, seed=chosen["seed"], thread=chosen["thread"], population=total, size=chosen["size"],
        labelled=len(positions), level=level, codebook=codebook.name, codebook_hash=codebook.hash,
        scored_by=sources,
        coders=dict(Counter(code["reviewer"] for code in codes.values()).most_common()),
        disagreements=0 if reviewer else _disagreements(db, chosen, codebook),
        reviewer=reviewer, uncodable=sample_store.uncodable_members(db, name, codebook.name),
        versions=[d for d in differences(db, codebook.name, codebook.hash, codebook.ids) if d.version in other],
        drawn_at=chosen["created_at"], blind=chosen["blind"], tool_version=__version__,
        rule={**chosen["rule"].as_json(), "left_out": chosen["left_out"],
              "in_words": chosen["rule"].describe(chosen["left_out"]) if chosen.get("population_rule")
              else "every reply with text (drawn before the rule was recorded)"})
    correction = fpc(total, len(positions))
    for j, category in enumerate(codebook.categories):
        unknown = [p for p in positions if category.id in readings[p].unknown]
        if unknown:
            versions = sorted({codes[p]["version"] for p in unknown})
            result.categories.append(CategoryShare(
                id=category.id, label=category.label, estimate=None, low=None, high=None, count=None,
                count_low=None, count_high=None, human_only=None, model_only=float(tagged[j]), coded_positive=None,
                deff=None, not_estimated=(
                    f"{len(unknown)} coded member{'s were' if len(unknown) > 1 else ' was'} coded under codebook "
                    f"version {', '.join(versions)}, which has no {category.id!r}: record what it was there with "
                    f"`replies codebook migrate --from {versions[0]} --map OLD_ID={category.id}`, or code "
                    f"{'them' if len(unknown) > 1 else 'it'} again")))
            continue
        share, low, high = (float(shares.estimate[j]), float(shares.low[j]), float(shares.high[j]))
        result.categories.append(CategoryShare(
            id=category.id, label=category.label, estimate=share, low=low, high=high, count=share * total,
            count_low=low * total, count_high=high * total,
            human_only={"estimate": float(shares.human[j]), "low": float(shares.human_low[j]),
                        "high": float(shares.human_high[j])},
            model_only=float(tagged[j]), coded_positive=int(coded[j].sum()), deff=float(shares.deff[j]),
            effective_n=(round(len(positions) / (correction * float(shares.deff[j])), 1)
                         if correction * float(shares.deff[j]) > 0 else None)))
    result.plan = plan(result)
    if by:
        blocked = {c.id for c in result.categories if c.not_estimated}
        units = sample_store.unit_groups(db, name, by)
        found = group_shares(units, sample_store.population_scores(db, name, codebook.hash, codebook.ids), positions,
                             member, coded, codebook.ids, level, blocked)
        result.groups = {"by": by, "groups": found}
        if compare:
            named = {g["group"]: g for g in found}
            missing = [g for g in compare[1:] if g not in named]
            if missing:
                raise EstimateError(f"no {by} {missing[0]!r} in sample {name!r}'s population (its {by} groups: "
                                    f"{', '.join(sorted(named))})")
            first, second = (named[g] for g in compare[1:])
            result.comparison = {"by": by, "first": compare[1], "second": compare[2], "categories": [
                difference(a, b) for a, b in zip(first["categories"], second["categories"])]}
    return result


def _disagreements(db: Database, sample: dict, codebook: Codebook) -> int:
    """How many of the sample's members two or more reviewers coded differently, with no final decision."""
    members = set(sample_store.units(db, sample["name"], sample["size"]))
    return sum(1 for platform, reply_id, decided in label_store.disagreements(db, codebook.name, ADJUDICATED)
               if not decided and (platform, reply_id) in members)


def plan(result: Estimate, half_width: float = TARGET_HALF_WIDTH) -> dict | None:
    """For the widest interval: how many more coded members would bring it to ±`half_width`, from the share
    and the variance seen so far, and how many of them the sample already holds uncoded."""
    estimated = [c for c in result.categories if c.not_estimated is None]
    if not estimated:
        return None
    widest = max(estimated, key=lambda c: c.high - c.low)
    needed = coded_needed(widest.estimate, widest.deff, result.population, result.labelled, half_width,
                          result.level)
    more = needed - result.labelled
    return {"category": widest.id, "half_width": (widest.high - widest.low) / 2, "target": half_width,
            "more_coded": more, "extend_by": max(0, more - result.to_code)}
