"""PyTorch MLPs in and out: state dicts and modules <-> :class:`Network`.

Two layouts of a state dict are understood (both also as live ``nn.Module`` objects):

``sequential``
    An ``nn.Sequential`` as torch numbers it: ``{i}.weight``, ``{i}.bias`` for
    ``Linear``; ``{i}.weight|bias`` for ``LayerNorm``; ``{i}.running_mean|running_var``
    (+ ``weight|bias``, ``num_batches_tracked``) for ``BatchNorm1d`` in evaluation
    mode. Activations and dropout have no tensors and leave gaps in the indices; a
    state dict does not say which activation sat there, so ``activation=`` names it.
    Masked linear modules are recognized by their buffers: ``mask`` + ``fixed``
    (effective weight ``weight*mask + fixed``, neuronid's own convention), ``mask`` +
    ``normal_mask`` (``weight*mask + (1-mask)*c*normal_mask`` with ``c`` the mask
    constant) or ``noise`` (``weight + c*noise``).

``paper``
    The layout of the paper authors' code (``vuenc/neuron-identifiability``,
    ``src/models/mlp.py``: ``MLP``, ``WMLP`` with ``SparseLinear``, ``NoiseMLP`` with
    ``NoiseLinear``): ``lins.{i}.weight|bias``, W-asymmetric ``lins.{i}.mask`` (1 =
    trainable) + ``lins.{i}.normal_mask``, noise layers ``lins.{i}.noise``,
    ``norms.{i}.*`` (LayerNorm or BatchNorm1d). Per hidden layer Linear -> norm ->
    activation, the last Linear plain. The mask constant is not in the state dict; it
    comes from the run's Hydra config (``model.mask_params``) or ``mask_constant=``.
    Checkpoints as the authors' trainer writes them (``{"model_state_dict": ...,
    "epoch": ...}``) are unwrapped.

Files: ``.safetensors`` and ``.npz`` are read without torch (never unpickled);
``.pt``/``.pth`` only through ``torch.load(..., weights_only=True)``.

Every import checks itself when torch is installed: a torch module built from the
*source* tensors (the user's own module, or a re-implementation of the layout that
loads the state dict with ``strict=True``) and the imported network are evaluated on
random inputs in float64; the first module whose output differs by more than
``1e-6`` relative raises :class:`ConversionCheckError`.

torch is optional: it is imported inside the functions that need it (``to_torch``,
``.pt`` files, the self-check, module inputs), so everything else works without it.

Size (about 1,400 lines): one concept, the PyTorch boundary, whose parts share the
private parsed-module types (``_Linear``, ``_Norm``, ``_Parsed``) and one error
vocabulary; kept whole so that the two layouts, the options and the self-check read
together. Should it grow, the seam is between the numpy-only state-dict parser (up to
:func:`build_network`) and the torch side (self-check, modules in and out).

Example
-------
>>> import numpy as np
>>> sd = {"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3),
...       "2.weight": np.ones((1, 3)), "2.bias": np.zeros(1)}
>>> net = from_torch(sd, activation="relu", check=False)
>>> net.sizes, net.activations
([2, 3, 1], ['relu'])
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuronid.errors import FileFormatError, InvalidNetworkError, InvalidOptionError, UnsafeFileError

from .activations import parse_activation
from .io import _check_exists, _read_npz
from .network import Layer, Network, Norm

__all__ = [
    "ConversionCheckError",
    "LAYOUTS",
    "from_torch",
    "read_state_dict",
    "to_torch",
    "torch_modules",
    "torch_state_dict",
]

LAYOUTS = ("sequential", "paper")
NORM_CHOICES = ("none", "layer", "batch")
#: torch's default eps of LayerNorm and BatchNorm1d
DEFAULT_EPS = 1e-5
#: relative tolerance of the import self-check (float64 on both sides: rounding is ~1e-15)
CHECK_RTOL = 1e-6
STATE_DICT_SUFFIXES = (".pt", ".pth", ".safetensors", ".npz")
#: metadata key under which ``export`` stores the module list (safetensors metadata and
#: the ``.pt`` state dict's ``_metadata[""]``)
MODULES_KEY = "neuronid.modules"

_MAX_KEYS_LISTED = 24


class ConversionCheckError(InvalidNetworkError):
    """The imported network does not reproduce the torch module's outputs."""


# ============================================================================ state dicts
def _keys_found(sd) -> str:
    keys = list(sd)
    text = ", ".join(keys[:_MAX_KEYS_LISTED])
    return text + (f", ... ({len(keys)} keys)" if len(keys) > _MAX_KEYS_LISTED else "")


def _is_tensor(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _unwrap_checkpoint(obj, source: str, key: str | None = None):
    """A training checkpoint ``{"model_state_dict": {...}, "epoch": ...}`` -> the state dict.

    A mapping that holds tensors itself is the state dict. Otherwise its entries that
    are mappings holding tensors (``model_state_dict``, ``state_dict``, ``model``,
    ``ema`` ... any name) are the candidates: exactly one is taken; several need
    ``key=`` (CLI ``--key``) so that no state dict is picked silently.
    """
    if isinstance(obj, dict):
        if key is not None:
            if not isinstance(obj.get(key), dict):
                nested = [str(k) for k, v in obj.items() if isinstance(v, dict)]
                raise InvalidOptionError(
                    f"{source}: --key {key!r}: no state dict under that key; "
                    + (f"candidates: {', '.join(nested)}" if nested else "the file is a plain state dict (drop --key)")
                )
            return obj[key]
        if not obj or any(_is_tensor(v) for v in obj.values()):
            return obj
        candidates = [k for k, v in obj.items() if isinstance(v, dict) and any(_is_tensor(t) for t in v.values())]
        if len(candidates) > 1:
            raise InvalidOptionError(
                f"{source}: the checkpoint holds {len(candidates)} state dicts ({', '.join(map(str, candidates))}); "
                f"choose one with --key NAME (key=NAME), e.g. --key {candidates[0]}"
            )
        return obj[candidates[0]] if candidates else obj
    raise FileFormatError(
        f"{source}: expected a state dict (a mapping of names to tensors), found {type(obj).__name__}"
    )


def _to_numpy(key: str, value, source: str) -> np.ndarray:
    """One state-dict entry as a numpy array (float64 for floats); non-tensors refused."""
    if hasattr(value, "detach") and hasattr(value, "dtype") and hasattr(value, "shape"):  # a torch tensor
        t = value.detach().cpu()
        if t.is_floating_point():
            return t.double().numpy()
        if t.dtype.is_complex:
            raise InvalidNetworkError(f"{source}: tensor {key!r} is complex ({t.dtype}); expected real numbers")
        return t.numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise InvalidNetworkError(
                f"{source}: entry {key!r} is not a numeric tensor (dtype {value.dtype}); a state dict maps "
                "names to real tensors"
            )
        return value.astype(np.float64) if value.dtype.kind == "f" else value
    raise InvalidNetworkError(
        f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor; a state dict maps names to tensors"
    )


def _read_pt(path: Path, key: str | None = None) -> tuple[dict, dict | None]:
    try:
        import torch  # optional dependency: only .pt/.pth files need it
    except ImportError:
        raise FileFormatError(
            f"{path}: reading .pt/.pth files needs PyTorch (pip install 'neuronid[torch]'); or save the state "
            "dict with safetensors (safetensors.torch.save_file(model.state_dict(), 'model.safetensors'))"
        ) from None
    import pickle

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before it refuses: one line only
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not re.search(r"Unsupported (global|class)", str(exc)):  # not a pickled object: corrupt or foreign file
            raise FileFormatError(f"{path}: not a readable PyTorch file (corrupt, truncated, or not torch.save "
                                  f"output; torch: {_torch_reason(exc)})"
                                  ) from None
        found = re.search(r"Unsupported (?:global|class):? (?:GLOBAL )?([\w.]+)", str(exc))
        what = f"it pickles {found.group(1)}" if found else "it holds objects other than tensors"
        raise UnsafeFileError(
            f"{path}: torch.load(weights_only=True) refused the file ({what}); neuronid never unpickles "
            "arbitrary objects. Save only the state dict: torch.save(model.state_dict(), path)"
        ) from None
    except Exception as exc:
        raise FileFormatError(f"{path}: not a readable PyTorch file (corrupt or truncated?): "
                              f"{type(exc).__name__}: {_clip(str(exc).splitlines()[0]) if str(exc) else ''}") from None
    sd = _unwrap_checkpoint(obj, str(path), key)
    meta = None
    raw = getattr(sd, "_metadata", None)
    if isinstance(raw, dict) and isinstance(raw.get(""), dict) and isinstance(raw[""].get(MODULES_KEY), str):
        meta = {MODULES_KEY: raw[""][MODULES_KEY]}
    return sd, meta


def _clip(text: str, limit: int = 120) -> str:
    """``text`` up to its first sentence end, at most ``limit`` characters, never cut mid-word."""
    text = " ".join(text.split())
    end = re.search(r"[.;](\s|$)", text)
    if end:
        text = text[: end.start()]
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def _torch_reason(exc) -> str:
    """The informative part of torch's long unpickling message, as a clean phrase."""
    text = str(exc)
    opcode = re.search(r"Unsupported operand (\d+)", text)
    if opcode:
        return f"unsupported pickle opcode {opcode.group(1)}, a plain pickle?"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("Unsupported", "invalid load key", "Invalid")):
            return _clip(ln)
    return _clip(lines[0]) if lines else type(exc).__name__


def read_state_dict(path, *, key: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a state dict file: ``(tensors as numpy arrays, string metadata)``.

    ``.safetensors`` and ``.npz`` need no torch; ``.pt``/``.pth`` are loaded with
    ``torch.load(weights_only=True)`` only. Floating tensors become float64. A
    ``.pt`` checkpoint holding several state dicts needs ``key`` (which one).
    """
    path = _check_exists(path)
    suffix = path.suffix.lower()
    meta: dict = {}
    if key is not None and suffix not in (".pt", ".pth"):
        raise InvalidOptionError(f"{path}: --key chooses a state dict inside a .pt/.pth checkpoint; "
                                 f"a {suffix} file holds one state dict (drop --key)")
    if suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = dict(fh.metadata() or {})
                raw = {key: fh.get_tensor(key) for key in fh.keys()}
        except Exception as exc:  # safetensors raises its own error types
            raise FileFormatError(
                f"{path}: not a readable safetensors file (corrupt, truncated, or a dtype numpy cannot hold "
                f"such as bfloat16): {exc}"
            ) from None
    elif suffix == ".npz":
        raw = _read_npz(path, what="state dicts")
    elif suffix in (".pt", ".pth"):
        raw, pt_meta = _read_pt(path, key)
        meta = pt_meta or {}
    else:
        raise FileFormatError(
            f"{path}: unknown state dict file type {suffix!r}; use {', '.join(STATE_DICT_SUFFIXES)}"
        )
    if not raw:
        raise InvalidNetworkError(f"{path}: the state dict is empty")
    return {str(k): _to_numpy(str(k), v, str(path)) for k, v in raw.items()}, meta


# ============================================================================ parsed modules
@dataclass
class _Linear:
    """A linear module: ``name`` is its state-dict prefix; ``kind`` plain / masked
    (mask + fixed) / w-asym (mask + normal_mask) / noise."""

    name: str
    weight: np.ndarray
    bias: np.ndarray | None
    kind: str = "plain"
    mask: np.ndarray | None = None
    fixed: np.ndarray | None = None
    normal_mask: np.ndarray | None = None
    noise: np.ndarray | None = None
    mask_constant: float | None = None

    def effective(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(mask, fixed)`` in neuronid's convention ``mask*weight + fixed``."""
        c = self.mask_constant
        if self.kind == "masked":
            return self.mask, self.fixed
        if self.kind == "w-asym":
            return self.mask, (1.0 - self.mask) * c * self.normal_mask
        if self.kind == "noise":
            return None, c * self.noise
        return None, None

    def describe(self) -> str:
        m, d = self.weight.shape
        c = "?" if self.mask_constant is None else f"{self.mask_constant:g}"
        extra = {"plain": "", "masked": ", mask+fixed", "w-asym": f", W-asymmetric mask, mask_constant={c}",
                 "noise": f", noise, mask_constant={c}"}[self.kind]
        return f"{self.name}: Linear({d}, {m}{'' if self.bias is not None else ', bias=False'}{extra})"


@dataclass
class _Norm:
    name: str | None  # None: a LayerNorm without parameters (no state-dict entries)
    kind: str  # "layer" | "batch"
    eps: float
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None
    size: int = 0

    def to_norm(self, where: str) -> Norm:
        if self.kind == "batch":  # BatchNorm1d(affine=False): gamma = 1, beta = 0
            return Norm("batch", self.eps, self.weight, self.bias, self.running_mean, self.running_var,
                        size=self.size, where=where)
        bias = self.bias
        if self.weight is not None and bias is None:  # LayerNorm(bias=False): beta = 0
            bias = np.zeros(self.weight.size)
        return Norm("layer", self.eps, self.weight, bias, size=self.size, where=where)

    def describe(self) -> str:
        where = self.name if self.name is not None else "(no parameters)"
        if self.kind == "batch":
            return f"{where}: BatchNorm1d({self.size}, eps={self.eps:g}{'' if self.weight is not None else ', affine=False'})"
        return f"{where}: LayerNorm({self.size}, eps={self.eps:g}{'' if self.weight is not None else ', elementwise_affine=False'})"


@dataclass
class _Parsed:
    """An MLP read from a state dict or module: hidden stages ``(linear, norm, act)``
    and the output linear; ``layout`` says how the reference torch module is built."""

    layout: str
    linears: list
    norms: list
    activations: list
    notes: list = field(default_factory=list)

    def describe(self) -> list[str]:
        out = []
        for l, lin in enumerate(self.linears):
            out.append(lin.describe())
            if l < len(self.norms):
                if self.norms[l] is not None:
                    out.append(self.norms[l].describe())
                out.append(f"{_torch_activation_repr(self.activations[l])}")
        return out


def _check_shape(arr, shape, key, source, what):
    if arr.shape != shape:
        raise InvalidNetworkError(f"{source}: tensor {key!r} must have shape {shape} ({what}), found {arr.shape}")


def _check_float(arr, key, source):
    if arr.dtype.kind != "f":
        raise InvalidNetworkError(f"{source}: tensor {key!r} has dtype {arr.dtype}; expected a floating-point tensor")


def _mask01(arr, key, source):
    arr = np.asarray(arr, dtype=np.float64)
    bad = (arr != 0.0) & (arr != 1.0)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidNetworkError(f"{source}: tensor {key!r} must hold 0/1 (1 = trainable), found {float(arr[idx]):g} at {idx}")
    return arr


_LINEAR_PARTS = {"weight", "bias", "mask", "fixed", "normal_mask", "noise"}
_BN_PARTS = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _parse_module(prefix: str, parts: dict, source: str, layout: str, expected: str):
    """Classify one module's tensors: ``_Linear`` or ``_Norm`` (eps filled in later)."""
    names = set(parts)
    key = lambda n: f"{prefix}.{n}"  # noqa: E731 - local shorthand
    unsupported = {"scale": "the authors' 'layer_linear' norm proxy", "inv_std": "the authors' 'batch_linear' norm proxy",
                   "C": "the authors' sigma-asymmetric AsymSwiGLU activation (symmetry 2)"}
    for name in names:
        if name in unsupported:
            raise InvalidNetworkError(
                f"{source}: tensor {key(name)!r} belongs to {unsupported[name]}, which neuronid does not support"
            )
    if "running_mean" in names or "running_var" in names:
        unknown = sorted(names - _BN_PARTS)
        if unknown:
            raise InvalidNetworkError(
                f"{source}: unknown key {key(unknown[0])!r} for a BatchNorm1d module in layout {layout!r} "
                f"(expected {expected}); keys found: {_keys_found_parts(prefix, parts)}"
            )
        for need in ("running_mean", "running_var"):
            if need not in names:
                raise InvalidNetworkError(f"{source}: BatchNorm1d {prefix!r}: tensor {key(need)!r} is missing")
        rm = parts["running_mean"]
        if rm.ndim != 1:
            raise InvalidNetworkError(f"{source}: tensor {key('running_mean')!r} must be 1-D, found shape {rm.shape}")
        m = rm.shape[0]
        for n in ("running_mean", "running_var", "weight", "bias"):
            if n in parts:
                _check_float(parts[n], key(n), source)
                _check_shape(parts[n], (m,), key(n), source, f"BatchNorm1d over {m} features")
        if np.any(parts["running_var"] < 0):
            raise InvalidNetworkError(f"{source}: tensor {key('running_var')!r} has negative entries (a variance)")
        if ("weight" in parts) != ("bias" in parts):
            missing = "bias" if "weight" in parts else "weight"
            raise InvalidNetworkError(f"{source}: BatchNorm1d {prefix!r}: tensor {key(missing)!r} is missing")
        return _Norm(prefix, "batch", DEFAULT_EPS, parts.get("weight"), parts.get("bias"),
                     parts["running_mean"], parts["running_var"], size=m)
    unknown = sorted(names - _LINEAR_PARTS)
    if unknown:
        raise InvalidNetworkError(
            f"{source}: unknown key {key(unknown[0])!r} for layout {layout!r} (expected {expected}); "
            f"keys found: {_keys_found_parts(prefix, parts)}"
        )
    if "weight" not in names:
        raise InvalidNetworkError(
            f"{source}: module {prefix!r} has {', '.join(sorted(key(n) for n in names))} but no "
            f"{key('weight')!r} (expected {expected})"
        )
    W = parts["weight"]
    _check_float(W, key("weight"), source)
    if W.ndim == 1:  # LayerNorm with elementwise affine
        extra = sorted(names - {"weight", "bias"})
        if extra:
            raise InvalidNetworkError(
                f"{source}: tensor {key(extra[0])!r} does not fit module {prefix!r}: its 1-D weight makes it a "
                f"LayerNorm (weight, bias), found shape {parts[extra[0]].shape}"
            )
        m = W.shape[0]
        if "bias" in parts:
            _check_float(parts["bias"], key("bias"), source)
            _check_shape(parts["bias"], (m,), key("bias"), source, f"LayerNorm over {m} features")
        return _Norm(prefix, "layer", DEFAULT_EPS, W, parts.get("bias"), size=m)
    if W.ndim != 2:
        raise InvalidNetworkError(
            f"{source}: tensor {key('weight')!r} must be 2-D (out, in) for Linear or 1-D for a norm, "
            f"found shape {W.shape}"
        )
    m, d = W.shape
    if m == 0 or d == 0:
        raise InvalidNetworkError(f"{source}: tensor {key('weight')!r} is empty, shape {W.shape}")
    bias = parts.get("bias")
    if bias is not None:
        _check_float(bias, key("bias"), source)
        _check_shape(bias, (m,), key("bias"), source, f"Linear with weight {W.shape}")
    for n in ("mask", "fixed", "normal_mask", "noise"):
        if n in parts:
            if n != "mask":
                _check_float(parts[n], key(n), source)
            _check_shape(parts[n], (m, d), key(n), source, f"same as {key('weight')!r}")
    if "noise" in names:
        if names & {"mask", "fixed", "normal_mask"}:
            raise InvalidNetworkError(
                f"{source}: module {prefix!r} has 'noise' together with "
                f"{', '.join(sorted(names & {'mask', 'fixed', 'normal_mask'}))}; expected a noise layer "
                "(weight, bias, noise) or a masked layer (mask + fixed or mask + normal_mask)"
            )
        return _Linear(prefix, W, bias, "noise", noise=parts["noise"])
    if "mask" in names:
        mask = _mask01(parts["mask"], key("mask"), source)
        if "fixed" in names and "normal_mask" in names:
            raise InvalidNetworkError(
                f"{source}: module {prefix!r} has both 'fixed' and 'normal_mask'; expected one of them"
            )
        if "fixed" in names:
            return _Linear(prefix, W, bias, "masked", mask=mask, fixed=parts["fixed"])
        if "normal_mask" in names:
            return _Linear(prefix, W, bias, "w-asym", mask=mask, normal_mask=parts["normal_mask"])
        raise InvalidNetworkError(
            f"{source}: masked module {prefix!r} has 'mask' but neither 'fixed' nor 'normal_mask' "
            "(the fixed part of the effective weight)"
        )
    for n in ("fixed", "normal_mask"):
        if n in names:
            raise InvalidNetworkError(f"{source}: module {prefix!r} has {key(n)!r} but no {key('mask')!r}")
    return _Linear(prefix, W, bias, "plain")


def _keys_found_parts(prefix, parts) -> str:
    return ", ".join(f"{prefix}.{n}" for n in sorted(parts))


# ---------------------------------------------------------------------------- options
def _as_list(value, n: int, what: str, flag: str) -> list:
    """One value for all, or exactly ``n`` values."""
    if value is None:
        return [None] * n
    if isinstance(value, (str, int, float)):
        return [value] * n
    values = list(value)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise InvalidOptionError(f"{flag}: expected one {what} or {n} (one per layer), found {len(values)}")
    return values


def _check_norm_option(norm):
    if norm is None:
        return None
    if norm is False or norm == "none" or norm == "":
        return "none"
    if norm not in ("layer", "batch"):
        raise InvalidOptionError(f"norm must be one of {', '.join(NORM_CHOICES)}, found {norm!r}")
    return norm


def read_config(config) -> dict:
    """The ``model`` options of an authors' Hydra config (a YAML path or a dict).

    Returns ``{"activation", "norm", "elementwise_affine", "symmetry", "num_layers",
    "mask_params"}`` (missing entries ``None``).
    """
    if config is None:
        return {}
    source = "config"
    if isinstance(config, (str, Path)):
        source = str(config)
        path = _check_exists(config)
        try:
            import yaml  # optional dependency: only --config needs it
        except ImportError:
            raise FileFormatError(f"{path}: reading a YAML config needs PyYAML (pip install pyyaml)") from None
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FileFormatError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if len(text) > 1 << 20:  # a run config is a few kilobytes; refuse before parsing
            raise FileFormatError(f"{path}: {len(text)} characters is too long for a run config (at most 1048576)")
        try:
            config = yaml.safe_load(text)
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: hostile nesting
            raise FileFormatError(f"{path}: not valid YAML: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
    if not isinstance(config, dict):
        raise FileFormatError(f"{source}: expected a YAML mapping with a 'model' section, found {type(config).__name__}")
    model = config.get("model", config)
    if not isinstance(model, dict):
        raise FileFormatError(f"{source}: 'model' must be a mapping, found {type(model).__name__}")
    mask_params = model.get("mask_params")
    if mask_params is not None and not isinstance(mask_params, dict):
        raise FileFormatError(f"{source}: 'model.mask_params' must be a mapping, found {type(mask_params).__name__}")
    for name, entry in (mask_params or {}).items():
        where = f"model.mask_params.{name}"
        if name != "default" and not re.fullmatch(r"linear_mask_params_\d+", str(name)):
            raise FileFormatError(f"{source}: unknown key {where!r} (expected 'default' or 'linear_mask_params_<i>')")
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise FileFormatError(f"{source}: {where!r} must be a mapping, found {type(entry).__name__}")
        if "mask_constant" in entry:
            c = entry["mask_constant"]
            if isinstance(c, bool) or not isinstance(c, (int, float)) or not np.isfinite(c):
                raise FileFormatError(
                    f"{source}: '{where}.mask_constant' must be a finite number, found {c!r} ({type(c).__name__})"
                )
    affine = model.get("elementwise_affine")
    if affine is not None and not isinstance(affine, bool):
        raise FileFormatError(f"{source}: 'model.elementwise_affine' must be true or false, found {affine!r}")
    if "norm" in model:
        norm = model["norm"] or "none"  # null / false: no normalization (the authors' `if self.norm_type`)
    else:
        norm = "layer" if "symmetry" in model else None  # create_mlp's default norm='layer'
    if isinstance(norm, str):
        norm = norm.strip()
    if norm in ("layer_linear", "batch_linear"):
        raise InvalidNetworkError(f"{source}: model.norm {norm!r} (the authors' linear norm proxy) is not supported")
    if norm not in (None, False, "", "none", "layer", "batch"):
        raise FileFormatError(f"{source}: model.norm must be layer, batch or null, found {norm!r}")
    symmetry = model.get("symmetry")
    if symmetry == 2:
        raise InvalidNetworkError(
            f"{source}: model.symmetry 2 (sigma-asymmetric AsymSwiGLU activations) is not supported by import"
        )
    activation = model.get("activation")
    if not activation and symmetry is not None:  # as the authors' create_mlp defaults it
        activation = "relu" if symmetry == 0 else "gelu"
    return {
        "activation": activation or None,
        "norm": norm,
        "elementwise_affine": affine,
        "symmetry": symmetry,
        "num_layers": model.get("num_layers"),
        "mask_params": mask_params,
        "source": source,
    }


def _config_mask_constant(cfg: dict, i: int, kind: str) -> float | None:
    """Layer ``i``'s mask constant as the authors' ``get_mask_params`` resolves it."""
    mp = cfg.get("mask_params")
    if mp is None:
        return None
    default = mp.get("default")
    layer = mp.get(f"linear_mask_params_{i}") or {}
    if default is None:
        default = {"mask_constant": 1.0}
    merged = {**default, **layer}
    if "mask_constant" in merged:
        return float(merged["mask_constant"])
    # constructor defaults: SparseLinear(mask_constant=0), NoiseLinear(mask_constant=1.0)
    return 0.0 if kind == "w-asym" else 1.0


# ============================================================================ parsing
_SEQ_KEY = re.compile(r"^(?:(?P<prefix>.+)\.)?(?P<index>\d+)\.(?P<part>[A-Za-z_]+)$")
_PAPER_KEY = re.compile(r"^(?P<group>lins|norms)\.(?P<index>\d+)\.(?P<part>[A-Za-z_]+)$")
_SEQ_EXPECTED = ("'<i>.weight|bias' (Linear, LayerNorm), '<i>.running_mean|running_var' (BatchNorm1d), "
                 "'<i>.mask|fixed|normal_mask|noise' (masked Linear)")
_PAPER_EXPECTED = ("'lins.<i>.weight|bias|mask|normal_mask|noise', "
                   "'norms.<i>.weight|bias|running_mean|running_var|num_batches_tracked'")


def _group_sequential(sd: dict, source: str) -> list:
    groups: dict = {}
    prefixes = set()
    for key, value in sd.items():
        match = _SEQ_KEY.match(key)
        if not match:
            raise InvalidNetworkError(
                f"{source}: unknown key {key!r} for layout 'sequential' (expected {_SEQ_EXPECTED}); "
                f"keys found: {_keys_found(sd)}" + ("; for the authors' layout use --layout paper"
                                                    if key.startswith(("lins.", "norms.")) else "")
            )
        prefixes.add(match.group("prefix"))
        groups.setdefault(int(match.group("index")), {})[match.group("part")] = value
    if len(prefixes) > 1:
        raise InvalidNetworkError(
            f"{source}: keys of layout 'sequential' must share one prefix, found {sorted(map(str, prefixes))}; "
            f"keys found: {_keys_found(sd)}" + ("; for the authors' layout use --layout paper"
                                                if "lins" in prefixes else "")
        )
    prefix = prefixes.pop()
    if prefix == "lins":
        raise InvalidNetworkError(
            f"{source}: keys 'lins.<i>.*' are the authors' layout; use --layout paper (layout=\"paper\")"
        )
    name = (lambda i: f"{prefix}.{i}") if prefix else str
    return [(i, name(i), groups[i]) for i in sorted(groups)]


def _check_gaps(indexed: list, source: str) -> None:
    """Refuse index gaps the state dict cannot explain (see :func:`_parse_sequential`)."""
    for (i, a), (j, b) in zip(indexed, indexed[1:]):
        if isinstance(a, _Linear) and isinstance(b, _Linear) and j - i > 2:
            raise InvalidOptionError(
                f"{source}: modules {i + 1}..{j - 1} between Linear {a.name!r} and Linear {b.name!r} have no "
                f"tensors: {j - i - 1} parameter-free modules where one activation is expected; the extra one may "
                "be Dropout/Identity (nothing to import) or a LayerNorm without affine parameters, which a state "
                "dict cannot tell apart: say which with --norm none (dropout) or --norm layer (Python: norm='none'|'layer')"
            )


def _parse_sequential(sd: dict, source: str, norm_opt, gaps_known: bool = False) -> tuple[list, list]:
    """Linear modules and the norm after each hidden one.

    Parameter-free modules leave index gaps: Linear -> Linear 2 apart is Linear,
    activation, Linear. In a state dict without any norm tensors, a wider gap between
    two Linear modules is ambiguous (Dropout, or a LayerNorm without affine
    parameters), so it needs an explicit ``norm`` unless the module list is known (a
    live module, or ``export``'s metadata). Where norm tensors show the network's norm
    (affine LayerNorm, BatchNorm), a wider gap is taken as dropout: a network mixing
    affine and parameter-free norms is not inferred.
    """
    indexed = [(i, _parse_module(name, parts, source, "sequential", _SEQ_EXPECTED))
               for i, name, parts in _group_sequential(sd, source)]
    if norm_opt is None and not gaps_known and not any(isinstance(mod, _Norm) for _, mod in indexed):
        _check_gaps(indexed, source)
    modules = [mod for _, mod in indexed]
    linears, norms = [], []
    for mod in modules:
        if isinstance(mod, _Linear):
            linears.append(mod)
            norms.append(None)
            continue
        if not linears:
            raise InvalidNetworkError(f"{source}: module {mod.name!r} ({mod.kind} norm) comes before the first Linear")
        if norms[-1] is not None:
            raise InvalidNetworkError(f"{source}: two norm modules ({norms[-1].name!r}, {mod.name!r}) after one Linear")
        if mod.size != linears[-1].weight.shape[0]:
            raise InvalidNetworkError(
                f"{source}: norm {mod.name!r} has {mod.size} features but Linear {linears[-1].name!r} has "
                f"{linears[-1].weight.shape[0]} outputs"
            )
        norms[-1] = mod
    if norms and norms[-1] is not None:
        raise InvalidNetworkError(
            f"{source}: the last module {norms[-1].name!r} is a norm; neuronid's output layer is a plain Linear"
        )
    norms = norms[:-1]
    kinds = {n.kind for n in norms if n is not None}
    if norm_opt == "none" and kinds:
        raise InvalidOptionError(f"{source}: --norm none, but the state dict has {'/'.join(sorted(kinds))} norm modules")
    if norm_opt in ("layer", "batch"):
        if kinds - {norm_opt}:
            raise InvalidOptionError(f"{source}: --norm {norm_opt}, but the state dict has {'/'.join(sorted(kinds))} norm modules")
        if not kinds:
            if norm_opt == "batch":
                raise InvalidNetworkError(f"{source}: --norm batch, but the state dict has no running_mean/running_var")
            # parameter-free LayerNorm modules leave no tensors: insert them as told
            norms = [_Norm(None, "layer", DEFAULT_EPS, size=lin.weight.shape[0]) for lin in linears[:-1]]
        elif any(n is None for n in norms):
            missing = [linears[l].name for l, n in enumerate(norms) if n is None]
            raise InvalidNetworkError(f"{source}: --norm {norm_opt}, but Linear {missing[0]!r} has no norm after it")
    return linears, norms


def _parse_paper(sd: dict, source: str, norm_opt, affine) -> tuple[list, list]:
    groups: dict = {"lins": {}, "norms": {}}
    for key, value in sd.items():
        match = _PAPER_KEY.match(key)
        if not match:
            hint = ""
            if re.match(r"^\d+\.", key):
                hint = "; an nn.Sequential state dict: use --layout sequential"
            elif key.startswith("activations."):
                hint = "; 'activations.<i>.C' is the authors' sigma-asymmetric model (symmetry 2), not supported"
            raise InvalidNetworkError(
                f"{source}: unknown key {key!r} for layout 'paper' (expected {_PAPER_EXPECTED}); "
                f"keys found: {_keys_found(sd)}{hint}"
            )
        groups[match.group("group")].setdefault(int(match.group("index")), {})[match.group("part")] = value
    n_lin = len(groups["lins"])
    if n_lin == 0:
        raise InvalidNetworkError(f"{source}: no 'lins.<i>.weight' tensors (layout 'paper'); keys found: {_keys_found(sd)}")
    for group, count in (("lins", n_lin), ("norms", n_lin - 1)):
        idx = sorted(groups[group])
        if groups[group] and idx != list(range(len(idx))):
            missing = sorted(set(range(max(idx) + 1)) - set(idx))
            raise InvalidNetworkError(f"{source}: '{group}.{missing[0]}.*' is missing (found {group} indices {idx})")
        if group == "norms" and groups[group] and len(idx) != count:
            raise InvalidNetworkError(
                f"{source}: {n_lin} linear layers need {count} norms (one per hidden layer), found {len(idx)}"
            )
    linears = []
    for i in range(n_lin):
        mod = _parse_module(f"lins.{i}", groups["lins"][i], source, "paper", _PAPER_EXPECTED)
        if not isinstance(mod, _Linear):
            raise InvalidNetworkError(f"{source}: 'lins.{i}' is a norm module (1-D weight or running statistics), expected Linear")
        if mod.kind == "masked":
            raise InvalidNetworkError(f"{source}: 'lins.{i}.fixed' is not part of the authors' layout (mask + normal_mask)")
        linears.append(mod)
    norms = []
    for i in range(n_lin - 1):
        if i not in groups["norms"]:
            norms.append(None)
            continue
        mod = _parse_module(f"norms.{i}", groups["norms"][i], source, "paper", _PAPER_EXPECTED)
        if isinstance(mod, _Linear):
            raise InvalidNetworkError(f"{source}: 'norms.{i}.weight' is 2-D {mod.weight.shape}; a norm's weight is 1-D")
        norms.append(mod)
    kinds = {n.kind for n in norms if n is not None}
    if kinds:
        if norm_opt == "none":
            raise InvalidOptionError(f"{source}: norm 'none', but the state dict has norms.<i>.* ({'/'.join(sorted(kinds))})")
        if norm_opt in ("layer", "batch") and kinds != {norm_opt}:
            raise InvalidOptionError(f"{source}: norm {norm_opt!r}, but the state dict's norms are {'/'.join(sorted(kinds))}")
    elif n_lin > 1:
        if norm_opt is None:
            raise InvalidOptionError(
                f"{source}: no 'norms.<i>.*' tensors: give --norm none (no normalization) or --norm layer "
                "(LayerNorm without affine parameters), or the run's --config"
            )
        if norm_opt == "batch":
            raise InvalidNetworkError(f"{source}: norm 'batch', but the state dict has no norms.<i>.running_mean")
        if norm_opt == "layer":
            if affine:
                raise InvalidNetworkError(
                    f"{source}: norm 'layer' with elementwise_affine, but 'norms.0.weight' is missing"
                )
            norms = [_Norm(None, "layer", DEFAULT_EPS, size=lin.weight.shape[0]) for lin in linears[:-1]]
    return linears, norms


def _check_chain(linears, source):
    for l in range(1, len(linears)):
        prev, cur = linears[l - 1], linears[l]
        if cur.weight.shape[1] != prev.weight.shape[0]:
            raise InvalidNetworkError(
                f"{source}: {cur.name}.weight has {cur.weight.shape[1]} inputs but {prev.name}.weight has "
                f"{prev.weight.shape[0]} outputs (shapes {prev.weight.shape} then {cur.weight.shape})"
            )


def parse_state_dict(sd: dict, *, layout: str = "sequential", activation=None, norm=None, mask_constant=None,
                     config=None, eps=None, source: str = "<state dict>", modules_meta=None, key: str | None = None,
                     _from_module: bool = False) -> _Parsed:
    """Read a state dict (numpy or torch tensors) into an intermediate :class:`_Parsed`.

    ``_from_module``: the options come from a live module (its module list is known,
    its mask constants are read from it), not from the user.
    """
    if layout not in LAYOUTS:
        raise InvalidOptionError(f"layout must be one of {', '.join(LAYOUTS)}, found {layout!r}")
    if not isinstance(sd, dict) or not sd:
        raise InvalidNetworkError(f"{source}: expected a non-empty state dict (mapping of names to tensors)")
    sd = {str(k): _to_numpy(str(k), v, source) for k, v in _unwrap_checkpoint(sd, source, key).items()}
    cfg = read_config(config)
    norm_opt = _check_norm_option(norm)
    if norm_opt is None:
        norm_opt = cfg.get("norm")
    meta_acts, meta_norm_eps, meta_norm = None, None, None
    notes: list = []
    if modules_meta is not None:
        meta_acts, meta_norm_eps, meta_norm = _activations_from_module_list(modules_meta, source)
        if norm_opt is None:
            norm_opt = meta_norm
    if layout == "sequential":
        linears, norms = _parse_sequential(sd, source, norm_opt, gaps_known=_from_module or modules_meta is not None)
    else:
        affine = cfg.get("elementwise_affine")
        linears, norms = _parse_paper(sd, source, norm_opt, True if affine is None and norm_opt is None else affine)
    _check_chain(linears, source)
    n_hidden = len(linears) - 1
    if cfg.get("num_layers") is not None and cfg["num_layers"] != len(linears):
        raise InvalidNetworkError(
            f"{source}: the config says num_layers {cfg['num_layers']}, the state dict has {len(linears)} linear layers"
        )
    # mask constants
    needs_c = [l for l, lin in enumerate(linears) if lin.kind in ("w-asym", "noise")]
    if mask_constant is not None and not needs_c and not _from_module:
        raise InvalidOptionError(
            f"{source}: --mask-constant given, but no linear layer has a W-asymmetric (normal_mask) or noise "
            "buffer: it would do nothing (drop it)"
        )
    unused = sorted((k for k in (cfg.get("mask_params") or {}) if k.startswith("linear_mask_params_")
                     and int(k.rsplit("_", 1)[1]) >= len(linears)), key=lambda k: int(k.rsplit("_", 1)[1]))
    if unused:
        raise InvalidOptionError(
            f"{cfg['source']}: model.mask_params.{unused[0]} names linear layer {unused[0].rsplit('_', 1)[1]}, but "
            f"the state dict has {len(linears)} linear layers (0..{len(linears) - 1}): it would do nothing"
        )
    flag_c = _as_list(mask_constant, len(linears), "mask constant", "--mask-constant")
    for l in needs_c:
        lin = linears[l]
        c = flag_c[l]
        if c is None:
            c = _config_mask_constant(cfg, l, lin.kind)
        if c is None:
            what = "normal_mask" if lin.kind == "w-asym" else "noise"
            raise InvalidOptionError(
                f"{source}: {lin.name}.{what} needs the mask constant (not stored in a state dict): give "
                "--mask-constant C (one, or one per linear layer) or the run's --config"
            )
        try:
            c = float(c)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"--mask-constant: expected numbers, found {c!r}") from None
        if not np.isfinite(c):
            raise InvalidOptionError(f"--mask-constant: must be finite, found {c}")
        lin.mask_constant = c
    # activations
    acts = activation if activation is not None else cfg.get("activation")
    if acts is None:
        acts = meta_acts
    elif meta_acts is not None and n_hidden:
        given = [parse_activation(str(a)).name for a in _as_list(acts, n_hidden, "activation", "--activation")]
        stored = [parse_activation(str(a)).name for a in _as_list(meta_acts, n_hidden, "activation", "metadata")]
        if given != stored:
            notes.append(f"--activation {','.join(given)} overrides the file's metadata ({','.join(stored)}, as "
                         "exported); the imported network uses the flag")
    if n_hidden and acts is None:
        raise InvalidOptionError(
            f"{source}: a state dict does not store activations; give --activation NAME (one, or one per hidden "
            f"layer: {n_hidden}), e.g. --activation relu" + (" or the run's --config" if layout == "paper" else "")
        )
    acts = _as_list(acts, n_hidden, "activation", "--activation") if n_hidden else []
    acts = [parse_activation(str(a)).name if a not in (None, "") else "identity" for a in acts]
    # eps
    eps_list = _as_list(eps, n_hidden, "eps", "--norm-eps") if n_hidden else []
    for l, n in enumerate(norms):
        if n is None:
            continue
        e = eps_list[l]
        if e is None and meta_norm_eps is not None and l < len(meta_norm_eps) and meta_norm_eps[l] is not None:
            e = meta_norm_eps[l]
        n.eps = DEFAULT_EPS if e is None else float(e)
        if not (np.isfinite(n.eps) and n.eps >= 0):
            raise InvalidOptionError(f"--norm-eps: must be a finite number >= 0, found {n.eps}")
    return _Parsed(layout, linears, norms, acts, notes)


def build_network(parsed: _Parsed, *, source: str = "<state dict>") -> Network:
    layers = []
    for l, lin in enumerate(parsed.linears):
        mask, fixed = lin.effective()
        hidden = l < len(parsed.linears) - 1
        nm = parsed.norms[l] if hidden else None
        norm = None if nm is None else nm.to_norm(f"{source}: {nm.name or f'norm after {lin.name}'}")
        layers.append(Layer(lin.weight, lin.bias, mask, fixed, parsed.activations[l] if hidden else None,
                            norm=norm, where=f"{source}: {lin.name}"))
    return Network(layers)


# ============================================================================ torch side
_TORCH_ACTIVATIONS = {
    # torch module class -> (neuronid name builder from the module)
    "ReLU": lambda m: "relu",
    "GELU": lambda m: "gelu" if getattr(m, "approximate", "none") == "none" else None,
    "Tanh": lambda m: "tanh",
    "Sigmoid": lambda m: "sigmoid",
    "SiLU": lambda m: "silu",
    "Identity": lambda m: "identity",
    "ELU": lambda m: "elu" if float(m.alpha) == 1.0 else f"elu:{float(m.alpha)!r}",
    "LeakyReLU": lambda m: "leaky_relu" if float(m.negative_slope) == 0.01 else f"leaky_relu:{float(m.negative_slope)!r}",
    "Softplus": lambda m: "softplus" if float(m.beta) == 1.0 else None,
    "Hardtanh": lambda m: "hard_tanh" if (float(m.min_val), float(m.max_val)) == (-1.0, 1.0) else None,
}
_IGNORED_MODULES = ("Dropout", "Flatten", "AlphaDropout")


def _torch_activation_repr(name: str) -> str:
    act = parse_activation(name)
    base, _, arg = act.name.partition(":")
    table = {"relu": "ReLU()", "gelu": "GELU(approximate='none')", "tanh": "Tanh()", "sigmoid": "Sigmoid()",
             "silu": "SiLU()", "identity": "Identity()", "softplus": "Softplus(beta=1.0, threshold=20.0)",
             "hard_tanh": "Hardtanh(min_val=-1.0, max_val=1.0)"}
    if base == "elu":
        return f"ELU(alpha={act.param!r})"
    if base == "leaky_relu":
        return f"LeakyReLU(negative_slope={act.param!r})"
    return table.get(base, f"<{act.name}>")


def _torch_activation(name: str):
    import torch.nn as nn  # optional dependency (to_torch and the self-check only)

    act = parse_activation(name)
    base = act.name.partition(":")[0]
    table = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU,
             "identity": nn.Identity, "softplus": nn.Softplus, "hard_tanh": nn.Hardtanh}
    if base == "elu":
        return nn.ELU(alpha=act.param)
    if base == "leaky_relu":
        return nn.LeakyReLU(negative_slope=act.param)
    if base not in table:
        raise InvalidNetworkError(f"activation {act.name!r} has no torch module (only catalogue activations do)")
    return table[base]()


def _activations_from_module_list(modules, source: str):
    """Activations and norm eps from an exported module list (``export``'s metadata)."""
    if isinstance(modules, str):
        try:
            modules = json.loads(modules)
        except json.JSONDecodeError:
            raise FileFormatError(f"{source}: metadata {MODULES_KEY!r} is not valid JSON") from None
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise FileFormatError(f"{source}: metadata {MODULES_KEY!r} must be a list of module objects")
    acts, eps, kinds = [], [], set()
    for m in modules:
        kind = m.get("type")
        if kind in ("LayerNorm", "BatchNorm1d"):
            kinds.add("layer" if kind == "LayerNorm" else "batch")
            eps.append(m.get("eps"))
        elif kind == "activation":
            acts.append(m.get("name"))
            if len(eps) < len(acts):
                eps.append(None)
    norm = kinds.pop() if len(kinds) == 1 else ("none" if not kinds else None)
    return (acts or None), eps, norm


def _ref_linear_class():
    """A torch module with the buffers of the masked/noise linear layers (the reference
    the self-check loads the *source* tensors into, with ``strict=True``)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class _RefLinear(nn.Module):
        def __init__(self, lin: _Linear):
            super().__init__()
            m, d = lin.weight.shape
            self.kind, self.c = lin.kind, lin.mask_constant
            self.weight = nn.Parameter(torch.zeros(m, d, dtype=torch.float64))
            self.bias = nn.Parameter(torch.zeros(m, dtype=torch.float64)) if lin.bias is not None else None
            for name in {"masked": ("mask", "fixed"), "w-asym": ("mask", "normal_mask"), "noise": ("noise",),
                         "plain": ()}[lin.kind]:
                self.register_buffer(name, torch.zeros(m, d, dtype=torch.float64))

        def effective_weight(self):
            # the formulas of the layouts (module docstring), written independently of
            # _Linear.effective on purpose: the self-check compares the two
            if self.kind == "masked":
                return self.weight * self.mask + self.fixed
            if self.kind == "w-asym":
                return self.weight * self.mask + (1 - self.mask) * self.c * self.normal_mask
            if self.kind == "noise":
                return self.weight + self.c * self.noise
            return self.weight

        def forward(self, x):
            return F.linear(x, self.effective_weight(), self.bias)

    return _RefLinear


def _ref_norm(norm: _Norm):
    import torch
    import torch.nn as nn

    if norm.kind == "batch":
        mod = nn.BatchNorm1d(norm.size, eps=norm.eps, affine=norm.weight is not None, dtype=torch.float64)
    else:
        mod = nn.LayerNorm(norm.size, eps=norm.eps, elementwise_affine=norm.weight is not None,
                           bias=norm.bias is not None or norm.weight is None, dtype=torch.float64)
    return mod.eval()


def _reference_module(parsed: _Parsed, sd: dict):
    """A torch module that computes the source network from the *original* tensors."""
    import torch
    import torch.nn as nn

    RefLinear = _ref_linear_class()
    if parsed.layout == "sequential":
        # keys "net.0.weight": the Sequential sits at attribute path "net" (nested wrappers)
        prefix = parsed.linears[0].name.rpartition(".")[0]
        local = (lambda name: name.rpartition(".")[2]) if prefix else (lambda name: name)  # noqa: E731
        mods = OrderedDict()
        for l, lin in enumerate(parsed.linears):
            mods[local(lin.name)] = RefLinear(lin)
            if l < len(parsed.linears) - 1:
                norm = parsed.norms[l]
                if norm is not None:
                    mods[local(norm.name) if norm.name is not None else f"norm_{l}"] = _ref_norm(norm)
                mods[f"act_{l}"] = _torch_activation(parsed.activations[l])
        module = nn.Sequential(mods)
        for part in reversed(prefix.split(".") if prefix else []):
            module = _wrapper(part, module)
    else:
        module = _paper_module(parsed, RefLinear)
    state = {k: torch.as_tensor(np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f" else np.asarray(v))
             for k, v in sd.items()}
    state = {k: (v.double() if v.is_floating_point() else v) for k, v in state.items()}
    own = module.state_dict()
    for key in list(state):
        if key.endswith("num_batches_tracked") and key in own:
            state[key] = state[key].to(own[key].dtype)
        if key in own and own[key].dtype == torch.float64 and not state[key].is_floating_point():
            state[key] = state[key].double()  # integer / bool masks
    module.load_state_dict(state, strict=True)
    return module.eval()


def _wrapper(name: str, child):
    """A module whose only submodule ``name`` is ``child`` (forward passes through)."""
    import torch.nn as nn

    class _Wrap(nn.Module):
        def forward(self, x):
            return getattr(self, name)(x)

    wrap = _Wrap()
    wrap.add_module(name, child)
    return wrap


def _paper_module(parsed: _Parsed, RefLinear):
    import torch.nn as nn
    import torch.nn.functional as F

    acts = {"relu": F.relu, "gelu": F.gelu, "identity": lambda x: x}

    class _PaperMLP(nn.Module):
        """The forward of the authors' MLP / WMLP / NoiseMLP (src/models/mlp.py)."""

        def __init__(self):
            super().__init__()
            self.lins = nn.ModuleList([RefLinear(lin) for lin in parsed.linears])
            self.norms = nn.ModuleList([_ref_norm(n) for n in parsed.norms if n is not None])
            self.has_norm = bool(len(self.norms))
            self.acts = [acts.get(a) or _torch_activation(a) for a in parsed.activations]

        def forward(self, x):
            x = x.view(x.size(0), -1)
            for i in range(len(self.lins) - 1):
                x = self.lins[i](x)
                if self.has_norm:
                    x = self.norms[i](x)
                x = self.acts[i](x)
            return self.lins[-1](x)

    return _PaperMLP()


def self_check(net: Network, module, parsed: _Parsed, *, n: int = 64, seed: int = 0, rtol: float = CHECK_RTOL) -> dict:
    """Compare ``net`` with a torch ``module`` module by module on random inputs (float64).

    ``module`` must have submodules named as the parsed linear and norm layers (true
    for the user's own module and for the reference module). Raises
    :class:`ConversionCheckError` naming the first module whose output differs by
    more than ``rtol`` relative to its magnitude; returns ``{"max_relative_difference",
    "n_inputs", "seed"}``.
    """
    import torch

    module = copy.deepcopy(module).double().eval()
    named = dict(module.named_modules())
    X = np.random.default_rng(seed).standard_normal((n, net.n_inputs))
    captured: dict = {}
    hooks = []

    def hook(name):
        def fn(mod, inputs, output):
            captured[name] = (inputs[0].detach().numpy().copy(), output.detach().numpy().copy())
        return fn

    norm_names = [None if nm is None else nm.name for nm in parsed.norms]
    for lin in parsed.linears:
        if lin.name in named:
            hooks.append(named[lin.name].register_forward_hook(hook(lin.name)))
    for name in norm_names:
        if name is not None and name in named:
            hooks.append(named[name].register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            out_t = module(torch.as_tensor(X, dtype=torch.float64)).numpy()
    finally:
        for h in hooks:
            h.remove()
    trace = net.forward(X, record=True)
    worst = 0.0

    def compare(what, ours, theirs):
        nonlocal worst
        ours, theirs = np.asarray(ours), np.asarray(theirs).reshape(np.asarray(ours).shape)
        scale = max(float(np.max(np.abs(theirs))), 1e-300)
        rel = float(np.max(np.abs(ours - theirs))) / scale
        worst = max(worst, rel)
        if not rel <= rtol:
            raise ConversionCheckError(
                f"import self-check failed at {what}: the imported network's output differs from torch's by "
                f"{rel:.3g} relative (tolerance {rtol:g}, float64, {n} random inputs)"
            )

    normed = getattr(trace, "normed", None)
    for l, lin in enumerate(parsed.linears):
        if lin.name in captured:
            x_in, z = captured[lin.name]
            if l > 0:
                compare(f"the activation after {parsed.linears[l - 1].name} ({parsed.activations[l - 1]})",
                        trace.inputs[l], x_in)
            compare(f"{lin.name} (Linear)", trace.pre[l], z)
        if l < len(parsed.norms) and norm_names[l] is not None and norm_names[l] in captured:
            compare(f"{norm_names[l]} ({parsed.norms[l].kind} norm)", normed[l], captured[norm_names[l]][1])
    compare("the network output", trace.output, out_t)
    return {"max_relative_difference": worst, "n_inputs": n, "seed": seed, "rtol": rtol}


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401 - optional dependency probe
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------- modules in
def _warn_bn_training(name: str) -> None:
    warnings.warn(
        f"module {name!r}: BatchNorm1d is in training mode; the import uses its running statistics, as in "
        "eval mode (call model.eval() first to silence this)", UserWarning, stacklevel=4)


def _module_info(module, layout: str):
    """State dict and the options a live module knows (activations, eps, mask constants)."""
    import torch.nn as nn

    sd = module.state_dict()
    info: dict = {"activation": None, "norm": None, "eps": None, "mask_constant": None}
    if layout == "sequential":
        if not isinstance(module, nn.Sequential):
            raise InvalidOptionError(
                f"layout 'sequential' needs an nn.Sequential, found {type(module).__name__}; "
                "for the authors' MLP classes use layout='paper'"
            )
        acts, eps, consts, has_linear = [], [], [], False
        pending_norm = None
        prev, prev_name = None, None  # the last Linear / norm / activation module: "linear", "norm", "act"
        for name, child in module.named_children():
            cls = type(child).__name__
            has_params = any(True for _ in child.parameters(recurse=False)) or any(
                True for _ in child.buffers(recurse=False))
            if cls in _TORCH_ACTIVATIONS:
                if prev not in ("linear", "norm"):
                    where = ("before the first Linear" if prev is None
                             else f"right after the activation {prev_name!r}")
                    raise InvalidNetworkError(
                        f"module {name!r}: {cls} comes {where}; an MLP applies one activation after each hidden "
                        "Linear (and its norm)")
                act = _TORCH_ACTIVATIONS[cls](child)
                if act is None:
                    raise InvalidNetworkError(f"module {name!r}: {child!r} has no neuronid equivalent")
                acts.append(act)
                eps.append(pending_norm)
                pending_norm = None
                prev, prev_name = "act", name
            elif cls in _IGNORED_MODULES:
                if cls == "Flatten" and has_linear:
                    raise InvalidNetworkError(f"module {name!r}: Flatten after a Linear is not an MLP")
            elif isinstance(child, nn.LayerNorm):
                if len(child.normalized_shape) != 1:
                    raise InvalidNetworkError(f"module {name!r}: LayerNorm over {tuple(child.normalized_shape)}; only 1-D")
                pending_norm = child.eps
                prev, prev_name = "norm", name
                if not has_params:
                    raise InvalidNetworkError(
                        f"module {name!r}: LayerNorm without affine parameters inside nn.Sequential: import its "
                        "state dict with --norm layer"
                    )
            elif isinstance(child, nn.BatchNorm1d):
                if not child.track_running_stats or child.running_mean is None:
                    raise InvalidNetworkError(f"module {name!r}: BatchNorm1d without running statistics cannot run in eval mode")
                pending_norm = child.eps
                prev, prev_name = "norm", name
                if child.training:
                    _warn_bn_training(name)
            elif isinstance(child, nn.Linear) or ("weight" in dict(child.named_parameters(recurse=False))
                                                  and not type(child).__module__.startswith("torch.")):
                # a user's masked linear class; torch's own weighted modules (Conv1d, Embedding ...) are not Linear
                has_linear = True
                prev, prev_name = "linear", name
                consts.append(getattr(child, "mask_constant", None))
            else:
                raise InvalidNetworkError(
                    f"module {name!r}: {cls} is not supported (only Linear, LayerNorm, BatchNorm1d, activations, "
                    "Dropout, Flatten)"
                )
        if prev == "act":
            raise InvalidNetworkError(
                f"module {prev_name!r}: the module list ends with an activation after its last Linear; the output "
                "layer of an MLP is linear (remove the activation, or add the output Linear)")
        info.update(activation=acts or None, eps=eps or None,
                    mask_constant=consts if any(c is not None for c in consts) else None)
    else:
        lins = getattr(module, "lins", None)
        if lins is None:
            raise InvalidOptionError(f"layout 'paper' needs the authors' MLP (attribute 'lins'), found {type(module).__name__}")
        act = getattr(module, "activation", None)
        info["activation"] = act if isinstance(act, str) else None
        if info["activation"] is None and not act and hasattr(module, "activation"):
            info["activation"] = "identity"
        norm_type = getattr(module, "norm_type", None)
        info["norm"] = norm_type if norm_type in ("layer", "batch") else ("none" if not norm_type else norm_type)
        norms = getattr(module, "norms", [])
        info["eps"] = [float(n.eps) for n in norms] or None
        for i, n in enumerate(norms):
            if isinstance(n, nn.BatchNorm1d) and n.training:
                _warn_bn_training(f"norms.{i}")
        consts = [getattr(lin, "mask_constant", None) for lin in lins]
        info["mask_constant"] = consts if any(c is not None for c in consts) else None
    return sd, info


# ============================================================================ public API
def from_torch(module_or_state_dict, *, layout: str = "sequential", activation=None, norm=None, mask_constant=None,
               config=None, eps=None, check: bool = True, source: str | None = None, report: dict | None = None,
               key: str | None = None) -> Network:
    """An ``nn.Module``, a state dict, or a state dict file -> :class:`Network`.

    Parameters
    ----------
    module_or_state_dict : ``nn.Sequential`` / the authors' MLP module, a mapping of
        names to tensors (torch or numpy), or a path (``.pt``, ``.pth``,
        ``.safetensors``, ``.npz``).
    layout : ``"sequential"`` or ``"paper"`` (module docstring).
    activation : a name, or one per hidden layer (required for state dicts unless
        ``config`` or an exported module list gives them).
    norm : ``"none"``, ``"layer"`` or ``"batch"``; needed only where the state dict
        cannot show it (LayerNorm without affine parameters has no tensors). A
        sequential state dict with more than one tensor-free module between two
        Linear modules (Dropout, or such a LayerNorm) is refused unless ``norm`` is
        given (``"none"``: dropout; ``"layer"``: parameter-free LayerNorm).
    mask_constant : the W-asymmetric / noise constant ``c`` (one, or one per linear
        layer); overrides ``config``.
    config : the authors' Hydra YAML (path or dict): ``model.activation``,
        ``model.norm``, ``model.mask_params``. Explicit arguments override it.
    eps : norm eps (default torch's 1e-5; read from modules when given one).
    check : compare with torch on random inputs (when torch is installed). For a
        state dict the reference is a torch module built from the *same*
        interpretation (layout, activations, norms), so the check verifies the
        conversion of the tensors, not that interpretation; a live module is itself
        the reference.
    report : optional dict filled with ``modules``, ``self_check`` (or the reason it
        was skipped; ``self_check["reference"]`` is ``"module"`` or
        ``"interpretation"``), ``mask_constants`` and ``notes``.
    key : which state dict of a checkpoint holding several (``{"model": ...,
        "ema": ...}``); not needed when there is one.

    A BatchNorm1d module in training mode is imported with its running statistics
    (as in eval mode) and a ``UserWarning`` says so.
    """
    meta = None
    if isinstance(module_or_state_dict, (str, Path)):
        source = source or str(module_or_state_dict)
        sd, file_meta = read_state_dict(module_or_state_dict, key=key)
        key = None  # read_state_dict unwrapped it
        meta = file_meta.get(MODULES_KEY)
        user_module = None
    elif isinstance(module_or_state_dict, dict):
        sd, user_module = module_or_state_dict, None
        source = source or "<state dict>"
    elif hasattr(module_or_state_dict, "state_dict") and hasattr(module_or_state_dict, "named_modules"):
        user_module = module_or_state_dict
        source = source or type(user_module).__name__
        sd, info = _module_info(user_module, layout)
        activation = activation if activation is not None else info["activation"]
        norm = norm if norm is not None else info["norm"]
        eps = eps if eps is not None else info["eps"]
        mask_constant = mask_constant if mask_constant is not None else info["mask_constant"]
    else:
        raise InvalidOptionError(
            f"from_torch: expected an nn.Module, a state dict or a file path, found {type(module_or_state_dict).__name__}"
        )
    parsed = parse_state_dict(sd, layout=layout, activation=activation, norm=norm, mask_constant=mask_constant,
                              config=config, eps=eps, source=source, modules_meta=meta, key=key,
                              _from_module=user_module is not None)
    net = build_network(parsed, source=source)
    if report is not None:
        report["modules"] = parsed.describe()
        report["mask_constants"] = {lin.name: lin.mask_constant for lin in parsed.linears
                                    if lin.mask_constant is not None}
        report["notes"] = list(parsed.notes)
    no_module = [a for a in parsed.activations if parse_activation(a).code < 0]
    if check and no_module and user_module is None:
        check = False
        if report is not None:
            report["self_check"] = None
            report["self_check_reason"] = f"activation {no_module[0]!r} has no torch module to compare with"
    if check:
        if _torch_available():
            sd_np = {str(k): _to_numpy(str(k), v, source) for k, v in _unwrap_checkpoint(sd, source, key).items()}
            reference = user_module if user_module is not None else _reference_module(parsed, sd_np)
            result = self_check(net, reference, parsed)
            result["reference"] = "module" if user_module is not None else "interpretation"
            if report is not None:
                report["self_check"] = result
        elif report is not None:
            report["self_check"] = None
            report["self_check_reason"] = "torch is not installed"
    return net


def torch_modules(net: Network) -> list[dict]:
    """The module list of ``to_torch(net)`` as plain data (export metadata)."""
    out = []
    for l, layer in enumerate(net.layers):
        m, d = layer.shape
        out.append({"type": "Linear", "in_features": int(d), "out_features": int(m)})
        if layer.is_output:
            break
        norm = getattr(layer, "norm", None)
        if norm is not None:
            if norm.kind == "batch":
                out.append({"type": "BatchNorm1d", "num_features": int(m), "eps": float(norm.eps)})
            else:
                out.append({"type": "LayerNorm", "normalized_shape": int(m), "eps": float(norm.eps),
                            "elementwise_affine": norm.weight is not None})
        if isinstance(layer.activation, list):
            raise InvalidNetworkError(
                f"layer {l}: per-neuron (sigma-asymmetric) activations have no torch module; to_torch/export "
                "cover networks with one activation per layer"
            )
        _torch_activation(layer.activation) if _torch_available() else parse_activation(layer.activation)
        if parse_activation(layer.activation).code < 0:
            raise InvalidNetworkError(f"layer {l}: activation {layer.activation!r} has no torch module")
        out.append({"type": "activation", "name": layer.activation, "module": _torch_activation_repr(layer.activation)})
    return out


def module_list_text(modules: list[dict]) -> list[str]:
    """``["(0) Linear(784, 512)", "(1) LayerNorm(512, eps=1e-05)", ...]``."""
    lines = []
    for i, m in enumerate(modules):
        if m["type"] == "Linear":
            text = f"Linear(in_features={m['in_features']}, out_features={m['out_features']}, bias=True)"
        elif m["type"] == "LayerNorm":
            text = f"LayerNorm(({m['normalized_shape']},), eps={m['eps']:g}, elementwise_affine={m['elementwise_affine']})"
        elif m["type"] == "BatchNorm1d":
            text = f"BatchNorm1d({m['num_features']}, eps={m['eps']:g})"
        else:
            text = m["module"]
        lines.append(f"({i}) {text}")
    return lines


def torch_state_dict(net: Network) -> "OrderedDict[str, np.ndarray]":
    """The state dict of ``to_torch(net)`` as float64 numpy arrays (no torch needed).

    Masks and fixed parts are baked into the effective weights.
    """
    torch_modules(net)  # validates that every module has a torch equivalent
    sd: OrderedDict = OrderedDict()
    i = 0
    for layer in net.layers:
        sd[f"{i}.weight"] = np.ascontiguousarray(layer.effective_weight())
        sd[f"{i}.bias"] = np.ascontiguousarray(layer.bias)
        i += 1
        if layer.is_output:
            break
        norm = getattr(layer, "norm", None)
        if norm is not None:
            if norm.weight is not None:
                sd[f"{i}.weight"] = np.ascontiguousarray(norm.weight)
                sd[f"{i}.bias"] = np.ascontiguousarray(norm.bias if norm.bias is not None else np.zeros(norm.weight.size))
            if norm.kind == "batch":
                sd[f"{i}.running_mean"] = np.ascontiguousarray(norm.running_mean)
                sd[f"{i}.running_var"] = np.ascontiguousarray(norm.running_var)
            i += 1
        i += 1  # the activation module
    return sd


def to_torch(net: Network, *, dtype=None):
    """``nn.Sequential`` of ``Linear`` / ``LayerNorm`` / ``BatchNorm1d`` (eval mode) /
    activation modules computing ``net`` (masks baked into effective weights).

    The module is **float64** by default (``dtype=None`` means ``torch.float64``), so
    its forward equals neuronid's to rounding; feed it float64 inputs
    (``torch.as_tensor(X, dtype=torch.float64)``) or pass ``dtype=torch.float32``
    for a float32 module (then outputs agree only to float32 rounding).
    """
    import torch  # optional dependency: only the converter needs it
    import torch.nn as nn

    if not isinstance(net, Network):
        raise InvalidOptionError(
            f"to_torch: expected a neuronid Network, found {type(net).__name__} "
            "(load a network file with load_network first)")
    dtype = torch.float64 if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise InvalidOptionError(f"to_torch: dtype must be torch.float32 or torch.float64, found {dtype!r}")
    modules = torch_modules(net)
    mods = []
    for m in modules:
        if m["type"] == "Linear":
            mods.append(nn.Linear(m["in_features"], m["out_features"], dtype=dtype))
        elif m["type"] == "LayerNorm":
            mods.append(nn.LayerNorm(m["normalized_shape"], eps=m["eps"], elementwise_affine=m["elementwise_affine"],
                                     dtype=dtype))
        elif m["type"] == "BatchNorm1d":
            mods.append(nn.BatchNorm1d(m["num_features"], eps=m["eps"], dtype=dtype))
        else:
            mods.append(_torch_activation(m["name"]))
    seq = nn.Sequential(*mods)
    state = {k: torch.as_tensor(v, dtype=dtype) for k, v in torch_state_dict(net).items()}
    own = seq.state_dict()
    for key, value in own.items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
    seq.load_state_dict(state, strict=True)
    return seq.eval()
