"""Shares by group from one sample (domain estimation), and the difference between two groups.

A group is a part of the population known for every reply: its platform, its thread, its depth. The coded
members that fall in a group are a simple random sample of that group (given how many fell in it), and the
group's size and mean score are counted exactly, so each group's share is estimated as the whole population's
is (`intervals.combine` on the group alone). The difference between two groups' shares gets the interval that
combines the two groups' own intervals (MOVER: Newcombe 1998, Zou and Donner 2008), which keeps each one's
asymmetry near 0 and 1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .intervals import combine

MIN_CODED = 2  # a group with fewer coded members gets no estimate: one code says nothing about spread


def group_shares(groups: dict[int, str], scores: dict[int, list], positions: Sequence[int], member_scores: np.ndarray,
                 codes: np.ndarray, ids: Sequence[str], level: float, blocked: set[str]) -> list[dict]:
    """Per group (largest first): its size, coded members and each category's share with its interval.

    groups: each population unit's group, by position; scores: each unit's scores (by position, in `ids`
    order); positions: the coded members' positions, in the order of the columns of `member_scores` and
    `codes` (K × n); blocked: categories not estimated overall (codes from a version without them)."""
    out = []
    for group in sorted(set(groups.values()), key=lambda g: (-sum(1 for v in groups.values() if v == g), g)):
        units = [p for p, g in groups.items() if g == group]
        columns = [i for i, p in enumerate(positions) if groups.get(p) == group]
        entry = {"group": group, "population": len(units), "coded": len(columns), "categories": []}
        matrix = np.array([[np.nan if v is None else v for v in scores.get(p, [None] * len(ids))] for p in units],
                          dtype=float).reshape(len(units), len(ids))
        for j, cid in enumerate(ids):
            why = ("codes from a codebook version without it" if cid in blocked else
                   f"{len(columns)} coded member{'s' if len(columns) != 1 else ''} in this group (at least "
                   f"{MIN_CODED} needed)" if len(columns) < MIN_CODED else
                   "replies in this group without a score" if np.isnan(matrix[:, j]).any() else None)
            if why:
                entry["categories"].append({"id": cid, "estimate": None, "low": None, "high": None,
                                            "not_estimated": why})
                continue
            shares = combine(matrix[:, j].mean(), member_scores[j, columns], codes[j, columns], len(units), level)
            entry["categories"].append({"id": cid, "estimate": float(shares.estimate), "low": float(shares.low),
                                        "high": float(shares.high), "coded_positive": int(codes[j, columns].sum())})
        out.append(entry)
    return out


def difference(first: dict, second: dict) -> dict:
    """first's share minus second's, with the MOVER interval from their own intervals; None where either group
    has no estimate for the category."""
    if first.get("estimate") is None or second.get("estimate") is None:
        return {"id": first["id"], "difference": None, "low": None, "high": None,
                "not_estimated": first.get("not_estimated") or second.get("not_estimated")}
    a, a_low, a_high = first["estimate"], first["low"], first["high"]
    b, b_low, b_high = second["estimate"], second["low"], second["high"]
    d = a - b
    return {"id": first["id"], "difference": d,
            "low": max(-1.0, d - float(np.sqrt((a - a_low) ** 2 + (b_high - b) ** 2))),
            "high": min(1.0, d + float(np.sqrt((a_high - a) ** 2 + (b - b_low) ** 2)))}
