"""Agreement beyond kappa (ddd.analysis.agreement): CAPA in its discrete form and decision-margin
consistency, by hand on tiny examples, against brute force for all pairs, and their edge cases."""
import numpy as np
import pytest

import ddd.analysis.agreement as agreement
from ddd.analysis.agreement import (agreement_matrices, agreement_table, capa, decision_margins, margin_consistency,
                                    margin_moments, margin_table, same_wrong_counts, same_wrong_share)
from ddd.analysis.kappa import error_consistency

# Four images of four classes. a is right on 0-2 and answers 0 on image 3; b1 and b2 are right on
# 0-1 and wrong on 2-3: b1 wrong on image 3 the way a is (0), b2 differently (1). Their correctness
# is the same, so kappa cannot tell them apart:
#   p_a = 3/4, p_b = 2/4, c_exp = p_a p_b + (1 - p_a)(1 - p_b) / (C - 1) = 3/8 + 1/24 = 5/12
#   b1: c_obs = 3/4 (images 0, 1, 3), CAPA = (9/12 - 5/12) / (7/12) = 4/7
#   b2: c_obs = 2/4 (images 0, 1),    CAPA = (6/12 - 5/12) / (7/12) = 1/7
#   kappa (both): c_obs = 3/4, c_exp = 3/8 + 1/8 = 1/2, kappa = 1/2
T = np.array([0, 1, 2, 3])
A = np.array([0, 1, 2, 0])
B1 = np.array([0, 1, 3, 0])
B2 = np.array([0, 1, 3, 1])


def test_capa_by_hand_tells_the_same_wrong_answer_from_a_different_one():
    assert capa(A, B1, T, n_classes=4) == pytest.approx(4 / 7, abs=1e-15)
    assert capa(A, B2, T, n_classes=4) == pytest.approx(1 / 7, abs=1e-15)
    assert error_consistency(A == T, B1 == T) == error_consistency(A == T, B2 == T) == pytest.approx(0.5)
    assert same_wrong_share(A, B1, T) == 1.0 and same_wrong_share(A, B2, T) == 0.0
    row = agreement_table(4, 3, 2, 2, 1, n_classes=4)
    assert row["agree_obs"] == 0.75 and row["capa_c_exp"] == pytest.approx(5 / 12, abs=1e-15)
    # all pairs at once: the same numbers
    m = agreement_matrices(np.stack([A, B1, B2]), T, n_classes=4)
    assert m["capa"][0, 1] == pytest.approx(4 / 7, abs=1e-15) and m["capa"][0, 2] == pytest.approx(1 / 7, abs=1e-15)
    assert m["same_wrong"][0, 1] == 1.0 and m["same_wrong"][0, 2] == 0.0
    assert m["capa"][1, 2] == pytest.approx(capa(B1, B2, T, n_classes=4), abs=1e-15)
    assert np.isnan(m["margin_consistency"]).all() and (m["margin_n"] == 0).all()  # no margins given


def test_capa_with_two_classes_is_kappa():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, 500)
    a = np.where(rng.random(500) < 0.7, t, 1 - t)
    b = np.where(rng.random(500) < 0.6, t, 1 - t)
    assert capa(a, b, t, n_classes=2) == pytest.approx(error_consistency(a == t, b == t), abs=1e-12)


def test_capa_edge_cases():
    t = np.array([0, 1, 2, 0])
    assert np.isnan(capa(t, t, t, n_classes=3))                      # both 100 % right: c_exp = 1
    assert capa(t, np.array([0, 1, 0, 0]), t, n_classes=3) == 0.0    # one 100 % right: exactly 0
    wrong = (t + 1) % 3
    assert capa(wrong, wrong, t, n_classes=3) == 1.0                 # always wrong, always alike: c_exp = 1/2
    assert capa(wrong, (t + 2) % 3, t, n_classes=3) == -1.0          # always wrong, never alike
    assert np.isnan(capa(1 - t[:2], 1 - t[:2], t[:2], n_classes=2))   # C = 2, both always wrong: c_exp = 1
    assert np.isnan(capa(A, B1, T, n_classes=None)) and np.isnan(capa(A, B1, T, n_classes=1))
    assert np.isnan(agreement_table(0, 0, 0, 0, 0, n_classes=3)["capa"])
    na = np.array([-1, -1, 2, 0])  # two no-answers agree with nothing
    assert agreement_table(4, 2, 2, 2, 0, n_classes=3)["capa"] == capa(na, na, t, n_classes=3)
    assert same_wrong_share(na, na, t) == 0.0 and np.isnan(same_wrong_share(t, t, t))
    with pytest.raises(ValueError, match="impossible counts"):
        agreement_table(4, 2, 2, 2, 3, n_classes=3)
    with pytest.raises(ValueError, match="same length"):
        capa(A, B1[:3], T, n_classes=4)


def test_margin_consistency_is_the_pearson_correlation_by_hand():
    # x = 1, 2, 3, 4; y = 2, 4, 5, 9: deviations (-1.5, -.5, .5, 1.5) and (-3, -1, 0, 4):
    # sum of products 11, sums of squares 5 and 26, r = 11 / sqrt(130)
    x, y = np.array([1, 2, 3, 4, 7.0]), np.array([2, 4, 5, 9, np.nan])  # the last image has no margin for y
    r = 11 / np.sqrt(130)
    assert margin_consistency(x, y) == pytest.approx(r, abs=1e-15)
    assert margin_consistency(x, -y) == pytest.approx(-r, abs=1e-15)
    assert np.isnan(margin_consistency(x, np.full(5, 3.0)))         # constant: undefined
    assert np.isnan(margin_consistency(x[:1], y[:1]))                # one image
    assert np.isnan(margin_consistency(x, np.full(5, np.nan)))       # no margins
    margins = np.stack([x, y, 2 * y + 1, np.full(5, np.nan)]).astype(np.float16)
    mom = margin_moments(margins)[0]
    i, j = np.triu_indices(4, 1)
    table = margin_table(mom, i, j)
    assert table["margin_n"].tolist() == [4, 4, 0, 4, 0, 0]
    assert table["margin_consistency"][:2] == pytest.approx([r, r], abs=1e-6)
    assert table["margin_consistency"][3] == pytest.approx(1.0, abs=1e-6)
    assert np.isnan(table["margin_consistency"][[2, 4, 5]]).all()


def test_decision_margins_from_logits():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.5]])
    assert decision_margins(logits, np.array([0, 2, 1])).tolist() == [1.0, -2.0, 0.0]


def _brute_same_wrong(pred, correct, mask):
    m = len(pred)
    return np.array([[np.sum((pred[i] == pred[j]) & ~correct[i] & ~correct[j] & (pred[i] >= 0) & mask)
                      for j in range(m)] for i in range(m)])


@pytest.mark.parametrize("m, n, c, seed", [(4, 300, 5, 0), (40, 400, 6, 1), (24, 200, 2, 2), (3, 50, 1000, 3)])
def test_same_wrong_counts_match_brute_force(m, n, c, seed):
    """Enumerated pairs (keys few decision makers chose) and one-hot products (keys many chose) alike."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, c, n)
    pred = np.where(rng.random((m, n)) < 0.4, t, rng.integers(0, c, (m, n)))
    pred[rng.random((m, n)) < 0.05] = -1
    correct = pred == t
    masks = [None, rng.random(n) < 0.3, np.zeros(n, bool)]
    for mask, got in zip(masks, same_wrong_counts(pred, correct, masks, n_keys=c)):
        want = _brute_same_wrong(pred, correct, np.ones(n, bool) if mask is None else mask)
        np.testing.assert_array_equal(got, want)


def test_same_wrong_counts_in_small_blocks(monkeypatch):
    """Blocks of images, pending pairs flushed, keys found by sorting when a block cannot hold a slot
    per (image, class), one-hot products in many small batches."""
    rng = np.random.default_rng(5)
    m, n, c = 12, 120, 40
    t = rng.integers(0, c, n)
    pred = np.where(rng.random((m, n)) < 0.3, t, rng.integers(0, 4, (m, n)))
    correct = pred == t
    want = _brute_same_wrong(pred, correct, np.ones(n, bool))
    monkeypatch.setattr(agreement, "_BLOCK", 32)  # < c: every image counted by sorting
    np.testing.assert_array_equal(same_wrong_counts(pred, correct, n_keys=c)[0], want)
    monkeypatch.setattr(agreement, "_BLOCK", 200)
    np.testing.assert_array_equal(same_wrong_counts(pred, correct)[0], want)
    monkeypatch.setattr(agreement, "_PRODUCT", 12 * 40)  # one-hot products of few columns each
    mask = rng.random(n) < 0.5
    got = same_wrong_counts(pred, correct, [None, mask], n_keys=c)
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(got[1], _brute_same_wrong(pred, correct, mask))
    with pytest.raises(ValueError, match="not below n_keys=3"):
        same_wrong_counts(pred, correct, n_keys=3)


def test_margin_moments_pairwise_complete_and_additive():
    """Decision makers with margins on some images only: each pair over the images both have; the
    sums of disjoint parts add up to the whole."""
    rng = np.random.default_rng(6)
    m, n = 5, 400
    x = rng.normal(3, 2, n) + rng.normal(0, 1, (m, n)) * np.arange(1, m + 1)[:, None]
    x[1, :60] = np.nan
    x[3] = np.nan
    x = x.astype(np.float16)
    part = rng.random(n) < 0.5
    whole, first, second = margin_moments(x, [None, part, ~part])
    i, j = np.triu_indices(m, 1)
    got = margin_table(whole, i, j)
    want = [margin_consistency(x[a].astype(float), x[b].astype(float)) for a, b in zip(i, j)]
    np.testing.assert_allclose(got["margin_consistency"], want, atol=1e-6)
    summed = margin_table(first + second, i, j)
    np.testing.assert_allclose(summed["margin_consistency"], got["margin_consistency"], atol=1e-6)
    np.testing.assert_array_equal(summed["margin_n"], got["margin_n"])
    assert got["margin_n"][0] == n - 60 and np.isnan(got["margin_consistency"][i == 3]).all()


def test_pretrained_inference_stores_the_margins_of_its_logits(fake_imagenet, tmp_path):
    """A pretrained model's one evaluation keeps its decision margins too (float16, (1, N)), those of
    a direct forward pass; torch only for this test."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from PIL import Image
    from torchvision import transforms

    from ddd.pretrained.infer import infer
    from ddd.results.decisions import read_decisions

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=3).eval()
    weights = tmp_path / "r18.pth"
    torch.save(net.state_dict(), weights)
    spec = {"name": "r18", "source": "torchvision", "model": "resnet18", "weights": str(weights),
            "preprocessing": {"resize": 40, "crop": 32}}
    out = tmp_path / "r18.h5"
    infer(spec, {"name": "imagenet", "kind": "imagenet", "root": str(fake_imagenet)}, out=out, device="cpu",
          batch_size=4, progress=False)
    d = read_decisions(out)
    tf = transforms.Compose([transforms.Resize(40), transforms.CenterCrop(32), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    val = fake_imagenet / "val"
    paths = [val / i for i in d.image_ids]
    with torch.no_grad():
        logits = net(torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])).numpy()
    assert d.margins.shape == (1, len(paths)) and d.margins.dtype == np.float16
    np.testing.assert_allclose(d.margins[0].astype(float), decision_margins(logits, d.targets), atol=2e-3, rtol=2e-3)
    assert ((d.margins[0] > 0) == (d.predictions[0] == d.targets)).all()
