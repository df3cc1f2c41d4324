"""Hostile input: broken versions of every contract table through the real CLI.

Each example takes a tiny valid world, breaks one table in one way (wrong types, missing
columns, out-of-range values, duplicates, dangling references, odd encodings and delimiters,
empty files, garbage bytes, huge values, NaN/inf) and runs a command in-process. Every command
must either accept the data or exit with code 2 and a message naming the broken file or
column; never a stack trace, never a partial output file or a leftover temp file.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import mlflow_store
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recommender import contract
from recommender.cli import app

WORLD = {"n_influencers": 30, "n_brands": 4, "months": 12, "seed": 1}
TABLES = tuple(contract.TABLES)
# Which tables refer to a table: a broken parent id surfaces as a dangling id in a child.
CHILDREN = {
    name: {t for t, spec in contract.TABLES.items()
           if any(c.references and c.references.startswith(f"{name}.") for c in spec.columns)}
    for name in (*contract.TABLES, "pairs")
}
CHILDREN["brands"] |= {"pairs"}
CHILDREN["influencers"] |= {"pairs"}
ODD_VALUES = (
    "", " ", "abc", "NaN", "nan", "inf", "-inf", "-1", "-0", "1.5", "1e400", "9" * 40,
    "2024-13-45", "20245-01-01", "true", "None", "NULL", "\U0001f642", "Caf\u00e9",
    '"quoted, with comma"', "line\nbreak", "../../etc/passwd", "0x1F", "1,000", "\t",
)
FILE_KINDS = ("empty_file", "header_only", "garbage", "truncated_parquet", "delimiter",
              "latin1", "utf16", "bom", "duplicate_header")
CSV_ONLY = ("header_only", "delimiter", "latin1", "utf16", "bom", "duplicate_header")
FRAME_KINDS = ("missing_column", "bad_value", "huge_value", "duplicate_rows", "dangling",
               "extra_column", "drop_table", "shouting_header")


@dataclass(frozen=True)
class Corruption:
    """One way to break one table: `kind`, the column it touches, the value or bytes used."""

    table: str
    kind: str
    fmt: str  # "csv" or "parquet": how the broken table is written
    column: str = ""
    value: object = None
    rows: tuple[int, ...] = ()
    payload: bytes = b""

    @property
    def column_level(self) -> bool:
        return self.kind in ("missing_column", "bad_value", "huge_value", "duplicate_rows",
                             "dangling", "duplicate_header")


# ----------------------------------------------------------------------------- base world


class Base:
    """The tiny valid world (and a valid pairs table) as frames and as CSV bytes."""

    def __init__(self, frames: dict[str, pd.DataFrame], csv: dict[str, bytes]):
        self.frames, self.csv = frames, csv

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Base({WORLD})"


@pytest.fixture(scope="module")
def base() -> Base:
    from recommender.world import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        generate_world(Path(tmp), **WORLD)
        frames = {name: pd.read_parquet(Path(tmp) / f"{name}.parquet") for name in TABLES}
    inf, brands = frames["influencers"]["influencer_id"], frames["brands"]["brand_id"]
    frames["pairs"] = pd.DataFrame({
        "brand_id": np.repeat(brands.to_numpy()[:2], 3),
        "influencer_id": np.tile(inf.to_numpy()[:3], 2),
        "as_of": ["2026-01-01T00:00:00Z"] * 5 + [""],
    })
    return Base(frames, {name: _csv_bytes(_as_text(df)) for name, df in frames.items()})


@pytest.fixture(scope="module")
def store():
    """A fresh SQLite MLflow store as the current tracking and registry URI; its experiments
    keep their artifacts in the same temporary folder (not ./mlruns)."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        with mlflow_store(uri):
            client = mlflow.MlflowClient(uri, uri)
            for name in ("hostile", "hostile-tune"):
                client.create_experiment(name, artifact_location=(Path(tmp) / name).as_uri())
            yield client


@pytest.fixture(scope="module")
def model_dir(base: Base, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ConversionModel fitted on the tiny world, saved as a folder (for `score`)."""
    from recommender.train import fit, prepare

    data = tmp_path_factory.mktemp("hostile_model")
    write_folder(base, Corruption("", "none", "csv"), data / "data")
    model = fit(prepare(data / "data", outcome_lag=0), params={"num_leaves": 4}, num_boost_round=5,
                early_stopping_rounds=5)
    return model.save(data / "model")


def _as_text_column(s: pd.Series) -> pd.Series:
    """A column as strings, with missing values kept missing (for CSV and mixed Parquet)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        text = s.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        text = s.astype("object").map(str)
    return text.astype("object").where(s.notna(), None)


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({col: _as_text_column(df[col]) for col in df.columns})


def _csv_bytes(df: pd.DataFrame, sep: str = ",", encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, sep=sep)
    return buf.getvalue().encode(encoding)


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    """Parquet as typed as possible: a column Arrow cannot store (mixed Python types, an
    integer beyond int64) is written as text."""
    import pyarrow as pa

    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            try:
                pa.array(out[c], from_pandas=True)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                out[c] = _as_text_column(out[c])
    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    return buf.getvalue()


def _break_frame(df: pd.DataFrame, c: Corruption) -> pd.DataFrame | None:
    """The table after a frame-level corruption (None: the table is removed)."""
    df = df.copy()
    rows = [r % len(df) for r in c.rows] or [0]
    if c.kind == "missing_column":
        return df.drop(columns=[c.column])
    if c.kind in ("bad_value", "huge_value", "dangling"):
        df[c.column] = df[c.column].astype("object")
        for r in rows:
            df.iat[r, df.columns.get_loc(c.column)] = c.value
        return df
    if c.kind == "duplicate_rows":
        return pd.concat([df, df.iloc[rows]], ignore_index=True)
    if c.kind == "extra_column":
        return df.assign(**{c.column: "surplus"})
    if c.kind == "drop_table":
        return None
    if c.kind == "shouting_header":
        return df.rename(columns=lambda n: f" {n.upper()} ")
    raise AssertionError(c.kind)


def _file_bytes(df: pd.DataFrame, c: Corruption) -> bytes:
    """The broken table's file content for a file-level corruption."""
    text = _as_text(df)
    if c.kind == "empty_file":
        return b""
    if c.kind == "header_only":
        return _csv_bytes(text.iloc[:0])
    if c.kind == "garbage":
        return c.payload
    if c.kind == "truncated_parquet":
        whole = _parquet_bytes(df)
        return whole[: max(1, len(whole) * (c.rows[0] % 97) // 100)]
    if c.kind == "delimiter":
        return _csv_bytes(text, sep=str(c.value))
    if c.kind in ("latin1", "utf16", "bom"):  # a non-ASCII note in an ignored column
        text["notes"] = "caf\u00e9 cr\u00e8me"
        return _csv_bytes(text, encoding={"latin1": "latin-1", "utf16": "utf-16",
                                          "bom": "utf-8-sig"}[c.kind])
    if c.kind == "duplicate_header":  # the column `c.column` once more, as `c.value` spells it
        again = text[[c.column]].set_axis([str(c.value)], axis=1)
        return _csv_bytes(pd.concat([text, again], axis=1))
    raise AssertionError(c.kind)


def write_folder(base: Base, c: Corruption, folder: Path,
                 tables: tuple[str, ...] = TABLES) -> dict[str, Path]:
    """Write `tables` into `folder` (CSV), the corrupted one in its format; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in tables:
        df = base.frames[name]
        if name != c.table:
            paths[name] = folder / f"{name}.csv"
            paths[name].write_bytes(base.csv[name])
            continue
        suffix = {"truncated_parquet": ".parquet"}.get(
            c.kind, ".csv" if c.kind in CSV_ONLY else f".{c.fmt}")
        path = folder / f"{name}{suffix}"
        if c.kind in FILE_KINDS:
            path.write_bytes(_file_bytes(df, c))
        else:
            broken = _break_frame(df, c)
            if broken is None:
                continue
            if c.fmt == "parquet":
                path.write_bytes(_parquet_bytes(broken))
            else:
                path.write_bytes(_csv_bytes(_as_text(broken)))
        paths[name] = path
    return paths


# ----------------------------------------------------------------------------- strategies


def _spec(table: str) -> contract.Table:
    return contract.PAIRS if table == "pairs" else contract.TABLES[table]


def _written(table: str) -> list:
    """The contract columns of `table` that the generated base world holds."""
    from recommender.world import UNWRITTEN_COLUMNS

    return [col for col in _spec(table).columns if col.name not in UNWRITTEN_COLUMNS]


def _columns(table: str) -> list[str]:
    return [col.name for col in _written(table)]


def _references(table: str) -> list[str]:
    return [col.name for col in _written(table) if col.references]


def _numeric(table: str) -> list[str]:
    return [col.name for col in _written(table) if col.type in ("int", "float", "timestamp")]


cell_values = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
)
huge_values = st.sampled_from([1e308, -1e308, 2**63, 10**30, "1e309", "9" * 400, float("nan"),
                               float("inf")])


@st.composite
def corruptions(draw: st.DrawFn, tables: tuple[str, ...]) -> Corruption:
    """One broken table among `tables`, broken in one of the listed ways."""
    table = draw(st.sampled_from(tables))
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    kinds = list(FILE_KINDS + FRAME_KINDS)
    if not _references(table):
        kinds.remove("dangling")
    if not _numeric(table):
        kinds.remove("huge_value")
    kind = draw(st.sampled_from(kinds))
    rows = tuple(draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=3)))
    column, value, payload = "", None, b""
    if kind in ("missing_column", "bad_value"):
        column = draw(st.sampled_from(_columns(table)))
        value = draw(cell_values) if kind == "bad_value" else None
    elif kind == "huge_value":
        column, value = draw(st.sampled_from(_numeric(table))), draw(huge_values)
    elif kind == "duplicate_rows":  # the column a duplicate is reported on
        column = "segment" if _spec(table).long_shares_key else _columns(table)[0]
    elif kind == "dangling":
        column = draw(st.sampled_from(_references(table)))
        value = "ghost-" + draw(st.text("abc123", min_size=1, max_size=4))
    elif kind == "extra_column":
        column = draw(st.sampled_from(["notes", "platform_2", "x"]))
    elif kind == "garbage":
        payload = draw(st.binary(min_size=1, max_size=300))
    elif kind == "duplicate_header":
        column = draw(st.sampled_from(_columns(table)))
        value = draw(st.sampled_from([column.upper(), f" {column}", column.title()]))
    elif kind == "delimiter":
        value = draw(st.sampled_from([";", "\t", "|"]))
    return Corruption(table, kind, fmt, column, value, rows, payload)


# ----------------------------------------------------------------------------- checks


def flat(text: str) -> str:
    """Console output with line wrapping undone."""
    return " ".join(text.split())


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(*result.exc_info))
        raise AssertionError(f"{args[0]} raised instead of a message:\n{trace}")
    return result.exit_code, result.output


def assert_clean_outcome(code: int, output: str, c: Corruption, paths: dict[str, Path],
                         data_dir: Path) -> None:
    """Exit 0, or exit 2 with a message naming the broken file (or a table that refers to it)
    and, for a column-level break, the column; no trace either way."""
    assert code in (0, 2), output
    assert "Traceback" not in output
    if code == 0:
        return
    text = flat(output)
    named = {c.table, *CHILDREN.get(c.table, ())}
    files = [p.name for t, p in paths.items() if t in named] + [f"{c.table}.csv|.parquet"]
    assert any(f in text for f in files) or str(data_dir) in text, (c, text)
    if c.column_level and not any(f"{t}.csv" in text for t in CHILDREN.get(c.table, ())):
        assert f"'{c.column}'" in text, (c, text)
    assert not re.search(r"\bFile \".*\", line \d+", text), text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def budget(examples: int) -> settings:
    """A bounded number of examples, no per-example deadline (a command takes ~0.1-3 s).
    HOSTILE_SCALE=10 searches ten times longer (by hand, when hunting bugs)."""
    return settings(max_examples=examples * int(os.environ.get("HOSTILE_SCALE", "1")),
                    deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


# ----------------------------------------------------------------------------- tests


@budget(50)
@given(c=corruptions(TABLES), quarantine=st.booleans())
@example(c=Corruption("influencers", "delimiter", "csv", value=";"), quarantine=False)
@example(c=Corruption("posts", "latin1", "csv"), quarantine=False)
@example(c=Corruption("brands", "utf16", "csv"), quarantine=False)
@example(c=Corruption("posts", "empty_file", "csv"), quarantine=True)
@example(c=Corruption("collaborations", "header_only", "csv"), quarantine=False)
@example(c=Corruption("influencers", "huge_value", "parquet", "followers", 10**30),
         quarantine=False)
@example(c=Corruption("audience", "bad_value", "parquet", "share", float("nan"), (3,)),
         quarantine=True)
@example(c=Corruption("posts", "dangling", "csv", "influencer_id", "ghost"), quarantine=True)
def test_validate_accepts_or_names_the_broken_column(base: Base, c: Corruption, quarantine: bool):
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        paths = write_folder(base, c, data)
        rejects = out / "rejects.csv"
        code, output = run(["validate", "--data", str(data), "--rejects", str(rejects),
                            "--on-invalid", "quarantine" if quarantine else "fail"])
        assert_clean_outcome(code, output, c, paths, data)
        if code == 2 or not quarantine:
            assert leftovers(out) == [], output
        else:
            assert leftovers(out) in ([], ["rejects.csv"])
        if code == 0:
            assert "valid" in output
        assert sorted(p.name for p in data.iterdir()) == sorted(p.name for p in paths.values())


@budget(25)
@given(c=corruptions((*TABLES, "pairs")), quarantine=st.booleans())
@example(c=Corruption("pairs", "bad_value", "csv", "as_of", "yesterday"), quarantine=False)
@example(c=Corruption("pairs", "dangling", "csv", "brand_id", "ghost", (0, 1, 2, 3, 4, 5)),
         quarantine=True)
@example(c=Corruption("pairs", "header_only", "csv"), quarantine=False)
# regression: an empty collaborations table (valid: not needed to rank) crashed pair history
@example(c=Corruption("collaborations", "header_only", "csv"), quarantine=False)
@example(c=Corruption("pairs", "missing_column", "parquet", "influencer_id"), quarantine=False)
def test_features_writes_everything_or_nothing(base: Base, c: Corruption, quarantine: bool):
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        paths = write_folder(base, c, data, (*TABLES, "pairs"))
        pairs = paths.get("pairs", data / "pairs.csv")
        target = out / "features.parquet"
        code, output = run(["features", "--data", str(data), "--pairs", str(pairs),
                            "--out", str(target),
                            "--on-invalid", "quarantine" if quarantine else "fail"])
        assert_clean_outcome(code, output, c, paths, data)
        if code == 2:
            assert leftovers(out) == [], output
        else:
            written = pd.read_parquet(target)
            assert {"brand_id", "influencer_id", "as_of"} <= set(written.columns)
            assert set(leftovers(out)) <= {"features.parquet", "features.rejects.csv"}
            if quarantine:  # pairs of a quarantined brand or influencer are set aside too
                assert len(written) <= len(base.frames["pairs"])
            elif c.table != "pairs":
                assert len(written) == len(base.frames["pairs"])


@budget(8)
@given(c=corruptions(("influencers", "posts", "brands", "collaborations")))
@example(c=Corruption("collaborations", "bad_value", "csv", "conversions", "-3", (5,)))
@example(c=Corruption("collaborations", "drop_table", "csv"))
# regression: a finite but huge price overflowed the baselines' scaler (a trace, no message)
@example(c=Corruption("influencers", "bad_value", "csv", "price_per_post", 1.7976931348623157e308,
                      (7,)))
# regression: a Parquet started_at of 0 is 1970-01-01, a valid instant that leaves the
# validation window empty; the message named neither the file nor the column
@example(c=Corruption("collaborations", "bad_value", "parquet", "started_at", 0.0, (1,)))
def test_train_refuses_broken_data_before_logging_anything(base: Base, store, c: Corruption):
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        paths = write_folder(base, c, data)
        code, output = run(["train", "--data", str(data), "--no-register", "--experiment",
                            "hostile", "--num-boost-round", "5", "--outcome-lag", "0"])
        assert_clean_outcome(code, output, c, paths, data)
        experiment = store.get_experiment_by_name("hostile")
        runs = [] if experiment is None else store.search_runs([experiment.experiment_id])
        if code == 2:
            assert runs == [], "a refused training must not leave an MLflow run behind"
        else:
            assert [r.info.status for r in runs] == ["FINISHED"]
            for r in runs:
                store.delete_run(r.info.run_id)
            shutil.rmtree(data)


@budget(15)
@given(c=corruptions((*TABLES, "pairs")))
@example(c=Corruption("pairs", "bad_value", "csv", "influencer_id", "../../etc/passwd", (1,)))
@example(c=Corruption("pairs", "garbage", "parquet", payload=b"PAR1\x00garbage"))
def test_score_writes_everything_or_nothing(base: Base, model_dir: Path, c: Corruption):
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        paths = write_folder(base, c, data, (*TABLES, "pairs"))
        pairs = paths.get("pairs", data / "pairs.csv")
        target = out / "scores.parquet"
        code, output = run(["score", "--pairs", str(pairs), "--data", str(data), "--model",
                            str(model_dir), "--out", str(target), "--chunk-size", "4"])
        assert_clean_outcome(code, output, c, paths, data)
        if code == 2:
            assert leftovers(out) == [], output
        else:
            scores = pd.read_parquet(target)
            assert scores["score"].between(0, 1).all()
            assert leftovers(out) == ["scores.parquet"]


@pytest.mark.parametrize("c", [
    Corruption("influencers", "bad_value", "csv", "followers", "-5", (3,)),
    Corruption("posts", "delimiter", "csv", value=";"),
])
def test_tune_refuses_broken_data_before_searching(base: Base, store, c: Corruption):
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        paths = write_folder(base, c, data)
        code, output = run(["tune", "--data", str(data), "--trials", "1", "--experiment",
                            "hostile-tune", "--out", str(out / "best.json")])
        assert code == 2
        assert_clean_outcome(code, output, c, paths, data)
        assert leftovers(out) == []
        experiment = store.get_experiment_by_name("hostile-tune").experiment_id
        assert store.search_runs([experiment]) == []


# ----------------------------------------------------------------------------- regressions


@pytest.mark.parametrize("again", ["influencer_id", "Influencer_ID", "platform "])
def test_a_repeated_header_is_refused_naming_the_column(base: Base, again: str):
    """Regression: a header repeated with another case crashed with a trace, and an exact
    repeat was silently renamed by pandas (`influencer_id.1`) and ignored."""
    column = again.strip().lower()
    c = Corruption("influencers", "duplicate_header", "csv", column, again)
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(base, c, Path(tmp))
        code, output = run(["validate", "--data", tmp])
    assert code == 2
    assert f"influencers.csv: column '{column}': the column appears more than once" in flat(output)


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_with_another_delimiter_is_refused_with_a_hint(base: Base, sep: str, word: str):
    c = Corruption("brands", "delimiter", "csv", value=sep)
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(base, c, Path(tmp))
        code, output = run(["validate", "--data", tmp])
    assert code == 2
    text = flat(output)
    assert "brands.csv: column 'brand_id': required column is missing" in text
    assert f"separate columns with {word}: CSV files must use commas" in text


@pytest.mark.parametrize("kind", ["latin1", "utf16"])
def test_a_file_in_another_encoding_is_refused_naming_the_file(base: Base, kind: str):
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(base, Corruption("posts", kind, "csv"), Path(tmp))
        code, output = run(["validate", "--data", tmp])
    assert code == 2
    assert "posts.csv: not UTF-8 text" in flat(output) and "save it as UTF-8" in flat(output)


def test_a_utf8_file_with_a_byte_order_mark_is_accepted(base: Base):
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(base, Corruption("posts", "bom", "csv"), Path(tmp))
        code, output = run(["validate", "--data", tmp])
    assert code == 0, output


def test_a_price_too_large_to_compute_with_is_refused_naming_the_column(base: Base):
    """Regression: 1.8e308 is finite and passed validation, then overflowed training."""
    c = Corruption("influencers", "bad_value", "csv", "price_per_post", 1.7976931348623157e308,
                   (7,))
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(base, c, Path(tmp))
        code, output = run(["validate", "--data", tmp])
    assert code == 2
    assert ("influencers.csv: column 'price_per_post': 1 row breaks the rule 'a number below "
            "9e+15'") in flat(output)


def test_an_output_path_that_cannot_be_written_gets_a_message_not_a_trace(base: Base):
    """Regression: `generate --out FILE` and an output under a file ended in a trace."""
    with tempfile.TemporaryDirectory() as tmp:
        data, blocker = Path(tmp) / "data", Path(tmp) / "a-file"
        write_folder(base, Corruption("", "none", "csv"), data, (*TABLES, "pairs"))
        blocker.write_text("not a folder")
        code, output = run(["generate", "--out", str(blocker), "--influencers", "10",
                            "--brands", "2"])
        assert code == 2 and f"{blocker}: exists and is not a folder" in flat(output)
        code, output = run(["features", "--data", str(data), "--pairs",
                            str(data / "pairs.csv"), "--out", str(blocker / "f.parquet")])
        assert code == 2 and str(blocker) in flat(output)
        assert blocker.read_text() == "not a folder"
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["a-file", "data"]
