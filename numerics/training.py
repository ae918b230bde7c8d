"""Minibatch training of :class:`~neuronid.numerics.network.Network` objects with
numba kernels: MSE or cross-entropy, AdamW or SGD with momentum, float64 or float32.

The structure is respected exactly (THEORY.md section 0): only entries with
``mask == 1`` are trained; the gradient with respect to ``theta`` is
``mask * dL/dW_eff``, weight decay acts on ``mask * theta`` only (the norm cost),
entries with ``mask == 0`` keep ``theta = 0`` and the fixed part never changes.
Biases are trained and, by default, not decayed (``bias_decay = 0``).

LayerNorm layers (THEORY N1) are trained too: ``gamma`` and ``beta`` (when the norm is
elementwise affine) are updated like biases (decay ``bias_decay``, default 0).
Training with BatchNorm is not supported (it would need batch statistics in the
forward pass and running-statistic updates); :func:`train` refuses such networks.

Reproducibility: the minibatch order of each epoch is a permutation drawn from
``np.random.default_rng(config.seed)``. A step runs on the numba threads
(``numba.set_num_threads``) in row blocks, then blocks of output neurons, with BLAS on
one thread inside each block (:func:`_thread_plan`; one thread pool, where OpenBLAS's
threads and numba's used to spin against each other), and no sum is split across
blocks, so the same seed, data, network and numba thread count give bitwise identical
weights, whatever the BLAS setting; other thread counts agree to rounding (BLAS rounds
the edge entries of a product according to the blocks it is called on).

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> from neuronid.numerics.training import TrainConfig, train
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(64, 2)); y = (X[:, 0] > 0).astype(int)
>>> net = standard_mlp([2, 8, 2], activation="tanh", seed=0)
>>> res = train(net, X, y, TrainConfig(epochs=30, lr=1e-2, batch_size=16), progress=False)
>>> res.history[-1] < res.history[0]
True
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from numbers import Integral, Real

import numba
import numpy as np

from neuronid.errors import InvalidOptionError

from . import _train_kernels as K
from ._compile_lock import compile_once
from .activations import EXTERNAL, GELU, IDENTITY, layer_dispatch
from .losses import LOSSES, check_targets, targets_for
from .network import Layer, Network, Norm, check_inputs
from .threads import single_threaded_blas

OPTIMIZERS = ("adamw", "sgd")
DTYPES = ("float64", "float32")

__all__ = ["TrainConfig", "TrainResult", "train", "loss_and_gradient", "OPTIMIZERS", "DTYPES"]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of :func:`train`.

    Attributes
    ----------
    loss : ``"mse"`` (mean over samples of the squared error summed over outputs;
        integer labels become one-hot targets) or ``"ce"`` (softmax cross-entropy).
    optimizer : ``"adamw"`` (as ``torch.optim.AdamW``) or ``"sgd"`` (as
        ``torch.optim.SGD`` with ``dampening=0``, ``nesterov=False``).
    lr : learning rate, > 0.
    epochs : number of passes over the data, 0 to :data:`MAX_EPOCHS` (1,000,000).
    batch_size : minibatch size, >= 1 (capped at the number of samples); the last
        batch of an epoch may be smaller.
    weight_decay : >= 0; AdamW: decoupled ``theta -= lr * wd * theta``; SGD: L2 term
        ``wd * theta`` added to the gradient. Trainable entries (``mask == 1``) only.
    bias_decay : the same for biases (default 0: biases are free, THEORY.md section 0).
    momentum : SGD momentum in [0, 1).
    betas : AdamW ``(beta1, beta2)``, each in [0, 1).
    eps : AdamW epsilon, > 0.
    dtype : ``"float64"`` or ``"float32"``: the arithmetic of the kernels. The
        returned network always holds float64 arrays.
    seed : seed of the minibatch order (``np.random.default_rng``), integer >= 0.
    frozen_biases : layer indices (negative ones count from the end) whose biases are
        not trained, e.g. ``(-1,)`` for a fixed output layer as in E1.
    """

    loss: str = "ce"
    optimizer: str = "adamw"
    lr: float = 1e-3
    epochs: int = 20
    batch_size: int = 128
    weight_decay: float = 1e-2
    bias_decay: float = 0.0
    momentum: float = 0.9
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    dtype: str = "float64"
    seed: int = 0
    frozen_biases: tuple = ()


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    ``network``: the trained copy (the input network is untouched); ``history``: per
    epoch, the mean training loss over the epoch's samples, each minibatch evaluated at
    the parameters before its step (the usual running loss); ``steps``: optimizer
    steps taken; ``seconds``: wall time of the epochs (JIT compilation included on a
    first call); ``config``: the configuration used; ``checkpoints``: epoch -> copy of
    the network after that many epochs, for the epochs requested with
    ``train(..., checkpoints=...)`` (empty otherwise; epoch 0 is the initial network).
    """

    network: Network
    history: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    config: TrainConfig | None = None
    checkpoints: dict = field(default_factory=dict)


# --- validation -------------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _check_config(config) -> TrainConfig:
    if not isinstance(config, TrainConfig):
        raise InvalidOptionError(f"config must be a TrainConfig, found {type(config).__name__}")
    c = config
    if c.loss not in LOSSES:
        raise InvalidOptionError(f"TrainConfig.loss: unknown loss {c.loss!r}; valid: {', '.join(LOSSES)}")
    if c.optimizer not in OPTIMIZERS:
        raise InvalidOptionError(
            f"TrainConfig.optimizer: unknown optimizer {c.optimizer!r}; valid: {', '.join(OPTIMIZERS)}"
        )
    if c.dtype not in DTYPES:
        raise InvalidOptionError(f"TrainConfig.dtype: must be one of {', '.join(DTYPES)}, found {c.dtype!r}")
    if not _is_real(c.lr) or c.lr <= 0:
        raise InvalidOptionError(f"TrainConfig.lr: must be a finite number > 0, found {c.lr!r}")
    if not _is_int(c.epochs) or not 0 <= c.epochs <= MAX_EPOCHS:
        raise InvalidOptionError(f"TrainConfig.epochs: must be an integer in [0, {MAX_EPOCHS}], found {c.epochs!r}")
    if not _is_int(c.batch_size) or c.batch_size < 1:
        raise InvalidOptionError(f"TrainConfig.batch_size: must be an integer >= 1, found {c.batch_size!r}")
    for name in ("weight_decay", "bias_decay"):
        value = getattr(c, name)
        if not _is_real(value) or value < 0:
            raise InvalidOptionError(f"TrainConfig.{name}: must be a finite number >= 0, found {value!r}")
    if not _is_real(c.momentum) or not 0.0 <= c.momentum < 1.0:
        raise InvalidOptionError(f"TrainConfig.momentum: must lie in [0, 1), found {c.momentum!r}")
    betas = c.betas
    if (
        not isinstance(betas, (tuple, list))
        or len(betas) != 2
        or not all(_is_real(b) and 0.0 <= b < 1.0 for b in betas)
    ):
        raise InvalidOptionError(f"TrainConfig.betas: must be two numbers in [0, 1), found {betas!r}")
    if not _is_real(c.eps) or c.eps <= 0:
        raise InvalidOptionError(f"TrainConfig.eps: must be a finite number > 0, found {c.eps!r}")
    if not _is_int(c.seed) or c.seed < 0:
        raise InvalidOptionError(f"TrainConfig.seed: must be an integer >= 0, found {c.seed!r}")
    if not isinstance(c.frozen_biases, (tuple, list)) or not all(_is_int(i) for i in c.frozen_biases):
        raise InvalidOptionError(
            f"TrainConfig.frozen_biases: must be a tuple of layer indices, found {c.frozen_biases!r}"
        )
    return c


def _check_network(net) -> Network:
    if not isinstance(net, Network):
        raise InvalidOptionError(f"net must be a neuronid Network, found {type(net).__name__}")
    for l, layer in enumerate(net.layers[:-1]):
        if layer.norm is not None and layer.norm.kind == "batch":
            raise InvalidOptionError(
                f"layer {l}: training with BatchNorm is not supported (it needs batch statistics and "
                "running-statistic updates); train with norm 'layer' or 'none', or train in PyTorch and "
                "import the network"
            )
        if np.any(layer.codes == EXTERNAL):
            i = int(np.flatnonzero(layer.codes == EXTERNAL)[0])
            raise InvalidOptionError(
                f"layer {l}, neuron {i}: activation {layer.names[i]!r} has no numba kernel; training needs a "
                "catalogue activation (relu, leaky_relu, gelu, tanh, sigmoid, softplus, elu, silu, identity, "
                "hard_tanh)"
            )
    return net


def _check_data(net: Network, X, y, loss: str):
    X = check_inputs(X, net.n_inputs)
    y = check_targets(loss, y, net.n_outputs, X.shape[0])
    return X, y


#: most epochs of one training run (a bound on an input-driven cost; the CLI's too)
MAX_EPOCHS = 1_000_000
#: seconds of training per kernel call: epochs run in chunks of about this length
EPOCH_CHUNK_SECONDS = 0.1
#: at most this many permutation entries (epochs x rows) are drawn ahead for a chunk
EPOCH_CHUNK_ROWS = 1 << 22


def _thread_plan():
    """``(context manager, numba threads)`` of a training run: BLAS on one thread, the
    step's blocks on the numba threads (``_train_kernels``, "one training step").

    Measured before (paper-size GELU float32 epoch, 2 threads, idle): numba's OpenMP
    threads and OpenBLAS's spin against each other when they alternate every few
    hundred microseconds, 4.7 s with both pools against 0.47 s with the kernels on one
    thread; E1 was 1.6x slower with 2 BLAS threads than with 1."""
    return single_threaded_blas(), numba.get_num_threads()


# --- flat layout ------------------------------------------------------------------------------
class _Flat:
    """A network's parameters and structure as flat buffers (see ``_train_kernels``)."""

    def __init__(self, net: Network, dtype, batch: int, frozen_biases=()):
        layers = net.layers
        L = len(layers)
        self.dtype = dtype
        self.sizes = np.array(net.sizes, dtype=np.int64)
        wcounts = [layer.weight.size for layer in layers]
        bcounts = [layer.shape[0] for layer in layers]
        self.woff = np.concatenate([[0], np.cumsum(wcounts)]).astype(np.int64)
        self.boff = np.concatenate([[0], np.cumsum(bcounts)]).astype(np.int64)
        cat = lambda arrs: np.ascontiguousarray(np.concatenate([a.ravel() for a in arrs]), dtype=dtype)  # noqa: E731
        self.mask = cat([layer.mask for layer in layers])
        self.theta = cat([layer.weight * layer.mask for layer in layers])
        self.fixed = cat([layer.fixed for layer in layers])
        # effective weight computed once in the parameter dtype, then kept in sync by the updates
        self.weff = self.mask * self.theta + self.fixed
        self.bias = cat([layer.bias for layer in layers])
        bmask = np.ones(self.boff[-1], dtype=dtype)
        for l in frozen_biases:
            bmask[self.boff[l]:self.boff[l + 1]] = 0.0
        self.bmask = bmask
        self.codes = np.concatenate(
            [layer.codes if layer.codes is not None else np.full(layer.shape[0], IDENTITY) for layer in layers]
        ).astype(np.int64)
        self.params = np.ascontiguousarray(
            np.concatenate(
                [layer.params if layer.params is not None else np.zeros(layer.shape[0]) for layer in layers]
            ),
            dtype=dtype,
        )
        # per hidden layer: its activation code if all its neurons share code and parameter
        # (vectorized kernel loops), else MIXED (per-neuron dispatch); the output layer is linear
        ucodes = []
        for layer in layers[:-1]:
            kind, code, _ = layer_dispatch(layer.codes, layer.params)
            ucodes.append(code if kind == "uniform" else K.MIXED)
        self.ucodes = np.array(ucodes + [IDENTITY], dtype=np.int64)
        self.batch = batch
        sizes = self.sizes
        self.hoff = (batch * np.concatenate([[0], np.cumsum(sizes)])).astype(np.int64)
        self.poff = (batch * self.boff).astype(np.int64)
        self.acts = np.zeros(int(self.hoff[-1]), dtype=dtype)
        self.pres = np.zeros(int(batch * self.boff[L - 1]), dtype=dtype)
        self.dz = np.zeros(int(batch * self.boff[L]), dtype=dtype)
        self.rowloss = np.zeros(batch, dtype=np.float64)
        # GELU's Phi(z) from the forward pass, in the parameter dtype (the GELU kernels
        # compute in it, see _train_kernels); empty without a GELU hidden layer
        has_gelu = bool(np.any(self.ucodes[:-1] == GELU))
        self.phi = np.zeros(int(batch * self.boff[L - 1]) if has_gelu else 0, dtype=dtype)
        self.gw = np.zeros_like(self.theta)
        self.gb = np.zeros_like(self.bias)
        # LayerNorm state (THEORY N1); gamma = 1, beta = 0 and gmask = 0 where a layer has
        # no norm or a norm without elementwise affine
        norms = [layer.norm for layer in layers]
        nkind = [K.NORM_LAYER if norm is not None else K.NORM_NONE for norm in norms]
        self.has_norms = any(kind == K.NORM_LAYER for kind in nkind)
        self.gamma = cat([norm.gamma() if norm is not None else np.ones(layer.shape[0])
                          for norm, layer in zip(norms, layers)])
        self.beta = cat([norm.beta() if norm is not None else np.zeros(layer.shape[0])
                         for norm, layer in zip(norms, layers)])
        self.gmask = cat([np.full(layer.shape[0], 1.0 if norm is not None and norm.affine else 0.0)
                          for norm, layer in zip(norms, layers)])
        n_hidden = max(L - 1, 1)
        work = int(batch * self.boff[L - 1]) if self.has_norms else 0
        self.du = np.zeros(work, dtype=dtype)
        self.norm = (
            np.array(nkind, dtype=np.int64),
            np.array([norm.eps if norm is not None else 0.0 for norm in norms], dtype=np.float64),
            self.gamma,
            self.beta,
            np.zeros_like(self.gamma),
            np.zeros_like(self.beta),
            np.zeros(work, dtype=dtype),
            np.zeros(work, dtype=dtype),
            np.zeros(batch * n_hidden if self.has_norms else n_hidden, dtype=dtype),
            np.zeros(int(sizes.max()), dtype=dtype),
        )

    def kernel_structure(self):
        return (self.sizes, self.woff, self.boff, self.hoff, self.poff, self.codes, self.params, self.ucodes)

    def split(self, flat, offsets, shapes):
        return [flat[offsets[l]:offsets[l + 1]].reshape(shape) for l, shape in enumerate(shapes)]

    def to_network(self, template: Network) -> Network:
        layers = []
        for l, layer in enumerate(template.layers):
            m, d = layer.shape
            w = self.theta[self.woff[l]:self.woff[l + 1]].reshape(m, d).astype(np.float64)
            b = self.bias[self.boff[l]:self.boff[l + 1]].astype(np.float64)
            norm = layer.norm
            if norm is not None and norm.affine:
                sl = slice(self.boff[l], self.boff[l + 1])
                norm = Norm(norm.kind, norm.eps, self.gamma[sl].astype(np.float64), self.beta[sl].astype(np.float64),
                            norm.running_mean, norm.running_var, size=norm.size)
            layers.append(Layer(w, b, layer.mask, layer.fixed, layer.activation, norm, where=f"layer {l}"))
        return Network(layers)


def _kernel_targets(loss: str, y: np.ndarray, n_outputs: int, dtype):
    """(T, labels) for the kernels: dense targets for MSE, labels for CE; a dummy for the other."""
    if loss == "mse":
        T = np.ascontiguousarray(targets_for(loss, y, n_outputs), dtype=dtype)
        return T, np.zeros(1, dtype=np.int64)
    return np.zeros((1, 1), dtype=dtype), np.ascontiguousarray(y, dtype=np.int64)


# --- public API -------------------------------------------------------------------------------
def loss_and_gradient(net: Network, X, y, loss: str = "mse"):
    """Mean loss and its gradient on the full data set, in float64.

    Parameters
    ----------
    net : a network with catalogue activations.
    X : ``(n, d)`` inputs.
    y : integer labels ``(n,)`` or real targets ``(n, o)`` (MSE only).
    loss : ``"mse"`` or ``"ce"`` (conventions of :mod:`neuronid.numerics.losses`).

    Returns
    -------
    (loss, grads) : ``loss`` a float; ``grads[l]`` a dict with ``"weight"``
        (``mask * dL/dW_eff``, the gradient with respect to ``theta``; 0 where
        ``mask == 0``) and ``"bias"`` (``dL/db``); for a hidden layer with an affine
        LayerNorm also ``"norm.weight"`` (``dL/dgamma``) and ``"norm.bias"``
        (``dL/dbeta``).

    Example
    -------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> from neuronid.numerics.training import loss_and_gradient
    >>> net = standard_mlp([2, 3, 1], activation="tanh", seed=0)
    >>> value, grads = loss_and_gradient(net, np.ones((4, 2)), np.zeros((4, 1)), "mse")
    >>> grads[0]["weight"].shape, grads[1]["bias"].shape
    ((3, 2), (1,))
    """
    _check_network(net)
    if loss not in LOSSES:
        raise InvalidOptionError(f"loss: unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    X, y = _check_data(net, X, y, loss)
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    flat = _Flat(net, np.float64, n)
    T, labels = _kernel_targets(loss, y, net.n_outputs, np.float64)
    threads, nt = _thread_plan()
    args = (X, T, labels, K.LOSS_MSE if loss == "mse" else K.LOSS_CE, *flat.kernel_structure(),
            flat.weff, flat.bias, flat.gw, flat.gb, flat.acts, flat.pres, flat.dz, flat.du, flat.rowloss, flat.norm,
            flat.phi, nt)
    compile_once(K.loss_grad, args)
    with threads:
        value = K.loss_grad(*args)
    gw = flat.gw * flat.mask
    shapes = [layer.shape for layer in net.layers]
    ws = flat.split(gw, flat.woff, shapes)
    vec_shapes = [(layer.shape[0],) for layer in net.layers]
    bs = flat.split(flat.gb, flat.boff, vec_shapes)
    ggs = flat.split(flat.norm[4], flat.boff, vec_shapes)
    gbs = flat.split(flat.norm[5], flat.boff, vec_shapes)
    grads = []
    for l, layer in enumerate(net.layers):
        entry = dict(weight=ws[l].copy(), bias=bs[l].copy())
        if layer.norm is not None and layer.norm.affine:
            entry["norm.weight"] = ggs[l].copy()
            entry["norm.bias"] = gbs[l].copy()
        grads.append(entry)
    return float(value), grads


def _check_checkpoints(checkpoints, epochs: int) -> list[int]:
    """Sorted distinct epochs in ``[0, epochs]`` from ``checkpoints`` (an iterable of integers)."""
    if checkpoints is None:
        return []
    if isinstance(checkpoints, (str, bytes)) or not hasattr(checkpoints, "__iter__"):
        raise InvalidOptionError(f"checkpoints must be a list of epochs, found {checkpoints!r}")
    out = set()
    for e in checkpoints:
        if not _is_int(e) or not 0 <= e <= epochs:
            raise InvalidOptionError(
                f"checkpoints: every entry must be an integer epoch in [0, {epochs}] (TrainConfig.epochs), found {e!r}"
            )
        out.add(int(e))
    return sorted(out)


def train(net: Network, X, y, config: TrainConfig = TrainConfig(), *, progress: bool | str = True,
          checkpoints=None) -> TrainResult:
    """Train a copy of ``net`` by minibatch AdamW or SGD with numba kernels.

    Parameters
    ----------
    net : the initial network (not modified); every hidden activation must be a
        catalogue activation (``sympy:`` expressions have no numba kernel).
    X : ``(n, d)`` inputs.
    y : integer labels ``(n,)`` (CE, or MSE against one-hot targets) or real targets
        ``(n, o)`` (MSE).
    config : :class:`TrainConfig`.
    progress : ``True`` for a tqdm bar on stderr, a string for a bar with that
        description, ``False`` for none.
    checkpoints : optional epochs in ``[0, config.epochs]`` after which to keep a copy
        of the network (``TrainResult.checkpoints[e]``; 0 = the initial network).
        Taking a copy only reads the parameters: the trained network is bitwise the
        same with or without checkpoints, and the copy at epoch ``e`` is bitwise the
        network that training for ``e`` epochs returns.

    Returns
    -------
    TrainResult
        The trained network (float64 arrays, same structure) and the per-epoch mean
        training loss.

    Notes
    -----
    One optimizer step per minibatch. With gradient ``g = mask * dL/dW_eff`` AdamW does

    .. math::

        \\theta \\leftarrow \\theta (1 - \\eta\\lambda) - \\frac{\\eta}{1-\\beta_1^t}
        \\frac{m_t}{\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}

    on entries with ``mask == 1`` only; masked entries keep ``theta = 0``, moments 0.

    Example
    -------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import w_mlp
    >>> from neuronid.numerics.training import TrainConfig, train
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(128, 4)); y = rng.normal(size=(128, 1))
    >>> net = w_mlp([4, 16, 1], activation="relu", n_fixed=1, sigma_F=1.0, seed=0)
    >>> cfg = TrainConfig(loss="mse", lr=1e-2, epochs=5, batch_size=32, dtype="float32")
    >>> res = train(net, X, y, cfg, progress=False)
    >>> len(res.history), res.network.layers[0].weight.dtype
    (5, dtype('float64'))
    >>> bool(np.all(res.network.layers[0].weight[net.layers[0].mask == 0] == 0))
    True
    """
    config = _check_config(config)
    _check_network(net)
    keep = set(_check_checkpoints(checkpoints, config.epochs))
    if not isinstance(progress, (bool, str)):
        raise InvalidOptionError(f"progress must be True, False or a description string, found {progress!r}")
    L = len(net.layers)
    frozen = []
    for i in config.frozen_biases:
        if not -L <= i < L:
            raise InvalidOptionError(
                f"TrainConfig.frozen_biases: layer index {i} out of range for a network with {L} layers "
                f"(valid: {-L} .. {L - 1})"
            )
        frozen.append(i % L)
    X, y = _check_data(net, X, y, config.loss)
    dtype = np.dtype(config.dtype)
    X = np.ascontiguousarray(X, dtype=dtype)
    n = X.shape[0]
    batch = min(config.batch_size, n)
    flat = _Flat(net, dtype, batch, frozen)
    T, labels = _kernel_targets(config.loss, y, net.n_outputs, dtype)
    s1w, s2w = np.zeros_like(flat.theta), np.zeros_like(flat.theta)
    s1b, s2b = np.zeros_like(flat.bias), np.zeros_like(flat.bias)
    s1n, s2n = np.zeros(2 * flat.gamma.size, dtype=dtype), np.zeros(2 * flat.gamma.size, dtype=dtype)
    hyper = np.array(
        [config.lr, config.weight_decay, config.bias_decay, config.betas[0], config.betas[1], config.eps,
         config.momentum],
        dtype=np.float64,
    )
    loss_code = K.LOSS_MSE if config.loss == "mse" else K.LOSS_CE
    opt_code = K.OPT_ADAMW if config.optimizer == "adamw" else K.OPT_SGD
    rng = np.random.default_rng(config.seed)
    structure = flat.kernel_structure()
    threads, nt = _thread_plan()
    history = []
    steps = 0
    bar = None
    if progress is not False and config.epochs > 0:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config.epochs,
            desc=progress if isinstance(progress, str) else f"train ({config.optimizer}, {config.loss})",
            unit="epoch",
            file=sys.stderr,
            leave=False,
        )
    kept = {}
    if 0 in keep:
        kept[0] = flat.to_network(net)
    t0 = time.perf_counter()
    per_chunk = max(1, EPOCH_CHUNK_ROWS // n)  # the permutations of a chunk stay within memory
    marks = sorted(e for e in keep if e > 0)
    epoch, chunk = 0, 1
    with threads:
        try:
            while epoch < config.epochs:
                stop = min(config.epochs, epoch + chunk, next((e for e in marks if e > epoch), config.epochs))
                # the same permutations, in the same order, as one draw per epoch
                perms = np.stack([rng.permutation(n) for _ in range(stop - epoch)])
                totals = np.zeros(stop - epoch, dtype=np.float64)
                args = (X, T, labels, perms, batch, loss_code, opt_code, *structure,
                        flat.theta, flat.mask, flat.fixed, flat.weff, flat.bias, flat.bmask, flat.gw, flat.gb,
                        s1w, s2w, s1b, s2b, flat.acts, flat.pres, flat.dz, flat.du, flat.rowloss, hyper, steps,
                        flat.norm, flat.gmask, s1n, s2n, flat.phi, nt, totals)
                compile_once(K.train_epochs, args)  # not timed: the chunk size is sized on run time
                started = time.perf_counter()
                K.train_epochs(*args)
                elapsed = time.perf_counter() - started
                for i, total in enumerate(totals):
                    mean = total / n
                    if not math.isfinite(mean):
                        raise InvalidOptionError(
                            f"training diverged in epoch {epoch + i} (mean {config.loss} loss {mean}); "
                            f"try a smaller learning rate (--lr / TrainConfig.lr, found {config.lr})"
                            + (" or float64 (--dtype / TrainConfig.dtype)" if dtype == np.float32 else "")
                        )
                    history.append(float(mean))
                steps += (stop - epoch) * -(-n // batch)
                if stop in keep:
                    kept[stop] = flat.to_network(net)
                if bar is not None:
                    bar.update(stop - epoch)
                    bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
                # next chunk: about EPOCH_CHUNK_SECONDS of epochs (progress, checkpoints and
                # interrupts stay responsive; a kernel call per epoch cost E1 ~10% of its time)
                rate = (stop - epoch) / max(elapsed, 1e-6)
                chunk = int(min(max(1, rate * EPOCH_CHUNK_SECONDS), per_chunk))
                epoch = stop
        finally:
            if bar is not None:
                bar.close()
    seconds = time.perf_counter() - t0
    if not (np.all(np.isfinite(flat.theta)) and np.all(np.isfinite(flat.bias))
            and np.all(np.isfinite(flat.gamma)) and np.all(np.isfinite(flat.beta))):
        raise InvalidOptionError(
            "training produced non-finite parameters; "
            f"try a smaller learning rate (--lr / TrainConfig.lr, found {config.lr})"
        )
    return TrainResult(network=flat.to_network(net), history=history, steps=steps, seconds=seconds, config=config,
                       checkpoints=kept)
