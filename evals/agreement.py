"""How much raters agree: Fleiss' kappa and Krippendorff's alpha over a campaign, and each
rater's Cohen's kappa against the majority of the others (leave-one-out), with raters far
below the rest flagged. Fleiss and Cohen come from statsmodels, alpha from `krippendorff`.

Labels are (item, rater, value). Votes are nominal values ("a", "b", "tie", "both_bad");
rubric scores are ordinal (1-5). A statistic that is undefined on the data (one category
only, too few items) is None, never NaN."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Literal

import krippendorff
import numpy as np

Label = tuple[Hashable, str, Hashable]  # (item, rater, value)
MIN_LABELS_TO_FLAG = 5
FLAG_BELOW_MEDIAN = 0.3  # a rater is flagged this far below the others' median kappa...
FLAG_CEILING = 0.4  # ...and below this kappa ("fair" agreement at best)


@dataclass(frozen=True)
class RaterAgreement:
    rater: str
    labels: int
    compared: int  # items where the others had a clear majority
    agreement: float | None  # share of those where the rater sided with the majority
    kappa: float | None  # Cohen's kappa against the majority
    flagged: bool


@dataclass(frozen=True)
class Agreement:
    items: int
    raters: int
    labels: int
    fleiss_kappa: float | None  # over items with the most common number of labels
    alpha: float | None  # Krippendorff's alpha, every label (missing ones allowed)
    per_rater: list[RaterAgreement]


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _majority(values: Sequence[Hashable]) -> Hashable | None:
    counts = Counter(values).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None  # no clear majority
    return counts[0][0]


def agreement(
    labels: Sequence[Label], *, level: Literal["nominal", "ordinal"] = "nominal"
) -> Agreement:
    # lazy: statsmodels (with pandas and scipy) takes about a second to import
    from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

    latest: dict[tuple[Hashable, str], Hashable] = {}
    for item, rater, value in labels:  # a later label by the same rater replaces the earlier
        latest[(item, rater)] = value
    items = sorted({i for i, _ in latest}, key=str)
    raters = sorted({r for _, r in latest})
    categories = sorted({v for v in latest.values()}, key=str)
    by_item: dict[Hashable, dict[str, Hashable]] = {}
    for (item, rater), value in latest.items():
        by_item.setdefault(item, {})[rater] = value

    # Fleiss: items x categories counts, over the items rated by the usual number of raters.
    fleiss = None
    sizes = Counter(len(r) for r in by_item.values() if len(r) >= 2)
    if sizes and len(categories) >= 2:
        k = sizes.most_common(1)[0][0]
        table = np.array(
            [
                [sum(v == c for v in rated.values()) for c in categories]
                for rated in by_item.values()
                if len(rated) == k
            ]
        )
        if len(table) >= 2:
            fleiss = _finite(fleiss_kappa(table, method="fleiss"))

    alpha = None
    if len(raters) >= 2 and len(categories) >= 2:
        code = {c: n for n, c in enumerate(categories)}
        row = {r: n for n, r in enumerate(raters)}
        column = {i: n for n, i in enumerate(items)}  # list.index per label: quadratic
        data = np.full((len(raters), len(items)), np.nan)
        for (item, rater), value in latest.items():
            data[row[rater], column[item]] = (
                float(value) if level == "ordinal" else code[value]  # type: ignore[arg-type]
            )
        try:
            alpha = _finite(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
        except (ValueError, ZeroDivisionError):
            alpha = None

    per_rater = []
    for rater in raters:
        pairs = []
        for rated in by_item.values():
            if rater in rated:
                majority = _majority([v for r, v in rated.items() if r != rater])
                if majority is not None:
                    pairs.append((rated[rater], majority))
        kappa = None
        if pairs:
            index = {c: n for n, c in enumerate(categories)}
            table = np.zeros((len(categories), len(categories)))
            for mine, theirs in pairs:
                table[index[mine], index[theirs]] += 1
            if len(categories) >= 2:
                kappa = _finite(cohens_kappa(table, return_results=False))
        per_rater.append(
            RaterAgreement(
                rater=rater,
                labels=sum(1 for (_, r) in latest if r == rater),
                compared=len(pairs),
                agreement=sum(m == t for m, t in pairs) / len(pairs) if pairs else None,
                kappa=kappa,
                flagged=False,
            )
        )
    result: list[RaterAgreement] = []
    for this in per_rater:
        others = [o.kappa for o in per_rater if o is not this and o.kappa is not None]
        mine = this.kappa
        far = (
            mine is not None
            and this.compared >= MIN_LABELS_TO_FLAG
            and bool(others)
            and mine < FLAG_CEILING
            and mine < median(k for k in others if k is not None) - FLAG_BELOW_MEDIAN
        )
        result.append(
            RaterAgreement(this.rater, this.labels, this.compared, this.agreement, mine, far)
        )
    return Agreement(len(items), len(raters), len(latest), fleiss, alpha, result)
