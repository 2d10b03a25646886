"""IRGAN (Wang et al. 2017, "IRGAN: A Minimax Game for Unifying Generative and Discriminative Information
Retrieval Models") on image retrieval: the generator picks database images for a query image, the
discriminator tells truly relevant images from the generator's picks.

The task. Queries are images; the items are the images of a database drawn from the training set;
an item is relevant to a query when both show the same class. As in the paper's settings (item
recommendation, web search), relevance is observed only for a set of labelled training queries, each
with `known` relevant items; every other pair is unobserved. Held-out queries (the evaluation split)
are ranked against the whole database and judged by their class.

The players. Both score (query, item) pairs with the same two-tower network on fixed features
("codes": pixels, PCA coordinates, or the codes of a trained autoencoder, VAE or classifier run):
s(q, d) = <f(q), g(d)> / sqrt(emb) + b_d, where f and g are small MLPs and b_d
is a per-item bias (the item bias of the paper's matrix-factorisation recommender); codes are centred
and divided by their overall spread. The generator's
policy is p_theta(d | q) = softmax over the database of s_theta(q, d) / temperature; the
discriminator's relevance probability is D(d | q) = sigmoid(s_phi(q, d)).

Training, as in the paper:
1. Pretraining (`pretrain_steps`): a pointwise model, logistic regression of the known relevant
   pairs against items drawn uniformly (unobserved = irrelevant, as in implicit feedback). It is the
   baseline ranker (`pre_` figures) and the start of both players (the paper initialises its players
   from a pretrained model).
2. The game, one discriminator and one generator update per step: D by cross-entropy on the known
   relevant items (label 1) against as many items drawn from p_theta (label 0); G climbs
   E_{d ~ p_theta}[log(1 + exp(s_phi(q, d)))], the paper's reward (its eq. 5), by REINFORCE over
   `g_samples` picks per query with a leave-one-out baseline (`genzoo.losses.policy`).

Evaluation ranks the database for held-out queries by the generator (`gen_`), the discriminator
(`dis_`), the pretrained pointwise model (`pre_`), the distance between codes (`code_`: Hamming for
binary codes, else Euclidean) and between pixels (`pixel_`), and reports precision@1/5/10 and
NDCG@10 of each (binary relevance: same class) beside the chance precision.

Deviations from the paper: the scoring network is a two-tower MLP on image codes instead of matrix
factorisation on user/item ids (queries here are images never seen in training, so they need
features); the generator samples from its softmax directly rather than through the paper's importance
sampling mix; the baseline is the leave-one-out mean of the other picks (unbiased, see
`genzoo.losses.policy`). Defaults (Adam, lr, sizes, steps) are this implementation's, measured by
bench/irgan.py, not the paper's (whose datasets and networks differ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.data.imageset import DataSpec, to_float
from genzoo.errors import ConfigError, GenzooError
from genzoo.losses.policy import reinforce_loss
from genzoo.metrics.retrieval import chance_precision, ndcg_at_k, nearest_neighbours, precision_at_k, top_k_by_score
from genzoo.models.base import Model
from genzoo.models.pca import PCA
from genzoo.nn import eval_mode
from genzoo.registry import register
from genzoo.runs import load_model

RANKERS = ("gen", "dis", "pre", "code", "pixel")
RANKER_NAMES = {"gen": "IRGAN generator", "dis": "IRGAN discriminator", "pre": "pretrained pointwise",
                "code": "code distance", "pixel": "pixel distance"}
CUTOFFS = (1, 5, 10)


@dataclass
class IRGANConfig:
    codes: str = field("pca:64", "features of queries and items: pixels, pca:K, or a run folder whose model encodes "
                                 "images (ae, conv-ae, binary-ae, vae, aae, bigan) or a classifier run (its "
                                 "penultimate features)")
    db_size: int = field(5000, "database items, drawn (seeded) from the training set", ge=2)
    queries: int = field(1000, "labelled training queries, drawn from the rest of the training set", ge=1)
    known: int = field(5, "observed relevant items per labelled query", ge=1)
    data_seed: int = field(0, "seed of the draw of database, queries and known items", ge=0)
    hidden: int = field(256, "hidden units of each tower (0 = linear towers)", ge=0)
    emb: int = field(64, "embedding size of queries and items", ge=1)
    temperature: float = field(1.0, "temperature of the generator's softmax over the database", gt=0)
    g_samples: int = field(16, "items the generator picks per query and step (REINFORCE samples)", ge=1)
    pretrain_steps: int = field(2000, "steps of the pointwise model before the game starts", ge=0)
    lr_pre: float = field(1e-3, "Adam learning rate of the pointwise pretraining", gt=0)
    lr_g: float = field(1e-4, "Adam learning rate of the generator", gt=0)
    lr_d: float = field(1e-4, "Adam learning rate of the discriminator", gt=0)
    weight_decay: float = field(1e-5, "Adam weight decay of all three", ge=0)
    eval_queries: int = field(1000, "held-out queries ranked at each evaluation", ge=1)

    def validate(self) -> None:
        codes_kind(self.codes)


def codes_kind(codes: str) -> tuple[str, int]:
    """'pixels' -> ('pixels', 0); 'pca:K' -> ('pca', K); anything else is a run folder -> ('run', 0)."""
    if codes == "pixels":
        return "pixels", 0
    if codes.startswith("pca:"):
        k = codes[4:]
        if not k.isdigit() or int(k) < 1:
            raise ConfigError(f"codes={codes!r}: write pca:K with K a positive number of components, e.g. pca:64")
        return "pca", int(k)
    if not codes:
        raise ConfigError("codes is empty: give pixels, pca:K or a run folder")
    return "run", 0


def load_codes_run(path: str, spec: DataSpec) -> Model:
    """The trained model of run folder `path`, checked to encode images like the ones of `spec`."""
    try:
        model = load_model(path, which="best")
    except GenzooError as e:
        raise ConfigError(f"codes={path}: {e}") from None
    if not (callable(getattr(model, "encode", None)) or callable(getattr(model, "features", None))):
        raise ConfigError(f"codes={path} is a {model.name} run, which gives no codes: use an autoencoder (ae, "
                          "conv-ae, binary-ae), vae, aae, bigan or classifier run, or codes=pixels / codes=pca:K")
    if getattr(model, "conditional", False):
        raise ConfigError(f"codes run {path} is a conditional {model.name}, whose codes need the class labels (which "
                          "a query does not have): use an unconditional run")
    if tuple(model.spec.shape) != tuple(spec.shape):
        raise ConfigError(f"codes run {path} was trained on {model.spec.name!r} images of shape "
                          f"{tuple(model.spec.shape)}, but the database holds {spec.name!r} images of shape "
                          f"{tuple(spec.shape)}: train the codes run on the same dataset (and data.image_size)")
    if list(model.spec.class_names) != list(spec.class_names):
        raise ConfigError(f"codes run {path} was trained on {model.spec.name!r}, whose classes "
                          f"({', '.join(map(str, model.spec.class_names[:4]))}, ...) are not those of "
                          f"{spec.name!r}: train the codes run on the same dataset")
    model.requires_grad_(False)
    return model.eval()


def _tower(code_dim: int, hidden: int, emb: int) -> nn.Module:
    if hidden == 0:
        return nn.Linear(code_dim, emb)
    return nn.Sequential(nn.Linear(code_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, emb))


class PairScorer(nn.Module):
    """s(q, d) = <f(q), g(d)> / sqrt(emb) + b_d on query codes and the database's item codes."""

    def __init__(self, code_dim: int, hidden: int, emb: int, n_items: int):
        super().__init__()
        self.query = _tower(code_dim, hidden, emb)
        self.item = _tower(code_dim, hidden, emb)
        self.bias = nn.Parameter(torch.zeros(n_items))
        self.scale = 1.0 / math.sqrt(emb)

    def scores(self, query_codes: torch.Tensor, item_codes: torch.Tensor) -> torch.Tensor:
        """Q x N scores of every database item for every query."""
        return self.query(query_codes) @ self.item(item_codes).T * self.scale + self.bias

    def pair_scores(self, query_codes: torch.Tensor, item_codes: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """B x K scores of the items `items` (B x K database indices) for each of B queries."""
        q = self.query(query_codes)  # B x emb
        d = self.item(item_codes[items])  # B x K x emb
        return (d @ q[:, :, None]).squeeze(-1) * self.scale + self.bias[items]


def pointwise_loss(relevant: torch.Tensor, irrelevant: torch.Tensor) -> torch.Tensor:
    """Logistic loss of a pointwise ranker: scores of relevant pairs towards 1, the others towards 0."""
    return (F.binary_cross_entropy_with_logits(relevant, torch.ones_like(relevant))
            + F.binary_cross_entropy_with_logits(irrelevant, torch.zeros_like(irrelevant)))


def draw_known(db_labels: torch.Tensor, query_labels: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """For each query, k distinct database items of its class (the observed relevant items), Q x k."""
    known = torch.empty(len(query_labels), k, dtype=torch.long)
    for c in query_labels.unique().tolist():
        items = (db_labels == c).nonzero().squeeze(1)
        rows = (query_labels == c).nonzero().squeeze(1)
        if len(items) < k:
            raise ConfigError(f"class {c} has {len(items)} database items, fewer than known={k} relevant items per "
                              "query: raise db_size or lower known")
        pick = torch.rand(len(rows), len(items), generator=generator).argsort(1)[:, :k]
        known[rows] = items[pick]
    return known


@register("irgan", config=IRGANConfig, family="retrieval",
          description="IRGAN: a generator that picks database images for a query against a relevance "
                      "discriminator (Wang et al. 2017)",
          train_defaults={"steps": 4000, "batch_size": 64, "eval_every": 1000})
class IRGAN(Model):
    """Generative and discriminative retrievers in a minimax game, after a pointwise pretraining."""

    input_range = (0.0, 1.0)
    RANKERS = RANKERS
    RANKER_NAMES = RANKER_NAMES
    val_metric = "gen_ndcg10"
    val_higher_is_better = True

    def __init__(self, cfg: IRGANConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        cfg.validate()
        if spec.num_classes < 2:
            raise ConfigError(f"irgan needs class labels (relevance = same class); {spec.name!r} has none")
        self.kind, pca_k = codes_kind(cfg.codes)
        pixels = math.prod(spec.shape)
        self.featurizer = None
        if self.kind == "pixels":
            code_dim = pixels
        elif self.kind == "pca":
            if pca_k > min(pixels, cfg.db_size):
                raise ConfigError(f"codes=pca:{pca_k}: at most min(pixels, db_size) = {min(pixels, cfg.db_size)} "
                                  "components")
            code_dim = pca_k
            self.register_buffer("pca_mean", torch.zeros(pixels))
            self.register_buffer("pca_components", torch.zeros(pca_k, pixels))
        else:
            self.featurizer = load_codes_run(cfg.codes, spec)
            code_dim = self._run_codes(torch.zeros(1, *spec.shape, dtype=torch.uint8)).shape[1]
        # the retrieval state the Trainer's data fills in (attach_data); kept in checkpoints, so that a finished
        # run ranks and shows its database without the training data
        self.register_buffer("db_images", torch.zeros(cfg.db_size, *spec.shape, dtype=torch.uint8))
        self.register_buffer("db_labels", torch.zeros(cfg.db_size, dtype=torch.long))
        self.register_buffer("query_images", torch.zeros(cfg.queries, *spec.shape, dtype=torch.uint8))
        self.register_buffer("query_labels", torch.zeros(cfg.queries, dtype=torch.long))
        self.register_buffer("known", torch.zeros(cfg.queries, cfg.known, dtype=torch.long))
        self.register_buffer("game_started", torch.zeros((), dtype=torch.bool))
        self.pre = PairScorer(code_dim, cfg.hidden, cfg.emb, cfg.db_size)
        self.gen = PairScorer(code_dim, cfg.hidden, cfg.emb, cfg.db_size)
        self.dis = PairScorer(code_dim, cfg.hidden, cfg.emb, cfg.db_size)
        self._codes: tuple[torch.Tensor, ...] | None = None  # derived from the buffers, rebuilt when they change

    def train(self, mode: bool = True):
        super().train(mode)
        if self.featurizer is not None:
            self.featurizer.eval()  # a fixed feature extractor (its batch norm and dropout stay in eval mode)
        return self

    # ---- data ----------------------------------------------------------------------------------------
    def attach_data(self, data) -> None:
        """Draw the database, the labelled queries and their known relevant items from the training set."""
        cfg = self.cfg
        if data.labels is None:
            raise ConfigError(f"irgan needs class labels (relevance = same class); {data.name!r} has none")
        n, need = len(data), cfg.db_size + cfg.queries
        if need > n:
            raise ConfigError(f"irgan draws db_size={cfg.db_size} database items and queries={cfg.queries} labelled "
                              f"queries from the training set, but {data.name!r} has {n} images: lower them "
                              f"(--set db_size=... queries=...)")
        g = torch.Generator().manual_seed(cfg.data_seed)
        order = torch.randperm(n, generator=g)
        db, queries = order[:cfg.db_size], order[cfg.db_size:need]
        device = self.db_images.device
        self.db_images.copy_(data.images[db].to(device))
        self.db_labels.copy_(data.labels[db].to(device))
        self.query_images.copy_(data.images[queries].to(device))
        self.query_labels.copy_(data.labels[queries].to(device))
        self.known.copy_(draw_known(data.labels[db], data.labels[queries], cfg.known, g).to(device))
        if self.kind == "pca":
            pca = PCA.fit(to_float(data.images[db], (0.0, 1.0)), self.pca_components.shape[0])
            self.pca_mean.copy_(pca.mean.to(device))
            self.pca_components.copy_(pca.components.to(device))
        self._codes = None

    def load_training_state(self, state: dict[str, Any], weights_only: bool = False) -> None:
        super().load_training_state(state, weights_only)
        self._codes = None

    def _apply(self, fn, *args, **kwargs):  # .to(device) moves the buffers: rebuild the codes there
        self._codes = None
        return super()._apply(fn, *args, **kwargs)

    @torch.no_grad()
    def _run_codes(self, images: torch.Tensor) -> torch.Tensor:
        f = self.featurizer
        x = f.prepare(images)
        out = f.encode(x) if callable(getattr(f, "encode", None)) else f.features(x)
        return out.flatten(1).float()

    @torch.no_grad()
    def featurize(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """uint8 images (N x C x H x W) -> N x code_dim raw codes (before standardisation)."""
        out = []
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(self.device)
            if self.kind == "run":
                out.append(self._run_codes(x))
                continue
            flat = to_float(x, (0.0, 1.0)).flatten(1)
            out.append(flat if self.kind == "pixels" else (flat - self.pca_mean) @ self.pca_components.T)
        return torch.cat(out)

    def codes(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(database codes, labelled-query codes) standardised by the database's per-dimension mean and overall
        spread, and that mean and spread (per dimension, for `(raw - mean) / std`)."""
        if self._codes is None:
            raw = self.featurize(self.db_images)
            # centred per dimension, scaled by one number (the root mean variance): per-dimension scaling would blow
            # up near-constant pixels (MNIST's border) and PCA's noise components
            mean = raw.mean(0)
            std = (raw - mean).pow(2).mean().sqrt().clamp(min=1e-6).expand_as(mean)
            self._codes = ((raw - mean) / std, (self.featurize(self.query_images) - mean) / std, mean, std)
            self._db_raw = raw  # for the code-distance ranker (exact 0/1 for binary codes)
        return self._codes

    # ---- training ------------------------------------------------------------------------------------
    def configure_optimizers(self, total_steps: int) -> None:
        cfg = self.cfg
        for name, net, lr in (("pre", self.pre, cfg.lr_pre), ("gen", self.gen, cfg.lr_g), ("dis", self.dis, cfg.lr_d)):
            self.optimizers[name] = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=cfg.weight_decay)

    def train_step(self, batch, step: int) -> dict[str, Any]:
        # the Trainer's batch only sets how many queries a step takes: queries come from the labelled set
        cfg = self.cfg
        db_codes, query_codes, _, _ = self.codes()
        qi = torch.randint(cfg.queries, (len(batch),), device=self.device)
        qc, relevant = query_codes[qi], self.known[qi]
        if step < cfg.pretrain_steps:
            unobserved = torch.randint(cfg.db_size, relevant.shape, device=self.device)
            loss = pointwise_loss(self.pre.pair_scores(qc, db_codes, relevant),
                                  self.pre.pair_scores(qc, db_codes, unobserved))
            self.optimize("pre", loss)
            return {"pre_loss": loss.detach()}
        if not self.game_started:
            self.gen.load_state_dict(self.pre.state_dict())
            self.dis.load_state_dict(self.pre.state_dict())
            self.game_started.fill_(True)
        # discriminator: known relevant items against the generator's picks
        with torch.no_grad():
            policy = torch.softmax(self.gen.scores(qc, db_codes) / cfg.temperature, dim=1)
            fakes = torch.multinomial(policy, cfg.known, replacement=True)
        loss_d = pointwise_loss(self.dis.pair_scores(qc, db_codes, relevant),
                                self.dis.pair_scores(qc, db_codes, fakes))
        self.optimize("dis", loss_d)
        # generator: REINFORCE on the discriminator's reward log(1 + exp(s_phi))
        log_policy = torch.log_softmax(self.gen.scores(qc, db_codes) / cfg.temperature, dim=1)
        picks = torch.multinomial(log_policy.detach().exp(), cfg.g_samples, replacement=True)
        with torch.no_grad():
            reward = F.softplus(self.dis.pair_scores(qc, db_codes, picks))
        loss_g = reinforce_loss(log_policy, picks, reward)
        self.optimize("gen", loss_g)
        hits = (self.db_labels[picks] == self.query_labels[qi][:, None]).float().mean()
        entropy = -(log_policy.detach().exp() * log_policy.detach()).sum(1).mean()
        return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(), "reward": reward.mean(),
                "g_pick_precision": hits, "g_entropy": entropy}

    # ---- ranking and evaluation ----------------------------------------------------------------------
    def code_metric(self, query_codes: torch.Tensor) -> str:
        """'hamming' when the database's and these raw query codes are all 0/1 (binary codes), else 'euclidean'."""
        self.codes()
        binary = ((self._db_raw == 0) | (self._db_raw == 1)).all() and ((query_codes == 0) | (query_codes == 1)).all()
        return "hamming" if bool(binary) else "euclidean"

    @torch.no_grad()
    def rank(self, images: torch.Tensor, k: int, rankers: tuple[str, ...] = RANKERS) -> dict[str, torch.Tensor]:
        """Top-k database indices (Q x k, best first, on the CPU) of uint8 query images for each ranker.
        Before the game starts the generator and discriminator are the pretrained model they start from."""
        if not 1 <= k <= self.cfg.db_size:
            raise ConfigError(f"top {k} items requested, but the database holds {self.cfg.db_size} items")
        if tuple(images.shape[1:]) != tuple(self.spec.shape):
            raise ConfigError(f"query images of shape {tuple(images.shape[1:])}, but the database holds images of "
                              f"shape {tuple(self.spec.shape)}")
        db_codes, _, mean, std = self.codes()
        raw = self.featurize(images)
        qc = (raw - mean) / std
        out: dict[str, torch.Tensor] = {}
        with eval_mode(self):
            for r in rankers:
                if r in ("gen", "dis", "pre"):
                    net = getattr(self, r) if self.game_started else self.pre
                    out[r] = torch.cat([top_k_by_score(net.scores(qc[s:s + 500], db_codes), k).cpu()
                                        for s in range(0, len(qc), 500)])
                elif r == "code":
                    out[r] = nearest_neighbours(raw.cpu(), self._db_raw.cpu(), k, self.code_metric(raw))
                elif r == "pixel":
                    out[r] = nearest_neighbours(to_float(images.cpu(), (0.0, 1.0)).flatten(1),
                                                to_float(self.db_images.cpu(), (0.0, 1.0)).flatten(1), k)
                else:
                    raise ConfigError(f"unknown ranker {r!r} (one of {', '.join(RANKERS)})")
        return out

    @torch.no_grad()
    def evaluate(self, data, batch_size: int = 1000) -> dict[str, Any]:
        if data.labels is None:
            raise ConfigError(f"cannot evaluate retrieval on {data.name!r}: it has no labels")
        n = min(self.cfg.eval_queries, len(data))
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
        labels, db_labels = data.labels[pick], self.db_labels.cpu()
        res: dict[str, Any] = {}
        for r, top in self.rank(data.images[pick], min(max(CUTOFFS), self.cfg.db_size)).items():
            for c in CUTOFFS:
                if c <= top.shape[1]:
                    res[f"{r}_p{c}"] = precision_at_k(labels, db_labels, top[:, :c])
            res[f"{r}_ndcg{top.shape[1]}"] = ndcg_at_k(labels, db_labels, top)
        res["chance_precision"] = chance_precision(labels, db_labels)
        res["n"] = n
        return res
