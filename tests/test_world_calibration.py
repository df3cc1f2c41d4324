"""The synthetic world against shared/spec/calibration.md, each figure within a stated tolerance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from recommender.contract import NICHES
from recommender.world.params import MEASURED_NICHE_MIX, fit_matrix

BANDS = [1e3, 1e4, 5e4, 1e5, 1e6, np.inf]
BAND_SHARE = [0.374, 0.364, 0.101, 0.139, 0.022]  # among accounts >= 1k
BAND_MEDIAN_ER = [0.039, 0.029, 0.024, 0.024, 0.023]
NICHE_MEDIAN_ER = {"pets": 0.038, "travel": 0.036, "family": 0.035, "fashion": 0.035,
                   "fitness": 0.029, "beauty": 0.029, "food": 0.025, "home": 0.025,
                   "other": 0.020}


@pytest.fixture(scope="module")
def posts(small_world) -> pd.DataFrame:
    """Posts with the influencer's platform and niche and their engagement rate."""
    p = small_world["posts"].merge(
        small_world["influencers"][["influencer_id", "platform", "niche"]], on="influencer_id")
    return p.assign(rate=(p["likes"] + p["comments"]) / p["followers_at_post"])


@pytest.fixture(scope="module")
def organic_instagram(posts) -> pd.DataFrame:
    return posts[(posts["platform"] == "instagram") & ~posts["sponsored"]]


@pytest.fixture(scope="module")
def collabs(small_world) -> pd.DataFrame:
    c = small_world["collaborations"].merge(small_world["truth"], on="collaboration_id")
    c = c.merge(small_world["influencers"], on="influencer_id")
    c = c.merge(small_world["brands"][["brand_id", "category"]], on="brand_id")
    return c.assign(converted=c["conversions"] > 0).sort_values("started_at")


# ---------------------------------------------------------------- influencers


@pytest.mark.parametrize("band", range(5))
def test_follower_band_shares_within_5_points(small_world, band: int) -> None:
    f = small_world["influencers"]["followers"]
    f = f[f >= 1000]
    share = ((f >= BANDS[band]) & (f < BANDS[band + 1])).mean()
    assert share == pytest.approx(BAND_SHARE[band], abs=0.05)


def test_a_few_accounts_lie_below_1k(small_world) -> None:
    assert 0.005 < (small_world["influencers"]["followers"] < 1000).mean() < 0.06


@pytest.mark.parametrize("niche", sorted(MEASURED_NICHE_MIX))
def test_niche_mix_within_4_points_among_measured_niches(small_world, niche: str) -> None:
    niches = small_world["influencers"]["niche"]
    measured = niches[niches.isin(list(MEASURED_NICHE_MIX))]
    assert (measured == niche).mean() == pytest.approx(MEASURED_NICHE_MIX[niche], abs=0.04)


@pytest.mark.parametrize("niche", ["gaming", "tech", "finance"])
def test_unmeasured_niches_have_small_shares(small_world, niche: str) -> None:
    assert 0.003 < (small_world["influencers"]["niche"] == niche).mean() < 0.06


def test_every_platform_is_present(small_world) -> None:
    shares = small_world["influencers"]["platform"].value_counts(normalize=True)
    assert set(shares.index) == {"instagram", "tiktok", "youtube"}
    assert shares.min() > 0.05


def test_real_follower_share_has_two_humps(small_world) -> None:
    share = small_world["influencers"]["real_follower_share"]
    density, _ = np.histogram(share, bins=20, range=(0, 1))
    fake_peak = density[8:13].max()  # 0.40-0.65
    trough = density[13:16].min()  # 0.65-0.80
    real_peak = density[17:].max()  # 0.85-1.00
    assert trough < 0.7 * fake_peak and trough < 0.1 * real_peak
    assert 0.08 < (share < 0.7).mean() < 0.3


@pytest.mark.parametrize("platform,lo_f,hi_f,lo_usd,hi_usd", [
    ("instagram", 1e3, 1e4, 10, 100), ("instagram", 1e4, 1e5, 100, 500),
    ("instagram", 1e5, 5e5, 500, 5000), ("instagram", 1e6, np.inf, 10000, np.inf),
    ("tiktok", 1e4, 1e5, 25, 125), ("youtube", 1e4, 1e5, 200, 1000),
])
def test_median_price_per_post_is_in_the_published_range(small_world, platform, lo_f, hi_f,
                                                         lo_usd, hi_usd) -> None:
    inf = small_world["influencers"]
    tier = inf[(inf["platform"] == platform) & inf["followers"].between(lo_f, hi_f,
                                                                        inclusive="left")]
    assert len(tier) >= 5
    assert lo_usd <= tier["price_per_post"].median() <= hi_usd


# ---------------------------------------------------------------- engagement


@pytest.mark.parametrize("band", range(5))
def test_instagram_engagement_median_by_band_within_30_percent(organic_instagram, band):
    p = organic_instagram
    in_band = p["followers_at_post"].between(BANDS[band], BANDS[band + 1], inclusive="left")
    assert p.loc[in_band, "rate"].median() == pytest.approx(BAND_MEDIAN_ER[band], rel=0.3)


def test_nano_engagement_middle_half_is_about_2_to_7_percent(organic_instagram) -> None:
    p = organic_instagram
    nano = p.loc[p["followers_at_post"].between(1e3, 1e4, inclusive="left"), "rate"]
    assert nano.quantile(0.25) == pytest.approx(0.020, rel=0.3)
    assert nano.quantile(0.75) == pytest.approx(0.072, rel=0.3)


def test_likes_grow_sub_linearly_with_followers(organic_instagram) -> None:
    p = organic_instagram[organic_instagram["likes"] > 0]
    slope, intercept = np.polyfit(np.log10(p["followers_at_post"]), np.log10(p["likes"]), 1)
    assert slope == pytest.approx(0.88, abs=0.07)
    assert intercept == pytest.approx(-1.07, abs=0.3)


def test_engagement_median_by_niche_within_30_percent_and_in_the_same_order(
        organic_instagram) -> None:
    p = organic_instagram
    medians = p.groupby("niche")["rate"].median()
    accounts = p.groupby("niche")["influencer_id"].nunique()
    for niche, target in NICHE_MEDIAN_ER.items():
        if accounts.get(niche, 0) >= 30:
            assert medians[niche] == pytest.approx(target, rel=0.3), niche
    target = pd.Series(NICHE_MEDIAN_ER)
    assert medians[target.index].corr(target, method="spearman") > 0.6


def test_sponsored_posts_engage_less_than_organic(posts) -> None:
    ig = posts[posts["platform"] == "instagram"]
    sponsored = ig.loc[ig["sponsored"], "rate"].median()
    organic = ig.loc[~ig["sponsored"], "rate"].median()
    assert sponsored == pytest.approx(0.020, rel=0.3)
    assert organic == pytest.approx(0.031, rel=0.2)
    assert sponsored < 0.8 * organic


def test_tiktok_engagement_per_view_is_higher_for_smaller_accounts(posts) -> None:
    tt = posts[(posts["platform"] == "tiktok") & ~posts["sponsored"]]
    per_view = (tt["likes"] + tt["comments"]) / tt["views"]
    nano = per_view[tt["followers_at_post"].between(1e3, 1e4)].median()
    micro = per_view[tt["followers_at_post"].between(1e4, 1e5)].median()
    assert 0.05 <= nano <= 0.11
    assert 0.035 <= micro <= 0.075
    assert nano > micro


def test_youtube_engagement_per_view_falls_with_size(posts) -> None:
    yt = posts[(posts["platform"] == "youtube") & ~posts["sponsored"]]
    per_view = (yt["likes"] + yt["comments"]) / yt["views"]
    small = per_view[yt["followers_at_post"].between(1e3, 5e3)].median()
    large = per_view[yt["followers_at_post"] >= 1e5].median()
    assert 0.01 <= small <= 0.025
    assert large < small / 2


def test_recent_engagement_explains_conversion_better_than_lifetime(posts, collabs) -> None:
    org = posts[~posts["sponsored"]].copy()
    org["log_rate"] = np.log((org["likes"] + org["comments"] + 1) / org["followers_at_post"])
    org["log_f"] = np.log10(org["followers_at_post"])
    for _, idx in org.groupby("platform").groups.items():  # remove the size/platform curve
        g = org.loc[idx]
        org.loc[idx, "log_rate"] -= np.polyval(np.polyfit(g["log_f"], g["log_rate"], 2),
                                               g["log_f"])
    m = collabs[["collaboration_id", "influencer_id", "started_at", "p_true"]].merge(
        org[["influencer_id", "posted_at", "log_rate"]], on="influencer_id")
    m = m[m["posted_at"] < m["started_at"]]
    p_true = collabs.set_index("collaboration_id")["p_true"]
    recent = m[m["started_at"] - m["posted_at"] <= pd.Timedelta(days=60)]
    x = pd.DataFrame({
        "recent": recent.groupby("collaboration_id")["log_rate"].mean(),
        "lifetime": m.groupby("collaboration_id")["log_rate"].mean(),
        "logit": np.log(p_true / (1 - p_true)),
    }).dropna()
    design = np.column_stack([np.ones(len(x)), x["recent"], x["lifetime"]])
    _, b_recent, b_lifetime = np.linalg.lstsq(design, x["logit"], rcond=None)[0]
    assert b_recent > 0.15
    assert b_recent > 2 * b_lifetime


# ---------------------------------------------------------------- collaborations


def test_converted_share_is_learnable(collabs) -> None:
    assert 0.25 <= collabs["converted"].mean() <= 0.40


def test_conversions_are_heavy_tailed_with_most_at_two_or_fewer(collabs) -> None:
    conv = collabs["conversions"]
    assert (conv <= 2).mean() >= 0.85
    assert conv[conv > 0].median() <= 2
    assert conv.max() >= 8


def test_click_to_purchase_conversion_is_1_to_2_5_percent(collabs) -> None:
    assert 0.01 <= collabs["conversions"].sum() / collabs["clicks"].sum() <= 0.025
    assert (collabs["clicks"] >= collabs["conversions"]).all()
    nano = collabs[collabs["followers"] < 1e4]
    macro = collabs[collabs["followers"] >= 1e5]
    assert (nano["conversions"].sum() / nano["clicks"].sum()
            > macro["conversions"].sum() / macro["clicks"].sum())


def test_niche_category_fit_raises_conversion_including_related_niches(collabs) -> None:
    fit = pd.DataFrame(fit_matrix(), index=list(NICHES), columns=list(NICHES))
    c = collabs.join(fit.stack().rename("fit"), on=["niche", "category"])
    assert c["fit"].notna().all()
    same = c[c["fit"] == 1.0]["p_true"].mean()
    related = c[(c["fit"] > 0.25) & (c["fit"] < 1.0)]["p_true"].mean()
    unrelated = c[c["fit"] <= 0.05]["p_true"].mean()
    assert same > related > unrelated
    assert (c["fit"] == 1.0).mean() > 0.3 and (c["fit"] <= 0.05).mean() > 0.05


def test_audience_match_raises_conversion(small_world, collabs) -> None:
    def wide(table: pd.DataFrame, key: str) -> pd.DataFrame:
        seg = table["dimension"] + ":" + table["segment"]
        return table.assign(seg=seg).pivot_table(index=key, columns="seg", values="share",
                                                 fill_value=0.0)

    aud = wide(small_world["audience"], "influencer_id")
    target = wide(small_world["brand_audience"], "brand_id").reindex(columns=aud.columns,
                                                                     fill_value=0.0)
    overlap = np.minimum(aud.loc[collabs["influencer_id"]].to_numpy(),
                         target.loc[collabs["brand_id"]].to_numpy()).sum(axis=1)
    assert np.corrcoef(overlap, collabs["p_true"])[0, 1] > 0.1


def test_audience_quality_raises_conversion(collabs) -> None:
    fake = collabs["real_follower_share"] < 0.7
    assert collabs.loc[fake, "p_true"].mean() < collabs.loc[~fake, "p_true"].mean() - 0.05


def test_past_outcomes_of_an_influencer_predict_the_next(collabs) -> None:
    g = collabs.groupby("influencer_id")["converted"]
    before = g.cumcount()
    wins_before = g.cumsum() - collabs["converted"]
    seen = before > 0
    score = (wins_before[seen] + 0.35) / (before[seen] + 1)
    assert roc_auc_score(collabs.loc[seen, "converted"], score) > 0.57


def test_micro_influencers_convert_better_than_mega(collabs) -> None:
    micro = collabs[collabs["followers"].between(3e3, 1e5)]["p_true"].mean()
    big = collabs[collabs["followers"] >= 5e5]["p_true"].mean()
    assert micro > big
