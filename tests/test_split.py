"""Tests for the time split and the cold-start mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.split import TimeSplit, cold_start_mask


def _frame(days: list[int]) -> pd.DataFrame:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "as_of": [start + pd.Timedelta(days=d) for d in days],
            "brand_id": [f"b{i % 3}" for i in range(len(days))],
            "influencer_id": [f"i{i}" for i in range(len(days))],
        }
    )


def test_boundaries_are_shares_of_time_span_not_of_rows():
    # 90 rows crowded at day 0..8, 12 spread to day 100: row quantiles would differ a lot.
    days = [d % 9 for d in range(90)] + [70, 75] + list(range(91, 101))
    split = TimeSplit.from_frame(_frame(days))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    assert split.train_end == start + pd.Timedelta(days=65)
    assert split.valid_end == start + pd.Timedelta(days=80)


def test_masks_partition_rows_with_boundaries_in_the_later_window():
    df = _frame([0, 64, 65, 79, 80, 100])
    split = TimeSplit.from_frame(df)
    train, valid, test = split.masks(df["as_of"])
    assert train.tolist() == [True, True, False, False, False, False]
    assert valid.tolist() == [False, False, True, True, False, False]
    assert test.tolist() == [False, False, False, False, True, True]


def test_split_returns_time_sorted_frames_without_touching_input():
    df = _frame([100, 0, 70, 10, 90, 65]).reset_index(drop=True)
    before = df.copy()
    train, valid, test = TimeSplit.from_frame(df).split(df)
    pd.testing.assert_frame_equal(df, before)
    assert train["as_of"].is_monotonic_increasing and len(train) == 2
    start = pd.Timestamp("2024-01-01", tz="UTC")
    assert (valid["as_of"] - start).dt.days.tolist() == [65, 70]
    assert len(test) == 2
    assert train["as_of"].max() < valid["as_of"].min() <= valid["as_of"].max() < test["as_of"].min()


def test_empty_window_is_a_clear_error():
    df = _frame([0, 1, 2, 100])  # nothing between day 65 and 80
    with pytest.raises(ValueError, match="valid window"):
        TimeSplit.from_frame(df)


def test_train_end_must_precede_valid_end():
    t = pd.Timestamp("2024-01-01", tz="UTC")
    with pytest.raises(ValueError, match="before valid_end"):
        TimeSplit(train_end=t, valid_end=t)


def test_custom_shares():
    split = TimeSplit.from_frame(_frame([0, 10, 55, 60, 99, 100]), train_share=0.5, valid_share=0.1)
    assert split.train_end == pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=50)
    assert split.valid_end == pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=60)


def test_row_split_cuts_at_row_quantiles_in_time_order():
    # 102 rows: 10 on each of days 0..8, then days 70, 75 and 91..100.
    # 65% of 102 -> row 67 (0-based), on day 6; 80% -> row 82, on day 8.
    days = [d % 9 for d in range(90)] + [70, 75] + list(range(91, 101))
    df = _frame(days)
    split = TimeSplit.from_frame(df, by="rows")
    start = pd.Timestamp("2024-01-01", tz="UTC")
    assert split.train_end == start + pd.Timedelta(days=6)
    assert split.valid_end == start + pd.Timedelta(days=8)
    train, valid, test = split.split(df)
    assert (len(train), len(valid), len(test)) == (60, 20, 22)  # ties stay in one window
    assert train["as_of"].max() < valid["as_of"].min() <= valid["as_of"].max() < test["as_of"].min()


def test_row_split_with_one_crowded_instant_is_a_clear_error():
    df = _frame([0] * 5 + [1] * 90 + [2] * 5)  # the 65% and 80% quantiles are both day 1
    with pytest.raises(ValueError, match="validation window would be empty"):
        TimeSplit.from_frame(df, by="rows")


def test_unknown_split_kind_is_refused():
    with pytest.raises(ValueError, match="'time' or 'rows'"):
        TimeSplit.from_frame(_frame([0, 50, 100]), by="random")


def test_cold_start_mask_flags_unseen_influencer_or_brand():
    train = pd.DataFrame({"influencer_id": ["a", "b"], "brand_id": ["x", "y"]})
    test = pd.DataFrame({"influencer_id": ["a", "c", "b", "c"], "brand_id": ["x", "x", "z", "z"]})
    assert cold_start_mask(train, test).tolist() == [False, True, True, True]
    assert cold_start_mask(train, test, columns=("influencer_id",)).tolist() == [
        False, True, False, True,
    ]
    assert cold_start_mask(train, test, columns=("brand_id",)).dtype == np.bool_


def test_cold_start_mask_names_missing_column():
    with pytest.raises(ValueError, match="'brand_id'"):
        cold_start_mask(pd.DataFrame({"influencer_id": ["a"]}), pd.DataFrame({"influencer_id": []}))


def test_rows_not_settled_by_the_next_window_leave_train_and_validation():
    from recommender.split import settled_in_time

    times = pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC")
    rows = pd.DataFrame({"collaboration_id": [f"c{i}" for i in range(100)], "as_of": times})
    split = TimeSplit.from_frame(rows)
    train, valid, _ = split.split(rows)
    lag = pd.Timedelta(days=10)
    settled = pd.Series(times + lag, index=rows["collaboration_id"])
    kept_train, kept_valid = settled_in_time(train, valid, split, settled)
    assert (kept_train["as_of"] + lag < split.train_end).all()
    assert (kept_valid["as_of"] + lag < split.valid_end).all()
    # a gap of the lag before each boundary, nothing more taken away
    assert split.train_end - kept_train["as_of"].max() <= lag + pd.Timedelta(days=1)
    assert len(kept_train) == len(train) - 10 and len(kept_valid) == len(valid) - 10
