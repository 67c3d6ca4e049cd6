"""Drawing a simple random sample of replies, recording it, and extending it.

The random order comes from the seed alone: each reply in the population gets the number SHA-256 makes of the
seed with its platform and id, and the replies are ranked by it. The first N of that order are a simple
random sample of N (every set of N replies equally likely), the next M extend it to one of N + M, and the same
seed on the same replies gives the same order on any machine and any version of Python or numpy."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from replies import __version__
from replies.db import samples as sample_store

from .errors import EstimateError

Key = tuple[str, str]
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_SEED = 2**63 - 1  # SQLite's largest integer


@dataclass
class Drawn:
    """A sample as recorded, and whether this call drew it (False: an identical draw was already there)."""
    name: str
    seed: int
    size: int
    population: int
    thread: Key | None
    members: list[Key]
    new: bool = True
    rule: sample_store.PopulationRule = field(default_factory=sample_store.PopulationRule)
    left_out: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"name": self.name, "seed": self.seed, "size": self.size, "population": self.population,
                "population_rule": {**self.rule.as_json(), "left_out": self.left_out,
                                    "in_words": self.rule.describe(self.left_out)},
                "members": [{"platform": platform, "id": reply_id} for platform, reply_id in self.members]}


def random_order(units: Iterable[Key], seed: int) -> list[Key]:
    """`units` ranked by the number SHA-256 makes of the seed with each unit's platform and id (ties, which
    need a collision of 64-bit numbers, by platform and id)."""
    def rank(key: Key) -> tuple[int, str, str]:
        digest = hashlib.sha256(json.dumps([seed, key[0], key[1]]).encode()).digest()
        return int.from_bytes(digest[:8], "big"), key[0], key[1]
    return sorted(units, key=rank)


def new_seed() -> int:
    """A seed for a draw nobody chose one for: random, short enough to type back."""
    return secrets.randbelow(10**9)


def named_sample(db: Database, name: str) -> dict:
    """The recorded sample called `name`; EstimateError naming the samples there are when there is none."""
    found = sample_store.get_sample(db, name)
    if found is None:
        known = [s["name"] for s in sample_store.list_samples(db)]
        raise EstimateError(f"no sample called {name!r}" + (f" (samples here: {', '.join(known[:10])})" if known
                                                             else ": draw one with `replies sample --size 40`"))
    return found


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise EstimateError(f"sample name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-', starting "
                            "with a letter or digit")
    return name


def default_name(db: Database, today: date | None = None) -> str:
    """sample-YYYY-MM-DD, or -2, -3... after it when that name is taken."""
    base = f"sample-{(today or date.today()).isoformat()}"
    name, number = base, 1
    while sample_store.get_sample(db, name) is not None:
        number += 1
        name = f"{base}-{number}"
    return name


def draw(db: Database, *, size: int, seed: int | None = None, name: str | None = None,
         thread: Key | None = None, blind: bool = True, rule: sample_store.PopulationRule | None = None) -> Drawn:
    """Draw `size` replies at random from those in scope now (one thread's with `thread`) and record the sample.

    A name already in use is refused unless this draw is the one recorded under it (same seed, size, thread
    and population): then the recorded sample is returned with `new` False. A `blind` sample (the default) is
    coded blind to the model, and while it is, no page or queue shows the model's tags for its members. `rule`
    says what the population counts (default: the asker's own posts left out, quotes counted, a text one
    author posted several times counted once); it is recorded with the sample."""
    rule = rule or sample_store.PopulationRule()
    if size < 1:
        raise EstimateError(f"--size must be at least 1, not {size}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise EstimateError(f"--seed must be a whole number from 0 to {MAX_SEED}, not {seed}")
    units, left_out = sample_store.population(db, thread, rule)
    if not units:
        where = f"thread {thread[0]}:{thread[1]}" if thread else "this database"
        raise EstimateError(f"no reply with text in {where} to sample from: harvest or import replies first")
    if size > len(units):
        raise EstimateError(f"--size {size} is more than the {len(units)} replies in scope; --size {len(units)} "
                            "codes every one of them")
    if name is not None:
        check_name(name)
        recorded = sample_store.get_sample(db, name)
        if recorded is not None:
            same = (seed is not None and recorded["seed"] == seed and recorded["size"] == size
                    and recorded["thread"] == thread and recorded["population"] == len(units)
                    and recorded["rule"] == rule and set(sample_store.units(db, name)) == set(units))
            if not same:
                raise EstimateError(
                    f"sample {name!r} already exists ({recorded['size']} of {recorded['population']} replies, seed "
                    f"{recorded['seed']}, drawn {recorded['created_at'][:10]}): choose another --name, or add "
                    f"members with `replies sample --extend M {name}`")
            return Drawn(name, recorded["seed"], recorded["size"], recorded["population"], recorded["thread"],
                         sample_store.units(db, name, recorded["size"]), new=False, rule=recorded["rule"],
                         left_out=recorded["left_out"])
    name = name or default_name(db)
    seed = new_seed() if seed is None else seed
    order = random_order(units, seed)
    sample_store.save_sample(db, name=name, seed=seed, order=order, size=size, thread=thread, tool_version=__version__,
                      blind=blind, rule=rule, left_out=left_out)
    return Drawn(name, seed, size, len(order), thread, order[:size], rule=rule, left_out=left_out)


def extend(db: Database, name: str, more: int) -> tuple[Drawn, list[Key]]:
    """Add the next `more` replies of the sample's random order to its members: the sample stays a simple
    random sample of its population, and the members drawn before stay. Returns the sample and the new members."""
    if more < 1:
        raise EstimateError(f"--extend must add at least 1 member, not {more}")
    with db.atomic():  # read and grow in one write transaction: two extensions at once add up, never overwrite
        recorded = named_sample(db, name)
        left = recorded["population"] - recorded["size"]
        if more > left:
            raise EstimateError(f"sample {name!r} holds {recorded['size']} of its {recorded['population']} replies: "
                                f"only {left} more can be added" + (", so every reply is in it" if left == 0 else ""))
        size = recorded["size"] + more
        sample_store.set_size(db, name, size)
    members = sample_store.units(db, name, size)
    return (Drawn(name, recorded["seed"], size, recorded["population"], recorded["thread"], members,
                  rule=recorded["rule"], left_out=recorded["left_out"]),
            members[recorded["size"]:])


def draw_overlap(db: Database, name: str, size: int, coder: str, seed: int | None = None) -> tuple[int, list[Key]]:
    """Draw `size` of the sample's members at random for a second coder, who codes them blind to the model and
    to the first coder: (seed, members in coding order). One overlap per sample and coder."""
    recorded = named_sample(db, name)
    if sample_store.overlap(db, name, coder) is not None:
        raise EstimateError(f"{coder} already has an overlap of sample {name!r}: code it with `replies review "
                            f"--sample {name} --reviewer {coder}`")
    if not 2 <= size <= recorded["size"]:
        raise EstimateError(f"--overlap {size}: an overlap holds 2 to {recorded['size']} of sample {name!r}'s "
                            f"{recorded['size']} members")
    seed = new_seed() if seed is None else seed
    members = random_order(sample_store.units(db, name, recorded["size"]), seed)[:size]
    sample_store.save_overlap(db, name, coder, seed, members)
    return seed, members
