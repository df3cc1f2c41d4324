"""Feature export: validated data + a pairs file -> one Parquet file of keys and features."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from recommender.features.assemble import build_features
from recommender.io import write_csv_atomic, write_parquet_atomic
from recommender.validate import OnInvalid, load_dataset, load_pairs, rejects_path_for

logger = logging.getLogger(__name__)


def export_features(
    data_dir: Path, pairs_path: Path, out_path: Path, on_invalid: OnInvalid = "fail"
) -> int:
    """Write brand_id, influencer_id, as_of and every feature of each pair to `out_path`.

    A pair without as_of is featurised as of the data's latest timestamp. With
    on_invalid="quarantine", rejected data and pair rows go to a rejects file beside the
    output. The Parquet file is written atomically; returns the number of rows written.
    """
    ds = load_dataset(data_dir, on_invalid=on_invalid)
    pairs, pair_rejects = load_pairs(Path(pairs_path), ds, on_invalid=on_invalid)
    rejects = pd.concat([ds.rejects, pair_rejects], ignore_index=True)
    feats = build_features(ds, pairs)
    if len(rejects):  # written once the features are built: a failure leaves neither file
        path = rejects_path_for(Path(out_path))
        write_csv_atomic(rejects, path)
        logger.warning("%d rejected rows written to %s", len(rejects), path)
    write_parquet_atomic(feats, Path(out_path))
    logger.info("wrote features of %d pairs to %s", len(feats), out_path)
    return len(feats)
