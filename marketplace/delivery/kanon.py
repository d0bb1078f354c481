"""k-anonymity of each person's whole record, per-person l-diversity, and a full-domain
generalisation search.

The input is a *class table*: one row per distinct combination of quasi-identifier labels,
person and sensitive values, with a `rows` column saying how many data rows it stands for.
Working on that table (never on raw rows) is what makes the search cheap.

When the table names persons, what must be k-anonymous is the person's whole record: the
multiset of the quasi-identifier tuples of all of that person's rows (static attributes such as
age band and sex, and every event period and diagnosis, across all datasets of the permit). An
attacker who knows three admission quarters and one diagnosis of a neighbour looks for exactly
that; a row-level class of k persons does not stop them when the combination is unique. Two
persons are alike when their multisets are equal; each record is fingerprinted by a sum of
64-bit hashes of its row tuples, so a lattice node costs a few vector passes. Persons whose
record is shared by fewer than k persons are suppressed whole (all their rows).
l-diversity is counted in persons too: a class needs at least l distinct sensitive values, and
every value must be missing from at least l - 1 of its persons, so one person with many rows
cannot lend a class diversity that its other members lack.

The search walks the generalisation lattice (one level per quasi-identifier) like Flash: nodes
are visited bottom-up; an unclassified node starts a path upwards that is binary-searched, and
every result is propagated by monotonicity (a generalisation of an anonymous node is anonymous,
a specialisation of a non-anonymous node is not). The answer is the minimal-loss node among the
minimal anonymous nodes, with suppression of the smallest classes within the allowed budget.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ROWS = "rows"
PERSON = "person"


@dataclass(frozen=True)
class Hierarchy:
    """A quasi-identifier's ladder: codes[level][base_code] -> code of the label at that level."""

    name: str
    labels: tuple[pd.Index, ...]
    codes: tuple[np.ndarray, ...]

    @property
    def height(self) -> int:
        return len(self.codes) - 1


def hierarchy_from_levels(name: str, base: pd.Index, levels: Sequence) -> Hierarchy:
    """Build a hierarchy from base labels and label mappings to each coarser level."""
    base = pd.Index(base)
    labels = [base]
    codes = [np.arange(len(base), dtype=np.int64)]
    for mapping in levels:
        mapped = pd.Index(mapping(pd.Index(base.astype(str))))
        level_codes, level_labels = pd.factorize(mapped, sort=True)
        labels.append(pd.Index(level_labels))
        codes.append(level_codes.astype(np.int64))
    return Hierarchy(name=name, labels=tuple(labels), codes=tuple(codes))


def hierarchy_from_table(name: str, table: pd.DataFrame) -> Hierarchy:
    """Build a hierarchy from an ARX-style table: column 0 the value, then its generalisations."""
    base = pd.Index(table.iloc[:, 0].astype(str))
    levels = [
        (lambda column: lambda labels: pd.Index(column.reindex(labels).to_numpy()))(
            pd.Series(table.iloc[:, i].astype(str).to_numpy(), index=base)
        )
        for i in range(1, table.shape[1])
    ]
    return hierarchy_from_levels(name, base, levels)


@dataclass(frozen=True)
class Requirement:
    """What every released equivalence class must satisfy."""

    k: int
    l_diversity: Mapping[str, int] = field(default_factory=dict)
    max_suppressed_fraction: float = 0.0


@dataclass(frozen=True)
class NodeOutcome:
    """One lattice node's equivalence classes. With persons, a class is a group of persons with
    equal records and `person_class` says which group each person is in."""

    node: tuple[int, ...]
    class_of_entry: np.ndarray  # class id of each class-table entry
    class_ok: np.ndarray  # per class: satisfies k and l
    class_persons: np.ndarray
    rows_suppressed: int
    person_class: np.ndarray | None = None

    @property
    def achieved_k(self) -> int:
        kept = self.class_persons[self.class_ok]
        return int(kept.min()) if len(kept) else 0


@dataclass(frozen=True)
class Anonymisation:
    """The chosen node and what releasing it costs."""

    node: tuple[int, ...]
    names: tuple[str, ...]
    rows_in: int
    rows_suppressed: int
    achieved_k: int
    information_loss: float
    nodes_evaluated: int
    kept_classes: pd.DataFrame  # one row per released class: the labels at the chosen node
    kept_persons: np.ndarray | None = None  # sorted person numbers released (person tables)
    persons_in: int = 0
    persons_suppressed: int = 0
    risk: Mapping[str, float] = field(default_factory=dict)
    risk_before: Mapping[str, float] = field(default_factory=dict)


class ClassTable:
    """A class table with its codes prepared for fast evaluation of lattice nodes."""

    def __init__(
        self,
        table: pd.DataFrame,
        hierarchies: Sequence[Hierarchy],
        *,
        sensitive: Sequence[str] = (),
    ):
        self.hierarchies = tuple(hierarchies)
        order: np.ndarray | slice = slice(None)
        self.persons: np.ndarray | None = None
        self.person_numbers: np.ndarray | None = None
        if PERSON in table:
            codes, numbers = pd.factorize(table[PERSON])
            # Entries sorted by person: a person's record is then one contiguous run.
            order = np.argsort(codes, kind="stable")
            self.persons = codes[order].astype(np.int32)
            self.person_numbers = np.asarray(numbers)
        self.base_codes = [_codes_against(table[h.name], h.labels[0])[order]
                           for h in self.hierarchies]
        self.rows = table[ROWS].to_numpy(dtype=np.int32)[order]
        self.sensitive = {name: pd.factorize(table[name])[0].astype(np.int32)[order]
                          for name in sensitive}
        self.total_rows = int(self.rows.sum())
        if self.persons is not None and self.person_numbers is not None:
            self.n_persons = len(self.person_numbers)
            self.person_starts = np.flatnonzero(
                np.r_[True, self.persons[1:] != self.persons[:-1]]) if len(self.persons) else (
                np.zeros(0, dtype=np.int64))
            self.rows_of_person = (np.add.reduceat(self.rows.astype(np.int64), self.person_starts)
                                   if self.n_persons else np.zeros(0, dtype=np.int64))
        else:
            self.n_persons = 0
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self._hash_cache: dict[tuple[int, int], np.ndarray] = {}

    def class_ids(self, node: Sequence[int]) -> np.ndarray:
        """Number the equivalence classes of `node`, one id per class-table entry."""
        level_codes = [self._level_codes(i, level) for i, level in enumerate(node)]
        sizes = [len(h.labels[level]) for h, level in zip(self.hierarchies, node, strict=True)]
        return _dense_key(level_codes, sizes, len(self.rows))

    def _level_codes(self, column: int, level: int) -> np.ndarray:
        """Every entry's code at one level of one column (computed once, reused by all nodes)."""
        key = (column, level)
        if key not in self._cache:
            self._cache[key] = self.hierarchies[column].codes[level][self.base_codes[column]]
        return self._cache[key]

    def _level_hashes(self, column: int, level: int) -> np.ndarray:
        """Every entry's label at one level of one column, hashed with a hash of its own per
        column (computed once, reused by all nodes)."""
        key = (column, level)
        if key not in self._hash_cache:
            codes = self._level_codes(column, level).astype(np.uint64)
            with np.errstate(over="ignore"):
                salted = codes + np.uint64((column + 1) * 0x9E3779B97F4A7C15 % 2**64)
            self._hash_cache[key] = _mix(salted)
        return self._hash_cache[key]

    def person_classes(self, node: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Group the persons by their whole record at `node`: (class of each person, persons per
        class)."""
        with np.errstate(over="ignore"):
            # A row tuple's hash: the sum of independent per-column hashes, mixed once more so
            # that the sum over a person's rows does not mix labels across rows.
            entry = np.zeros(len(self.rows), dtype=np.uint64)
            for column, level in enumerate(node):
                entry += self._level_hashes(column, level)
            weighted = _mix(entry) * self.rows.astype(np.uint64)
            if len(weighted):
                record = np.add.reduceat(weighted, self.person_starts)
                # The row count joins the fingerprint, so records of different length never meet.
                record = _mix(record ^ self.rows_of_person.astype(np.uint64))
            else:
                record = np.zeros(0, dtype=np.uint64)
        person_class, _ = pd.factorize(record)
        persons_per_class = np.bincount(person_class,
                                        minlength=int(person_class.max(initial=-1)) + 1)
        return person_class.astype(np.int64), persons_per_class.astype(np.int64)

    def _evaluate_persons(self, node: Sequence[int], requirement: Requirement) -> NodeOutcome:
        assert self.persons is not None
        person_class, persons = self.person_classes(node)
        ok = persons >= requirement.k
        class_of_entry = person_class[self.persons]
        for name, l_min in requirement.l_diversity.items():
            ok &= _diverse_in_persons(class_of_entry, self.persons, self.sensitive[name],
                                      persons, l_min)
        person_ok = ok[person_class]
        return NodeOutcome(
            node=tuple(int(x) for x in node),
            class_of_entry=class_of_entry,
            class_ok=ok,
            class_persons=persons,
            rows_suppressed=int(self.rows_of_person[~person_ok].sum()),
            person_class=person_class,
        )

    def evaluate(self, node: Sequence[int], requirement: Requirement) -> NodeOutcome:
        if self.persons is not None:
            return self._evaluate_persons(node, requirement)
        classes = self.class_ids(node)
        n_classes = int(classes.max(initial=-1)) + 1
        rows_per_class = np.bincount(classes, weights=self.rows, minlength=n_classes)
        persons = rows_per_class.astype(np.int64)
        ok = persons >= requirement.k
        for name, l_min in requirement.l_diversity.items():
            ok &= _distinct_per_class(classes, self.sensitive[name], n_classes) >= l_min
        return NodeOutcome(
            node=tuple(int(x) for x in node),
            class_of_entry=classes,
            class_ok=ok,
            class_persons=persons,
            rows_suppressed=int(rows_per_class[~ok].sum()),
        )

    def information_loss(self, outcome: NodeOutcome) -> float:
        """Share of information lost: mean generalisation height, suppressed rows count as all."""
        if self.total_rows == 0:
            return 0.0
        heights = [
            level / h.height if h.height else 0.0
            for h, level in zip(self.hierarchies, outcome.node, strict=True)
        ]
        kept = self.total_rows - outcome.rows_suppressed
        return (kept * float(np.mean(heights or [0.0])) + outcome.rows_suppressed) / self.total_rows

    def kept_persons(self, outcome: NodeOutcome) -> np.ndarray | None:
        """The numbers of the persons released at the node, sorted (None without persons)."""
        if outcome.person_class is None or self.person_numbers is None:
            return None
        return np.sort(self.person_numbers[outcome.class_ok[outcome.person_class]])

    def risk(self, outcome: NodeOutcome, *, released_only: bool = True) -> dict[str, float]:
        """Re-identification risk of the (released) persons under a prosecutor who knows the
        target is in the file: unique share, maximum and average of 1 / class size."""
        if outcome.person_class is not None:
            sizes = outcome.class_persons[outcome.person_class]
            if released_only:
                sizes = sizes[outcome.class_ok[outcome.person_class]]
        else:
            sizes = np.repeat(outcome.class_persons, outcome.class_persons)
            if released_only:
                sizes = sizes[np.repeat(outcome.class_ok, outcome.class_persons)]
        if not len(sizes):
            return {"unique_persons_share": 0.0, "max_prosecutor_risk": 0.0,
                    "average_prosecutor_risk": 0.0}
        return {
            "unique_persons_share": round(float((sizes == 1).mean()), 6),
            "max_prosecutor_risk": round(float(1.0 / sizes.min()), 6),
            "average_prosecutor_risk": round(float((1.0 / sizes).mean()), 6),
        }

    def kept_classes(self, outcome: NodeOutcome) -> pd.DataFrame:
        """One row per released class: its labels at the node."""
        kept_ids = np.flatnonzero(outcome.class_ok)
        first = np.full(len(outcome.class_ok), -1, dtype=np.int64)
        entries = np.arange(len(outcome.class_of_entry))
        first[outcome.class_of_entry[::-1]] = entries[::-1]
        representative = first[kept_ids]
        columns = {
            h.name: np.asarray(h.labels[level].astype(str))[h.codes[level][codes[representative]]]
            for h, codes, level in zip(self.hierarchies, self.base_codes, outcome.node, strict=True)
        }
        return pd.DataFrame(columns, index=pd.RangeIndex(len(kept_ids)))


def _dense_key(columns: Sequence[np.ndarray], sizes: Sequence[int], n: int) -> np.ndarray:
    """Number the tuples of code columns: mixed radix, made dense only when the radix space is
    much larger than the table (class ids may then skip numbers: those classes are empty)."""
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for codes, size in zip(columns, sizes, strict=True):
        if span * size > 2**62:
            key = pd.factorize(key)[0].astype(np.int64)
            span = int(key.max(initial=0)) + 1
        key = key * size + codes
        span *= size
    if span <= max(4 * n, 1 << 16):
        return key
    return pd.factorize(key)[0].astype(np.int64)


def _codes_against(values: pd.Series, labels: pd.Index) -> np.ndarray:
    labels = pd.Index(labels.astype(str))
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_category = labels.get_indexer(pd.Index(values.cat.categories.astype(str)))
        codes = values.cat.codes.to_numpy()
        codes = np.where(codes >= 0, per_category[np.maximum(codes, 0)], -1)
    else:
        codes = labels.get_indexer(pd.Index(values.astype(str)))
    if (codes < 0).any():
        raise ValueError(f"{values.name}: values missing from the hierarchy")
    return codes.astype(np.int32)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-spread 64-bit hash of each value (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _diverse_in_persons(class_of_entry: np.ndarray, person_of_entry: np.ndarray,
                        values: np.ndarray, persons_per_class: np.ndarray, l_min: int
                        ) -> np.ndarray:
    """Per class: at least `l_min` distinct values, each missing from >= l_min - 1 persons."""
    n = len(persons_per_class)
    span = int(values.max(initial=0)) + 1
    known = values >= 0  # entries of datasets without the column hold no value
    holders = pd.unique(person_of_entry[known].astype(np.int64) * span + values[known])
    person, value = holders // span, holders % span
    # The persons of one class are consecutive entries' persons: map person -> class.
    class_of_person = np.zeros(int(person_of_entry.max(initial=-1)) + 1, dtype=np.int64)
    class_of_person[person_of_entry] = class_of_entry
    pairs = class_of_person[person] * span + value
    pair_keys, holders_per_pair = np.unique(pairs, return_counts=True)
    pair_class = pair_keys // span
    distinct = np.bincount(pair_class, minlength=n)
    most_held = np.zeros(n, dtype=np.int64)
    np.maximum.at(most_held, pair_class, holders_per_pair)
    return (distinct >= l_min) & (persons_per_class - most_held >= l_min - 1)


def _distinct_per_class(classes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Number of distinct `values` in each class."""
    span = int(values.max(initial=0)) + 1
    pairs = pd.unique(classes.astype(np.int64) * span + values)
    return np.bincount(pairs // span, minlength=n).astype(np.int64)


class _Lattice:
    """The generalisation lattice as a dense grid, with each node's known anonymity."""

    def __init__(self, table: ClassTable, requirement: Requirement, bottom: tuple[int, ...],
                 top: tuple[int, ...] | None = None):
        self.table = table
        self.requirement = requirement
        self.bottom = np.array(bottom, dtype=np.int64)
        heights = [h.height for h in table.hierarchies]
        self.top = np.array(top if top is not None else heights, dtype=np.int64)
        self.budget = int(np.floor(requirement.max_suppressed_fraction * table.total_rows))
        ranges = [range(b, t + 1) for b, t in zip(self.bottom, self.top, strict=True)]
        self.grid = np.array(np.meshgrid(*ranges, indexing="ij")).reshape(len(ranges), -1).T
        self.radix = np.cumprod([1, *(self.top - self.bottom + 1)[::-1]])[:-1][::-1]
        # 1 anonymous, 0 not anonymous, -1 unknown (inferred by monotonicity where possible)
        self.state = np.full(len(self.grid), -1, dtype=np.int8)
        self.outcomes: dict[tuple[int, ...], NodeOutcome] = {}

    def index(self, node: np.ndarray) -> int:
        return int(((node - self.bottom) * self.radix).sum())

    def known(self, node: np.ndarray) -> bool | None:
        state = self.state[self.index(node)]
        return None if state < 0 else bool(state)

    def outcome(self, node: np.ndarray) -> NodeOutcome:
        key = tuple(int(x) for x in node)
        if key not in self.outcomes:
            self.outcomes[key] = self.table.evaluate(key, self.requirement)
        return self.outcomes[key]

    def check(self, node: np.ndarray) -> bool:
        anonymous = self.outcome(node).rows_suppressed <= self.budget
        if anonymous:
            self.state[np.all(self.grid >= node, axis=1)] = 1
        else:
            self.state[np.all(self.grid <= node, axis=1)] = 0
        return anonymous

    def successors(self, node: np.ndarray) -> list[np.ndarray]:
        steps = np.eye(len(node), dtype=np.int64)
        return [node + steps[i] for i in range(len(node)) if node[i] < self.top[i]]

    def predecessors(self, node: np.ndarray) -> list[np.ndarray]:
        steps = np.eye(len(node), dtype=np.int64)
        return [node - steps[i] for i in range(len(node)) if node[i] > self.bottom[i]]

    def path_up(self, node: np.ndarray) -> list[np.ndarray]:
        path = [node]
        while True:
            unknown = [s for s in self.successors(path[-1]) if self.known(s) is None]
            if not unknown:
                return path
            path.append(unknown[0])

    def binary_search(self, path: list[np.ndarray]) -> None:
        low, high = 0, len(path) - 1
        while low <= high:
            middle = (low + high) // 2
            anonymous = self.known(path[middle])
            if anonymous is None:
                anonymous = self.check(path[middle])
            if anonymous:
                high = middle - 1
            else:
                low = middle + 1

    def minimal_anonymous(self) -> list[np.ndarray]:
        order = np.lexsort((*(self.grid.T[::-1]), self.grid.sum(axis=1)))
        for position in order:
            if self.state[position] < 0:
                self.binary_search(self.path_up(self.grid[position]))
        return [
            node
            for node in self.grid[self.state == 1]
            if all(self.known(p) is False for p in self.predecessors(node))
        ]


def anonymise(
    table: ClassTable, requirement: Requirement, *, bottom: Sequence[int] | None = None,
    top: Sequence[int] | None = None,
) -> Anonymisation:
    """Find the least lossy node meeting `requirement` and the classes (or persons) it releases.

    `bottom` and `top` bound the search per quasi-identifier; equal bounds fix a column at a
    level (data already released elsewhere at that level).

    When the bottom node already fits the suppression budget no search happens. When not even
    the top node (everything "*") fits it, the top node is used: it suppresses the least.
    """
    start = tuple(bottom) if bottom is not None else tuple(0 for _ in table.hierarchies)
    lattice = _Lattice(table, requirement, start, tuple(top) if top is not None else None)
    if lattice.check(np.array(start)):
        best = lattice.outcome(np.array(start))
    elif not lattice.check(lattice.top.copy()):
        best = lattice.outcome(lattice.top)  # nothing fits the budget: suppress least
    else:
        candidates = [lattice.outcome(node) for node in lattice.minimal_anonymous()]
        best = min(
            candidates,
            key=lambda o: (table.information_loss(o), o.rows_suppressed, sum(o.node)),
        )
    kept_persons = table.kept_persons(best)
    before = lattice.outcome(np.array(start))
    return Anonymisation(
        node=best.node,
        names=tuple(h.name for h in table.hierarchies),
        rows_in=table.total_rows,
        rows_suppressed=best.rows_suppressed,
        achieved_k=best.achieved_k,
        information_loss=table.information_loss(best),
        nodes_evaluated=len(lattice.outcomes),
        kept_classes=table.kept_classes(best) if kept_persons is None else pd.DataFrame(),
        kept_persons=kept_persons,
        persons_in=table.n_persons,
        persons_suppressed=(table.n_persons - len(kept_persons)) if kept_persons is not None
        else 0,
        risk=table.risk(best),
        risk_before=table.risk(before, released_only=False),
    )
