"""Each image's story (ddd.analysis.images, ddd.analysis.irt, ddd.results.images): known answers."""
import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import synthetic_study as syn  # noqa: E402

from ddd.analysis.images import export_correctness, image_table, learning_dynamics, most_frequent, study_images
from ddd.analysis.irt import rasch_difficulty
from ddd.report import catalog
from ddd.report.catalog import FigureNotApplicable
from ddd.results.images import IMAGE_COLUMNS, read_images
from ddd.results.study import read_split


def test_learning_dynamics_by_hand():
    # evaluations x images: image 0 learned at 1 and kept; 1 right, forgotten, relearned at 3;
    # 2 never right; 3 right then forgotten for good.
    c = np.array([[0, 1, 0, 1],
                  [1, 0, 0, 1],
                  [1, 0, 0, 0],
                  [1, 1, 0, 0]], bool)
    d = learning_dynamics(c)
    assert d["first_learned"].tolist() == [1, 3, -1, -1]
    assert d["forgetting"].tolist() == [0, 1, 0, 1]
    assert d["ever_right"].tolist() == [True, True, False, True]
    np.testing.assert_allclose(d["mean"], [0.75, 0.5, 0, 0.5])


def test_most_frequent_with_ties_and_masks():
    p = np.array([[3, 1, 2], [3, 2, 2], [1, 2, 0], [1, 1, 5]])
    value, share = most_frequent(p)
    assert value.tolist() == [1, 1, 2] and share.tolist() == [0.5, 0.5, 0.5]  # ties: the smallest
    wrong = p != np.array([3, 2, 2])[None, :]
    value, share = most_frequent(p, mask=wrong)
    assert value.tolist() == [1, 1, 0] and share.tolist() == [1.0, 1.0, 0.5]
    value, share = most_frequent(p, mask=np.zeros_like(p, bool))
    assert (value == -1).all() and np.isnan(share).all()


def test_rasch_difficulty_orders_images_and_leaves_extremes_empty():
    rng = np.random.default_rng(0)
    c = rng.random((12, 400)) < np.linspace(0.05, 0.95, 400)[None, :]
    c[:, 0], c[:, 1] = True, False
    diff, status, fit = rasch_difficulty(c)
    assert status[0] == "all_right" and status[1] == "none_right" and np.isnan(diff[:2]).all()
    ok = status == "fitted"
    k = c.sum(axis=0)[ok]
    order = np.argsort(k, kind="stable")
    assert (np.diff(diff[ok][order]) <= 1e-9).all()  # more decision makers right: easier
    assert fit["n_fitted"] == ok.sum() and fit["library"].startswith("girth")
    with pytest.raises(ValueError, match="at least 2"):
        rasch_difficulty(c[:1])


def test_image_table_of_the_synthetic_study(tmp_path):
    study = syn.make_study(tmp_path)
    table, info = image_table(study["entries"], read_split(study["split"]))
    assert list(table.columns) == list(IMAGE_COLUMNS)
    assert len(table) == syn.N
    trivial, impossible = table.iloc[syn.TRIVIAL], table.iloc[syn.IMPOSSIBLE]
    # every run is wrong at epoch 0 and at its final answers from epoch 1: trivial images are
    # learned at epoch 1 by every network and never forgotten
    assert (trivial.first_learned_median == 1).all() and (trivial.n_networks_never_learned == 0).all()
    assert (trivial.forgetting_events == 0).all() and trivial.never_forgotten.all()
    assert trivial.mean_correct.eq(1).all() and trivial.irt_status.eq("all_right").all()
    assert impossible.first_learned_median.isna().all() and impossible.irt_status.eq("none_right").all()
    assert (impossible.n_networks_never_learned == info["n_networks"]).all()
    assert (~impossible.never_forgotten.astype(bool)).all()
    # wrong answers are always the next class: the networks that err agree on it
    assert (impossible.top_wrong_prediction == (impossible.target + 1) % syn.C).all()
    assert impossible.top_wrong_share.eq(1).all() and trivial.top_wrong_prediction.isna().all()
    assert info["n_networks"] == len(syn.RUNS) and info["n_evaluations"] == syn.E + 10
    assert table.n_correct.tolist() == read_split(study["split"]).n_correct.tolist()


def test_study_images_round_trip_and_stale_split(tmp_path):
    study = syn.make_study(tmp_path)
    out = tmp_path / "images.tsv"
    study_images(study["entries"], study["split"], images_path=out)
    back = read_images(out)
    assert back.image_id.tolist() == [str(i) for i in range(syn.N)]
    assert back.top_wrong_prediction.isna().sum() == len(syn.TRIVIAL) + int(
        (back.iloc[syn.RANDOM].n_correct == back.iloc[syn.RANDOM].n_decision_makers).sum())
    split = read_split(study["split"])
    split.loc[0, "n_correct"] = 0
    with pytest.raises(ValueError, match="stale"):
        image_table(study["entries"], split)
    with pytest.raises(ValueError, match="does not hold"):
        image_table(study["entries"], split.iloc[1:])


def test_one_evaluation_studies_leave_dynamics_empty(tmp_path):
    entries = []
    for k in range(4):
        path = tmp_path / f"m{k}.h5"
        syn.write_run(path, syn.final_correct(k)[None, :], epochs=[0])
        entries.append({"name": f"m{k}", "condition": f"m{k}", "path": str(path), "epoch": 0})
    study = syn.write_study(tmp_path, entries, "models")
    table, info = image_table(entries, read_split(study["split"]))
    assert table.first_learned_median.isna().all() and table.forgetting_events.isna().all()
    assert (table.n_evaluations == 1).all() and "no learning dynamics" in info["notes"][0]
    out = tmp_path / "images.tsv"
    study_images(entries, study["split"], images_path=out)
    with pytest.raises(FigureNotApplicable, match="no learning dynamics"):
        catalog.function_of("images_data_map")(out, study["summary"], png=tmp_path / "a.png", pdf=tmp_path / "a.pdf")
    catalog.function_of("images_difficulty")(out, study["summary"], png=tmp_path / "d.png", pdf=tmp_path / "d.pdf")
    assert (tmp_path / "d.png").stat().st_size > 0


def test_exports(tmp_path):
    study = syn.make_study(tmp_path)
    rows = export_correctness(study["entries"], jsonl_path=tmp_path / "c.jsonl", long_path=tmp_path / "l.tsv.gz")
    lines = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [x["subject_id"] for x in lines] == [e["name"] for e in study["entries"]]
    assert all(x["responses"][str(i)] == 1 for x in lines for i in syn.TRIVIAL)
    with gzip.open(tmp_path / "l.tsv.gz", "rt") as fh:
        long = pd.read_csv(fh, sep="\t", dtype={"image_id": str})
    assert list(long.columns) == ["decision_maker", "image_id", "epoch", "correct"] and len(long) == rows
    epochs = {e["name"]: e["epoch"] + 1 for e in study["entries"]}  # epochs 0..epoch of each
    assert rows == syn.N * sum(epochs.values())
    final = long[(long.decision_maker == "base") & (long.epoch == syn.E)]
    base = lines[[x["subject_id"] for x in lines].index("base")]["responses"]
    assert final.correct.sum() == sum(base.values())


@pytest.mark.parametrize("name", ["images_data_map", "images_learning_order", "images_difficulty"])
def test_figures_render_and_fit_their_rules(name, tmp_path):
    study = syn.make_study(tmp_path)
    out = tmp_path / "images.tsv"
    study_images(study["entries"], study["split"], images_path=out)
    assert catalog.wiring_problems(name, ["images_tsv", "summary_json", "png", "pdf"]) == []
    catalog.render(name, inputs={"images_tsv": str(out), "summary_json": study["summary"]},
                   outputs={"png": str(tmp_path / f"{name}.png"), "pdf": str(tmp_path / f"{name}.pdf")})
    assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_one_decision_maker_gets_no_difficulty_and_says_so(tmp_path):
    path = tmp_path / "m.h5"
    syn.write_run(path, syn.final_correct(0)[None, :], epochs=[0])
    entries = [{"name": "m", "condition": "m", "path": str(path), "epoch": 0}]
    study = syn.write_study(tmp_path, entries, "one")
    table, info = image_table(entries, read_split(study["split"]))
    assert (table.irt_status == "not_fitted").all() and table.irt_difficulty.isna().all()
    assert any("at least 2" in note for note in info["notes"])
