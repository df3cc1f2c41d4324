"""The time split: train, validation and test windows cut by time, never by shuffling."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

WINDOWS = ("train", "valid", "test")
SPLIT_BY = ("time", "rows")


@dataclass(frozen=True)
class TimeSplit:
    """Three time windows: train `as_of < train_end`, valid `train_end <= as_of < valid_end`,
    test `as_of >= valid_end`."""

    train_end: pd.Timestamp
    valid_end: pd.Timestamp

    def __post_init__(self) -> None:
        if not self.train_end < self.valid_end:
            raise ValueError(
                f"TimeSplit: train_end ({self.train_end}) must be before valid_end "
                f"({self.valid_end})"
            )

    @classmethod
    def from_times(
        cls, as_of: pd.Series, train_share: float = 0.65, valid_share: float = 0.15,
        by: str = "time",
    ) -> TimeSplit:
        """Cut the timestamps into three consecutive windows.

        by="time" (the default) cuts the span [min(as_of), max(as_of)] by shares of TIME: train
        the first 65% of the span, validation the next 15%, test the last 20%. by="rows" puts
        the boundaries at the row quantiles instead (65% of the rows, in time order, then
        15%, then 20%), for data whose rows crowd into part of the span; rows at the same
        instant stay in one window. Raises ValueError if a window would hold no row.
        """
        if not (0 < train_share and 0 < valid_share and train_share + valid_share < 1):
            raise ValueError(
                f"TimeSplit: shares must be positive and leave room for test, got "
                f"train_share={train_share}, valid_share={valid_share}"
            )
        if by not in SPLIT_BY:
            raise ValueError(f"TimeSplit: split by 'time' or 'rows', not {by!r}")
        times = pd.to_datetime(pd.Series(as_of)).dropna()
        if times.empty:
            raise ValueError("TimeSplit: the as_of column holds no timestamp")
        start, stop = times.min(), times.max()
        if by == "time":
            span = stop - start
            train_end = start + span * train_share
            valid_end = start + span * (train_share + valid_share)
        else:
            ordered = times.sort_values(kind="stable").reset_index(drop=True)
            last = len(ordered) - 1
            train_end = ordered[min(int(np.ceil(len(ordered) * train_share)), last)]
            valid_end = ordered[min(int(np.ceil(len(ordered) * (train_share + valid_share))),
                                    last)]
            if not train_end < valid_end:
                raise ValueError(
                    f"TimeSplit: the validation window would be empty: the rows from the "
                    f"{train_share:.0%} to the {train_share + valid_share:.0%} quantile all "
                    f"share the instant {train_end}")
        split = cls(train_end=train_end, valid_end=valid_end)
        counts = dict(zip(WINDOWS, (int(m.sum()) for m in split.masks(times)), strict=True))
        empty = [name for name, n in counts.items() if n == 0]
        if empty:
            raise ValueError(
                f"TimeSplit: the {', '.join(empty)} window(s) would be empty "
                f"(as_of spans {start} to {stop}; rows per window {counts}); "
                "more history or other shares are needed"
            )
        logger.info(
            "time split by %s: train < %s <= valid < %s <= test; rows %s",
            by, split.train_end, split.valid_end, counts,
        )
        return split

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        time_col: str = "as_of",
        train_share: float = 0.65,
        valid_share: float = 0.15,
        by: str = "time",
    ) -> TimeSplit:
        """`from_times` on the column `time_col` of `df`."""
        if time_col not in df.columns:
            raise ValueError(f"TimeSplit: the frame has no column {time_col!r}")
        return cls.from_times(df[time_col], train_share, valid_share, by)

    def masks(self, as_of: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean masks (train, valid, test) for the timestamps `as_of`; NaT is in none."""
        times = pd.to_datetime(pd.Series(as_of))
        known = times.notna().to_numpy()
        before_train = (times < self.train_end).to_numpy() & known
        before_valid = (times < self.valid_end).to_numpy() & known
        return before_train, before_valid & ~before_train, known & ~before_valid

    def split(
        self, df: pd.DataFrame, time_col: str = "as_of"
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """New frames (train, valid, test), each sorted by `time_col` (stable)."""
        parts = tuple(
            df.loc[mask].sort_values(time_col, kind="stable")
            for mask in self.masks(df[time_col])
        )
        return parts  # type: ignore[return-value]

    def to_dict(self) -> dict[str, str]:
        """ISO strings of the two boundaries (for logging as run parameters)."""
        return {"train_end": self.train_end.isoformat(), "valid_end": self.valid_end.isoformat()}


def settled_in_time(
    train: pd.DataFrame, valid: pd.DataFrame, split: TimeSplit, settled: pd.Series,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and validation windows without the rows whose label is not settled by the start
    of the next window: a model trained at `train_end` (`valid_end`) could not know them.

    `settled` maps collaboration_id to the instant its outcome is final (settled_at, or
    started_at + the outcome lag). The purged rows leave a gap of about the lag before each
    window boundary; the test window is untouched (it is scored, not learned from).
    """
    def keep(frame: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
        done = frame["collaboration_id"].map(settled)
        if done.isna().any():
            raise ValueError("settled_in_time: a row's collaboration_id has no settle time")
        return frame.loc[(done < end).to_numpy()]

    kept = keep(train, split.train_end), keep(valid, split.valid_end)
    logger.info("outcome lag: %d train and %d validation rows left out (not settled by the "
                "next window)", len(train) - len(kept[0]), len(valid) - len(kept[1]))
    return kept


def cold_start_mask(
    train: pd.DataFrame,
    test: pd.DataFrame,
    columns: Sequence[str] = ("influencer_id", "brand_id"),
) -> np.ndarray:
    """True for each row of `test` whose value in ANY of `columns` never appears in `train`.

    Pass `columns=("influencer_id",)` for influencer cold start alone.
    """
    mask = np.zeros(len(test), dtype=bool)
    for col in columns:
        for frame, name in ((train, "train"), (test, "test")):
            if col not in frame.columns:
                raise ValueError(f"cold_start_mask: the {name} frame has no column {col!r}")
        mask |= ~test[col].isin(set(train[col].dropna())).to_numpy()
    return mask
