"""Point-in-time lookups (rows of a (group, time)-sorted table strictly before as_of) and the
small numeric helpers every feature family shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9
_NS_UTC = pd.DatetimeTZDtype("ns", "UTC")
_NAT = np.iinfo(np.int64).min  # NaT as int64


def code_dtype(n_groups: int) -> type:
    """The integer type of group codes: int32 while it holds them (half the memory)."""
    return np.int32 if n_groups < 2**31 - 1 else np.int64


def codes_in(ids: pd.Series | np.ndarray, index: pd.Index) -> np.ndarray:
    """Position of each id in `index` (-1 where absent), as code_dtype(len(index)).

    Ids usually come grouped (posts by influencer): then each run of equal ids is looked up
    once. Otherwise the ids are factorised (Arrow's hashing) and only the distinct ones are
    looked up.
    """
    ids = ids if isinstance(ids, pd.Series) else pd.Series(ids)
    dtype = code_dtype(len(index))
    if len(ids) > 1 and isinstance(ids.array, pd.arrays.ArrowStringArray):
        import pyarrow.compute as pc

        values = ids.array._pa_array.combine_chunks()
        changed = pc.not_equal(values[1:], values[:-1]).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.flatnonzero(changed) + 1])
        if 4 * len(starts) < len(ids) and not values.null_count:
            run_ids = pd.Index(values.take(starts).to_pandas())
            lengths = np.diff(np.append(starts, len(ids)))
            return np.repeat(index.get_indexer(run_ids).astype(dtype), lengths)
    codes, uniques = pd.factorize(ids)
    found = index.get_indexer(uniques).astype(dtype)
    if not len(found):  # every id missing (e.g. a brand without a country)
        return np.full(len(codes), -1, dtype=dtype)
    return np.where(codes >= 0, found[np.maximum(codes, 0)], -1).astype(dtype)


def to_ns(values: pd.Series | pd.Index | np.ndarray | list) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); naive values are read as UTC.

    A nanosecond datetime Series (the validated tables) is viewed, not copied.
    """
    if isinstance(values, pd.Series) and values.dtype in (_NS_UTC, np.dtype("M8[ns]")):
        ns = values.array.asi8
    else:
        idx = pd.DatetimeIndex(pd.to_datetime(pd.Index(values), utc=True))
        ns = (idx if idx.unit == "ns" else idx.as_unit("ns")).asi8
    if len(ns) and (ns == _NAT).any():
        raise ValueError("a timestamp is missing (NaT) where a point in time is required")
    return ns


def from_ns(ns: np.ndarray) -> pd.DatetimeIndex:
    """int64 nanoseconds since the epoch as UTC timestamps."""
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("M8[ns]"), tz="UTC")


def encode(values: pd.Series | np.ndarray, vocab: pd.Index) -> np.ndarray:
    """Position of each value in `vocab` (int64); -1 where absent or missing."""
    return codes_in(values, vocab).astype(np.int64)


def same_value(a: pd.Series | np.ndarray, a_rows: np.ndarray, b: pd.Series | np.ndarray,
               b_rows: np.ndarray) -> np.ndarray:
    """1.0 where a[a_rows] equals b[b_rows], 0.0 where not, NaN where either is missing.

    Values are coded once per side row (against the values of side b, usually few), so the
    per-pair work is integer gathers.
    """
    a = a if isinstance(a, pd.Series) else pd.Series(a, dtype=object)
    b = b if isinstance(b, pd.Series) else pd.Series(b, dtype=object)
    vocab = pd.Index(pd.unique(b.dropna().to_numpy(dtype=object)))
    ca, cb = encode(a, vocab)[a_rows], encode(b, vocab)[b_rows]
    missing = a.isna().to_numpy()[a_rows] | b.isna().to_numpy()[b_rows]
    return np.where(missing, np.nan, ((ca == cb) & (cb >= 0)).astype(np.float64))


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, NaN where the denominator is zero or missing."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    ok = np.isfinite(den) & (den != 0)
    np.divide(num, den, out=out, where=ok)
    return out


def shrunk_rate(
    successes: np.ndarray, trials: np.ndarray, prior_rate: np.ndarray, prior_strength: float
) -> np.ndarray:
    """(successes + k * prior) / (trials + k): a rate pulled toward `prior_rate` by k pseudo-trials.

    Without a prior (NaN) the raw rate is used; without trials and prior the rate is NaN.
    """
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    p = np.asarray(prior_rate, dtype=np.float64)
    with_prior = safe_div(s + prior_strength * np.nan_to_num(p), n + prior_strength)
    return np.where(np.isnan(p), safe_div(s, n), with_prior)


@dataclass(frozen=True)
class Timeline:
    """Rows of an event table ordered by (group code, time), with per-group offsets.

    `order[i]` is the source position of the i-th sorted row; group g holds sorted rows
    offsets[g] .. offsets[g + 1]. Every lookup is exact on nanoseconds and strict: a row at
    exactly `as_of` is never counted as before it.
    """

    codes: np.ndarray
    times: np.ndarray
    offsets: np.ndarray
    sort_order: np.ndarray | None = None  # None: the source rows were already in order

    @classmethod
    def build(cls, codes: np.ndarray, times: np.ndarray, n_groups: int) -> Timeline:
        """Sort rows by (code, time); codes must lie in [0, n_groups)."""
        codes = np.asarray(codes, dtype=code_dtype(n_groups))
        times = np.asarray(times, dtype=np.int64)
        if len(codes) and (codes.min() < 0 or codes.max() >= n_groups):
            raise ValueError("group codes must lie in [0, n_groups)")
        offsets = np.zeros(n_groups + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes, minlength=n_groups), out=offsets[1:])
        if _is_sorted(codes, times):
            return cls(codes, times, offsets)
        order = np.lexsort((times, codes)).astype(np.int64)
        return cls(codes[order], times[order], offsets, order)

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, values: np.ndarray) -> np.ndarray:
        """Source-ordered `values` in timeline order (the array itself if already in order)."""
        values = np.asarray(values)
        return values if self.sort_order is None else values[self.sort_order]

    def group_bounds(self, q_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last sorted row of each query's group (empty for code -1)."""
        q = np.asarray(q_codes, dtype=np.int64)
        if len(self.offsets) == 1:  # no groups at all (an empty table): every query is empty
            return np.zeros(len(q), dtype=np.int64), np.zeros(len(q), dtype=np.int64)
        known = q >= 0
        safe = np.where(known, q, 0)
        start = np.where(known, self.offsets[safe], 0)
        stop = np.where(known, self.offsets[safe + 1], 0)
        return start, stop

    def first_not_before(
        self, lo: np.ndarray, hi: np.ndarray, q_times: np.ndarray
    ) -> np.ndarray:
        """Per query, the first sorted row in [lo, hi) whose time is >= q_time (hi if none).

        A vectorised binary search over each query's own range: about log2(range) passes
        over the queries, never a loop per query.
        """
        lo = np.array(lo, dtype=np.int64, copy=True)
        hi = np.array(hi, dtype=np.int64, copy=True)
        q_times = np.asarray(q_times, dtype=np.int64)
        active = np.nonzero(lo < hi)[0]
        while len(active):
            a_lo, a_hi = lo[active], hi[active]
            mid = (a_lo + a_hi) // 2
            before = self.times[mid] < q_times[active]
            lo[active] = np.where(before, mid + 1, a_lo)
            hi[active] = np.where(before, a_hi, mid)
            active = active[lo[active] < hi[active]]
        return lo

    def before(self, q_codes: np.ndarray, q_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(group start, end): the query group's rows strictly before q_time are [start, end)."""
        start, stop = self.group_bounds(q_codes)
        return start, self.first_not_before(start, stop, q_times)


def segment_sums(block: np.ndarray, bounds: list[np.ndarray],
                 dtype: type | None = None) -> np.ndarray:
    """Sums of block[:, b_k[i]:b_k+1[i]] for consecutive bounds b_0 <= b_1 <= ... of each
    query i, as a (block rows, queries, segments) array; an empty segment sums to 0.

    `block` ends with one padding column (so a bound may equal the number of data rows).
    Each sum reads only its own segment, so it never depends on other rows (features stay
    bit-identical when unrelated rows are removed). With queries in (group, as_of) order
    the call costs one pass over the block plus the queries' segment lengths.
    """
    k, m = len(bounds), len(bounds[0])
    if not m:
        return np.zeros((block.shape[0], 0, k - 1), dtype=dtype or block.dtype)
    idx = np.stack(bounds, axis=1).ravel()
    sums = np.add.reduceat(block, idx, axis=1, dtype=dtype).reshape(block.shape[0], m, k)
    sums = sums[:, :, :-1]  # the last "segment" of each query runs to the next query
    empty = np.stack([bounds[j + 1] <= bounds[j] for j in range(k - 1)], axis=1)
    sums[:, empty] = 0
    return sums


def covered_rows(lo: np.ndarray, hi: np.ndarray, limit: int) -> np.ndarray | None:
    """Sorted rows inside at least one range [lo_i, hi_i) (ranges sorted by lo), or None
    when they number `limit` or more."""
    if not len(lo):
        return np.zeros(0, dtype=np.int64)
    reach = np.maximum.accumulate(hi)
    new_run = np.concatenate([[True], lo[1:] > reach[:-1]])
    run_lo = lo[new_run]
    run_hi = np.maximum.reduceat(hi, np.flatnonzero(new_run))
    lengths = np.maximum(run_hi - run_lo, 0)
    total = int(lengths.sum())
    if total >= limit:
        return None
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.repeat(run_lo - firsts, lengths) + np.arange(total, dtype=np.int64)


def int_cumsum(values: np.ndarray) -> np.ndarray:
    """Exclusive running count over the whole timeline: c[i] = sum(values[:i]); exact integers."""
    out = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, dtype=np.int64, out=out[1:])
    return out


def _is_sorted(codes: np.ndarray, times: np.ndarray) -> bool:
    if len(codes) < 2:
        return True
    up = codes[1:] > codes[:-1]
    return bool(np.all(up | (codes[1:] == codes[:-1])) and np.all(up | (times[1:] >= times[:-1])))
