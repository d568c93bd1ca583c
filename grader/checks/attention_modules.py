"""The checks every attention module of the contract shares, made from its config and layers.

An `AttentionModule` names a class of the contract (SelfAttention_v1, CausalAttention, ...),
the `ModuleConfig` its checks build it with and run it on, and the layers that hold its weights
(`Linear` layers or plain `Matrix` parameters, as a function of the config). Its methods make
the standard checks: structure, values with the reference's weights loaded, values with
qkv_bias, the output shape, causality, eval mode, gradients, .to(device), inputs left alone,
and the book's seeded numbers. Each method words its check the usual way; an exercise passes
its own advice, and its own title or tries where it words them otherwise.

A new module exercise gets all of them from its config and layer names, e.g. a multi-head
attention with one fused query-key-value projection:

    FUSED = AttentionModule(
        "MultiHeadAttentionFused",
        ModuleConfig(d_in=6, d_out=8, context_length=10, num_heads=2, batch=3, tokens=7),
        layers=lambda c: (
            Linear("qkv", c.d_in, 3 * c.d_out),
            Linear("out_proj", c.d_out, c.d_out, bias=True),
        ),
    )
    checks = FUSED.standard_checks()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from grader.checks.criteria import (
    AllOf,
    Close,
    Criterion,
    FollowsDevice,
    Grads,
    Same,
    ShapeDType,
    Structure,
)
from grader.checks.spec import Check, Inputs
from grader.checks.vocabulary import (
    TOY,
    TOY_BATCH_TEXT,
    TOY_TEXT,
    Run,
    dropout_setup,
    inputs_unchanged,
    linear,
    module_probe,
    perturbed_after,
    random_values,
    tokens,
    toy_batch,
)
from grader.rng import Rng

# Eval mode: the same output twice (dropout off), and the reference's values.
EVAL_MODE = AllOf(
    (
        Same(
            what="the two eval-mode outputs",
            explain="dropout is still active in eval mode: use an nn.Dropout module (or "
            "F.dropout(..., training=self.training)) so that model.eval() switches it off",
            diagnosis="dropout.active_in_eval",
        ),
        Close(
            explain="the two eval-mode passes agree, so dropout is off: it is the values that "
            "are wrong, in eval mode as in the value checks"
        ),
    )
)

MASK_BUFFER_ADVICE = (
    "register the mask with self.register_buffer('mask', ...) so that .to(device) moves it "
    "with the module (a plain attribute stays behind)"
)


def shape_text(shape: tuple[int, ...]) -> str:
    """'(3, 7, 5)' (or '(6,)') for a tries text, as Python prints a tuple."""
    return str(tuple(shape))


def arguments_text(init: dict) -> str:
    """A constructor's keyword arguments as written in a call: 'd_in=8, dropout=0.3'."""
    return ", ".join(f"{key}={value}" for key, value in init.items())


@dataclass(frozen=True)
class ModuleConfig:
    """An attention module's constructor arguments that the checks vary, and its input's shape.

    context_length None: a module without a causal mask and without a dropout argument (the
    SelfAttention classes); num_heads None: a single-head module. The input x is (batch,
    tokens, d_in), or (tokens, d_in) where batch is None.
    """

    d_in: int
    d_out: int
    context_length: int | None = None
    num_heads: int | None = None
    batch: int | None = None
    tokens: int = 6

    @property
    def has_dropout(self) -> bool:
        return self.context_length is not None

    @property
    def x_shape(self) -> tuple[int, ...]:
        rows = (self.tokens,) if self.batch is None else (self.batch, self.tokens)
        return (*rows, self.d_in)

    def init(self, **changes) -> dict:
        """The constructor's keyword arguments, in the contract's order, dropout 0.0 unless
        `changes` say otherwise; other `changes` (qkv_bias=True) come last."""
        init: dict = {"d_in": self.d_in, "d_out": self.d_out}
        if self.has_dropout:
            init.update(context_length=self.context_length, dropout=0.0)
        if self.num_heads is not None:
            init["num_heads"] = self.num_heads
        return {**init, **changes}

    def text(self, *extra: str) -> str:
        """The arguments as the checks' texts name them (dropout left out), then `extra`."""
        named = {"d_in": self.d_in, "d_out": self.d_out}
        named.update(context_length=self.context_length, num_heads=self.num_heads)
        words = [f"{key}={value}" for key, value in named.items() if value is not None]
        return ", ".join((*words, *extra))

    def book(self) -> ModuleConfig:
        """The book's sizes for the same constructor: its toy input (6 tokens, 3 dims, two
        sequences where the module takes batches), d_out=2, context_length=6, two heads."""
        return replace(
            self,
            d_in=3,
            d_out=2,
            context_length=6 if self.has_dropout else None,
            num_heads=2 if self.num_heads is not None else None,
            batch=2 if self.batch is not None else None,
            tokens=6,
        )

    def book_text(self) -> str:
        """The arguments as the book passes them: positionally, num_heads by name."""
        init = self.init()
        heads = init.pop("num_heads", None)
        words = [str(value) for value in init.values()]
        return ", ".join(words + ([f"num_heads={heads}"] if heads is not None else []))


@dataclass(frozen=True)
class Linear:
    """An nn.Linear(d_in, d_out) named `name`; bias None: it has one when qkv_bias=True."""

    name: str
    d_in: int
    d_out: int
    bias: bool | None = None

    def weights(self, rng: Rng, qkv_bias: bool, scale: float) -> dict:
        bias = qkv_bias if self.bias is None else self.bias
        return linear(rng, self.name, self.d_in, self.d_out, bias, scale)


@dataclass(frozen=True)
class Matrix:
    """A plain nn.Parameter named `name`, uniform in [0, 1) as torch.rand fills it."""

    name: str
    shape: tuple[int, ...]

    def weights(self, rng: Rng, qkv_bias: bool, scale: float) -> dict:
        return {f"w:{self.name}": rng.uniform(*self.shape, low=0.0, high=1.0)}


Layers = Callable[[ModuleConfig], tuple[Linear | Matrix, ...]]
QKV = ("W_query", "W_key", "W_value")


def qkv_matrices(c: ModuleConfig) -> tuple[Matrix, ...]:
    """SelfAttention_v1: W_query, W_key, W_value as (d_in, d_out) parameters."""
    return tuple(Matrix(name, (c.d_in, c.d_out)) for name in QKV)


def qkv_linears(c: ModuleConfig, prefix: str = "") -> tuple[Linear, ...]:
    """W_query, W_key, W_value as nn.Linear(d_in, d_out), names under `prefix`."""
    return tuple(Linear(prefix + name, c.d_in, c.d_out) for name in QKV)


def qkv_per_head(c: ModuleConfig) -> tuple[Linear, ...]:
    """The wrapper: num_heads CausalAttention modules in `heads`, each with its own layers."""
    return tuple(layer for h in range(c.num_heads or 1) for layer in qkv_linears(c, f"heads.{h}."))


def fused_qkv_and_out_proj(c: ModuleConfig) -> tuple[Linear, ...]:
    """MultiHeadAttentionCombinedQKV: one qkv = nn.Linear(d_in, 3 * d_out) whose rows hold
    W_query's, W_key's and W_value's in that order, then out_proj (always with a bias)."""
    return (Linear("qkv", c.d_in, 3 * c.d_out), Linear("out_proj", c.d_out, c.d_out, bias=True))


def qkv_and_out_proj(c: ModuleConfig) -> tuple[Linear, ...]:
    """MultiHeadAttention: W_query, W_key, W_value, then out_proj (always with a bias)."""
    return (*qkv_linears(c), Linear("out_proj", c.d_out, c.d_out, bias=True))


@dataclass(frozen=True)
class AttentionModule:
    """A class of the contract with its checks' config and its layers; makes its checks."""

    name: str  # the class name in the contract
    config: ModuleConfig
    layers: Layers
    # Each head gives d_out features and the output concatenates them (the wrapper).
    out_per_head: bool = False

    def at(self, config: ModuleConfig) -> AttentionModule:
        """The same module checked at another config."""
        return replace(self, config=config)

    def called(self, *extra: str) -> str:
        """'CausalAttention(d_in=5, d_out=4, context_length=9, extra...)'."""
        return f"{self.name}({self.config.text(*extra)})"

    @property
    def out_shape(self) -> tuple[int, ...]:
        c = self.config
        width = c.d_out * (c.num_heads or 1) if self.out_per_head else c.d_out
        return (*c.x_shape[:-1], width)

    def weights(
        self,
        rng: Rng,
        config: ModuleConfig | None = None,
        qkv_bias: bool = False,
        scale: float = 0.5,
    ) -> dict:
        """Random weights for every layer, as `w:` inputs that the probe loads."""
        weights = {}
        for layer in self.layers(config or self.config):
            weights.update(layer.weights(rng, qkv_bias, scale))
        return weights

    def inputs(
        self,
        config: ModuleConfig | None = None,
        qkv_bias: bool = False,
        weight_scale: float = 0.5,
        x_scale: float = 1.0,
        before_x: dict[str, Callable[[Rng], torch.Tensor]] | None = None,
        **after_x: Callable[[Rng], torch.Tensor],
    ) -> Inputs:
        """The weights and x (of the config's shape, in [-x_scale, x_scale]), and the extra
        inputs, drawn in that order; those in `before_x` are drawn before x, listed after it."""
        config = config or self.config

        def make(rng: Rng) -> dict:
            weights = self.weights(rng, config, qkv_bias, weight_scale)
            early = {key: draw(rng) for key, draw in (before_x or {}).items()}
            x = tokens(rng, *config.x_shape, scale=x_scale)
            late = {key: draw(rng) for key, draw in after_x.items()}
            return {**weights, "x": x, **early, **late}

        return make

    def probe(self, init: dict | None = None, **options) -> dict:
        """A module probe on the config (or on `init`); options as `module_probe` takes them."""
        return module_probe(self.config.init() if init is None else init, **options)

    # -- the checks ---------------------------------------------------------------------

    def structure(
        self,
        *,
        title: str,
        module_types: tuple[tuple[str, str], ...] | None = None,
        listing: str = "its parameters and submodules",
        advice: str = "",
    ) -> Check:
        """Parameters by name and shape; submodule types, by default every Linear layer."""
        if module_types is None:
            layers = self.layers(self.config)
            module_types = tuple((x.name, "Linear") for x in layers if isinstance(x, Linear))
        extra = ("dropout=0.0",) if self.config.has_dropout else ()
        return Check(
            name="structure",
            title=title,
            tries=f"{self.called(*extra)}: {listing}",
            probe=self.probe(forward=(), describe=True),
            inputs=lambda rng: {},
            judge=Structure(module_types),
            advice=advice,
        )

    def values(
        self,
        *,
        title: str = "values with given weights",
        tries: str = "",
        points: int = 2,
        advice: str = "",
    ) -> Check:
        """The output with the reference's weights loaded; also a hidden check."""
        shape = shape_text(self.config.x_shape)
        return random_values(
            Run(self.probe(), self.inputs()),
            title=title,
            tries=tries or f"{self.called()} with the reference's weights loaded, on x {shape}",
            points=points,
            advice=advice,
        )

    def values_bias(self, *, advice: str = "") -> Check:
        return Check(
            name="values_bias",
            title="values with qkv_bias=True",
            tries=f"{self.called('qkv_bias=True')} with weights and biases loaded",
            probe=self.probe(self.config.init(qkv_bias=True)),
            inputs=self.inputs(qkv_bias=True),
            judge=Close(),
            advice=advice,
        )

    def shape(self, *, title: str = "output shape", advice: str = "") -> Check:
        return Check(
            name="shape",
            title=title,
            tries=f"{self.called()} on x {shape_text(self.config.x_shape)}",
            probe=self.probe(),
            inputs=self.inputs(),
            judge=ShapeDType(),
            advice=advice,
        )

    def causal(self, *, keep: int | None = None, advice: str = "") -> Check:
        """Tokens from `keep` on (by default the later half) are replaced: the outputs before
        them must not change."""
        keep = keep or (self.config.tokens + 1) // 2
        last = self.config.tokens - 1
        return Check(
            name="causal",
            title="earlier outputs ignore later tokens",
            tries=f"{self.called()} on x and on x with tokens {keep} to {last} replaced: "
            f"outputs 0 to {keep - 1} must not change",
            probe=self.probe(forward=("x", "x_changed")),
            inputs=self._causal_inputs(keep),
            judge=Same(upto=keep, what=f"outputs for tokens 0-{keep - 1}"),
            advice=advice,
        )

    def _causal_inputs(self, keep: int) -> Inputs:
        """The loaded inputs and x_changed: x with the tokens from `keep` on drawn again."""
        loaded = self.inputs()

        def make(rng: Rng) -> dict:
            inputs = loaded(rng)
            inputs["x_changed"] = perturbed_after(rng, inputs["x"], keep)
            return inputs

        return make

    def eval_mode(self, *, tries: str = "", advice: str = "") -> Check:
        return Check(
            name="eval_mode",
            title="eval mode is deterministic and dropout-free",
            tries=tries or f"{self.called('dropout=0.5')} in eval mode, forward twice",
            probe=self.probe(self.config.init(dropout=0.5), forward=("x", "x")),
            inputs=self.inputs(),
            judge=EVAL_MODE,
            advice=advice,
        )

    def train_dropout(
        self,
        config: ModuleConfig,
        *,
        p: float,
        title: str,
        reading: str,
        judge: Criterion,
        points: int = 1,
        advice: str = "",
    ) -> Check:
        """Train mode with dropout p on one-hot tokens and orthogonal value weights (see
        `dropout_setup`; `config` has d_in = tokens = context_length = 8 and the batch size);
        the attention weights are read back from the output. `reading` ends the tries text."""
        init = config.init(dropout=p)
        heads = config.num_heads or 1
        names = {layer.name for layer in self.layers(config)}

        def inputs(rng: Rng) -> dict:
            setup = dropout_setup(
                rng,
                batch=config.batch,
                heads=heads,
                per_head_prefix=self.out_per_head,
                proj="out_proj" in names,
            )
            if "qkv" in names:  # one fused layer: W_query's, W_key's, W_value's rows stacked
                setup["w:qkv.weight"] = torch.cat([setup.pop(f"w:{n}.weight") for n in QKV])
            return setup

        return Check(
            name="dropout",
            title=title,
            tries=f"{self.name}({arguments_text(init)}) in train mode on one-hot tokens{reading}",
            probe=module_probe(init, mode="train", eval_too=True),
            inputs=inputs,
            judge=judge,
            points=points,
            advice=advice,
            picture="out",  # the judge reads the attention weights back from it
        )

    def grads(
        self,
        *,
        title: str = "gradients reach every weight",
        advice: str = "",
        upstream_first: bool = False,
    ) -> Check:
        """Backward with an upstream gradient g; upstream_first draws g before x (the order
        the SelfAttention checks have always drawn their inputs in)."""
        upstream = {"g": lambda rng: rng.uniform(*self.out_shape)}
        return Check(
            name="grads",
            title=title,
            tries=f"backward through {self.called()} with loaded weights",
            probe=self.probe(upstream="g"),
            inputs=self.inputs(before_x=upstream) if upstream_first else self.inputs(**upstream),
            judge=Grads(),
            advice=advice,
        )

    def device(self, *, advice: str = MASK_BUFFER_ADVICE) -> Check:
        return Check(
            name="device",
            title="follows .to(device)",
            tries=f"{self.called()}.to('meta') on x on the meta device",
            probe=self.probe(device="meta"),
            inputs=self.inputs(),
            judge=FollowsDevice(),
            advice=advice,
        )

    def inputs_unchanged(self) -> Check:
        run = Run(self.probe(), self.inputs())
        return inputs_unchanged(run, f"{self.called()} forward on x", ("x",))

    def book(self, *, seed: int, advice: str) -> Check:
        """A zero-point note: the book's printed numbers after torch.manual_seed(seed)."""
        book = self.config.book()
        batched = book.batch is not None
        return Check(
            name="book",
            title=f"the book's numbers after torch.manual_seed({seed})",
            tries=f"torch.manual_seed({seed}); {self.name}({book.book_text()}) on "
            f"{TOY_BATCH_TEXT if batched else TOY_TEXT}",
            probe=module_probe(book.init(), init_seed=seed),
            inputs=lambda rng: {"x": toy_batch() if batched else TOY.clone()},
            judge=Close(),
            points=0,
            advice=advice,
        )

    def standard_checks(self) -> tuple[Check, ...]:
        """Every standard check with its usual wording, for a module with a causal mask or,
        where the config has no context_length, without one."""
        masked = self.config.has_dropout
        return (
            self.structure(title="its parameters and layers"),
            self.values(),
            self.values_bias(),
            self.shape(),
            *((self.causal(), self.eval_mode()) if masked else ()),
            self.grads(),
            *((self.device(),) if masked else ()),
            self.inputs_unchanged(),
        )
