"""IRGAN: the draw of database and labelled queries, that both phases learn on a tiny database, exact resume,
and the errors for bad settings and codes runs."""

from __future__ import annotations

import pytest
import torch

import genzoo
from genzoo.checkpoint import load as load_ckpt
from genzoo.data.imageset import Batch
from genzoo.errors import ConfigError
from genzoo.metrics.retrieval import nearest_neighbours
from genzoo.models.irgan import draw_known
from genzoo.training import TrainConfig, Trainer
from tests.learning import SEED, record

TINY = dict(codes="pca:32", db_size=300, queries=200, known=3, hidden=64, emb=32, pretrain_steps=0,
            eval_queries=300)


def tiny(data, seed=SEED, **over):
    model = genzoo.build("irgan", data.spec, seed=seed, **{**TINY, **over})
    model.attach_data(data)
    model.configure_optimizers(100)
    return model


def steps(model, n, start=0, batch=32):
    b = Batch(torch.zeros(batch, *model.spec.shape))
    return [model.train_step(b, s) for s in range(start, start + n)]


@torch.no_grad()
def relevant_mass(model, data) -> float:
    """Probability the generator puts on database items of each held-out query's class, averaged."""
    db_codes, _, mean, std = model.codes()
    qc = (model.featurize(data.images) - mean) / std
    p = torch.softmax(model.gen.scores(qc, db_codes) / model.cfg.temperature, 1)
    return float((p * (data.labels[:, None] == model.db_labels[None])).sum(1).mean())


def test_draw_known_picks_distinct_items_of_the_query_class():
    db = torch.tensor([0, 1, 0, 1, 0, 2, 2, 1])
    q = torch.tensor([1, 0, 2, 1])
    known = draw_known(db, q, 2, torch.Generator().manual_seed(0))
    assert known.shape == (4, 2)
    assert (db[known] == q[:, None]).all() and (known[:, 0] != known[:, 1]).all()
    with pytest.raises(ConfigError, match="class 2 has 2 database items, fewer than known=3"):
        draw_known(db, q, 3, torch.Generator().manual_seed(0))


def test_attach_draws_disjoint_database_and_queries_with_their_classes(mini):
    data = mini.take(1000)
    a, b = tiny(data), tiny(data)
    assert torch.equal(a.db_images, b.db_images) and torch.equal(a.known, b.known)  # seeded by data_seed
    assert (a.db_labels[a.known] == a.query_labels[:, None]).all()
    flat = lambda x: {bytes(row.flatten().tolist()) for row in x}  # noqa: E731
    assert not flat(a.db_images) & flat(a.query_images)
    c = tiny(data, data_seed=1)
    assert not torch.equal(a.known, c.known)


def test_too_small_training_set_and_bad_codes_are_clear(mini):
    with pytest.raises(ConfigError, match="db_size=300 database items and queries=200 .* has 400 images"):
        tiny(mini.take(400))
    for codes, msg in (("pca:x", "write pca:K"), ("pca:900", "at most min"), ("/no/such/run", "does not exist")):
        with pytest.raises(ConfigError, match=msg):
            genzoo.build("irgan", mini.spec, **{**TINY, "codes": codes})


@pytest.mark.learning
def test_pretraining_ranks_held_out_queries_above_chance(mini, mini_test):
    model = tiny(mini.take(1000), pretrain_steps=150)
    before = model.evaluate(mini_test.take(300))
    steps(model, 150)
    after = model.evaluate(mini_test.take(300))
    record(before=before["pre_p10"], after=after["pre_p10"])
    assert after["pre_p10"] > before["pre_p10"] + 0.15  # before measured 0.088..0.120
    assert after["chance_precision"] < 0.12 < 0.3 < after["pre_p10"]  # after measured 0.42..0.54


@pytest.mark.learning
def test_the_game_moves_the_generator_towards_relevant_items(mini, mini_test):
    """From a random start (no pretraining) the generator follows the discriminator's reward: its probability
    mass on same-class items of held-out queries rises from chance."""
    model = tiny(mini.take(1000), lr_g=1e-3, lr_d=1e-3)
    held_out = mini_test.take(300)
    before = relevant_mass(model, held_out)
    logs = steps(model, 500)
    after = relevant_mass(model, held_out)
    picks = sum(float(r["g_pick_precision"]) for r in logs[-20:]) / 20
    record(before=before, after=after, picks=picks)
    assert after > before + 0.2  # before 0.101 (chance), after measured 0.41..0.50
    assert picks > 0.4  # precision of its picks for the labelled queries: measured 0.57..0.68


def fit(data, out, until=None, resume=False):
    model = genzoo.build("irgan", data.spec, seed=0, **{**TINY, "pretrain_steps": 5})
    cfg = TrainConfig(steps=12, batch_size=16, progress=False, log_every=4, eval_every=6)
    Trainer(model, data, cfg, run_dir=out, eval_data=data.take(100)).fit(resume=resume, until=until)


def test_exact_resume_across_the_start_of_the_game(mini, tmp_path):
    data = mini.take(600)
    fit(data, tmp_path / "straight")
    fit(data, tmp_path / "split", until=4)  # paused in pretraining: the game starts after the resume
    fit(data, tmp_path / "split", resume=True)
    a = load_ckpt(tmp_path / "straight/checkpoints/last.pt")["training_state"]
    b = load_ckpt(tmp_path / "split/checkpoints/last.pt")["training_state"]
    assert bool(a["model"]["game_started"])
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for name in ("pre", "gen", "dis"):
        for i, st in a["optimizers"][name]["state"].items():
            assert torch.equal(st["exp_avg"], b["optimizers"][name]["state"][i]["exp_avg"])


def test_cli_train_on_binary_codes_then_query_and_eval(tmp_path, capsys):
    """A binary-ae run's codes feed irgan (code distance is then Hamming); `sample --query` on a folder shows a row
    per ranker and query; `eval` ranks the test queries."""
    from PIL import Image

    from genzoo.cli import main
    from genzoo.data import load

    ae, run = tmp_path / "ae", tmp_path / "irgan"
    assert main(["train", "binary-ae", "--steps", "3", "--set", "code_dim=16", "data.limit=512", "--out", str(ae),
                 "--quiet"]) == 0
    assert main(["train", "irgan", "--steps", "6", "--batch-size", "8", "--set", f"codes={ae}", "db_size=100",
                 "queries=40", "known=2", "hidden=16", "emb=8", "pretrain_steps=3", "eval_queries=50",
                 "data.limit=512", "--out", str(run), "--quiet"]) == 0
    model = genzoo.load_run(str(run))
    assert model.featurizer is not None and set(model.featurize(model.db_images[:5]).unique().tolist()) <= {0, 1}
    queries = tmp_path / "queries"
    queries.mkdir()
    test = load("mnist-mini", split="test")
    for i in range(2):
        Image.fromarray(test.images[i, 0].numpy()).save(queries / f"q{i}.png")
    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "--query", str(queries), "--top", "4", "--scale", "1", "--out", str(out)]) == 0
    grid = Image.open(out)
    # 2 queries x 5 rankers rows of 1 + 4 cells of 28 px (+ 2 px padding), plus the row and column labels
    assert grid.width > 5 * 30 and grid.height > 10 * 30
    ranked = model.rank(test.images[:2], 4)
    assert set(ranked) == {"gen", "dis", "pre", "code", "pixel"} and all(t.shape == (2, 4) for t in ranked.values())
    # 0/1 codes are ranked by Hamming distance on the codes themselves (not on codes rebuilt from standardised ones)
    query_codes = model.featurize(test.images[:2])
    assert model.code_metric(query_codes) == "hamming"
    assert torch.equal(ranked["code"], nearest_neighbours(query_codes, model.featurize(model.db_images), 4, "hamming"))
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    assert "gen_ndcg10" in capsys.readouterr().out
