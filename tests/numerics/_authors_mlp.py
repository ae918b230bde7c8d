"""The paper authors' MLP classes, trimmed to what the state-dict layout depends on.

Copied from ``vuenc/neuron-identifiability`` (commit c92eb82), ``src/models/mlp.py``
(``SparseLinear``, ``NoiseLinear``, ``MLP``, ``WMLP``, ``NoiseMLP``) and
``src/models/normalization.py`` / ``src/models/activation.py``
(``setup_normalization``, ``setup_activation``); registry decorators, prints and the
``layer_linear`` proxies removed, code otherwise unchanged. Used by the tests as the
"trained by someone else" models whose state dicts ``neuronid import --layout paper``
must read.

MIT License, Copyright (c) 2026 Vincent Bürgin, Daniel Herbst, Ya-Wei Eileen Lin,
Stefanie Jegelka.
"""

import math
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F


def setup_normalization(norm, hidden_dim, affine=True):
    if not norm:
        return None
    if norm == 'layer':
        return lambda hidden_dim: nn.LayerNorm(hidden_dim, elementwise_affine=affine)
    if norm == 'batch':
        return lambda hidden_dim: nn.BatchNorm1d(hidden_dim, affine=affine)
    raise ValueError(f"Bad norm type: {norm}")


def setup_activation(activation):
    if not activation:
        return None
    if activation == 'relu':
        return F.relu
    if activation == 'gelu':
        return F.gelu
    if activation == 'identity':
        return lambda x: x
    raise ValueError(f"Bad activation type: {activation}")


class SparseLinear(nn.Module):
    def __init__(self, in_dim, out_dim, mask_rng: torch.Generator, mask_constant=0, mask_type='random_subsets',
                 do_normal_mask=True, num_fixed=6, bias=True, mask_num=0):
        super().__init__()
        mask = self._make_mask(in_dim, out_dim, mask_type, num_fixed, mask_rng)
        self.register_buffer('mask', mask, persistent=True)
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_dim))
        else:
            self.register_parameter('bias', None)
        self.weight.register_hook(lambda grad: self.mask * grad)
        if do_normal_mask:
            normal_mask = torch.randn(out_dim, in_dim, generator=mask_rng)
            self.register_buffer('normal_mask', normal_mask, persistent=True)
        else:
            self.register_buffer('normal_mask', torch.ones_like(mask), persistent=True)
        self.mask_num = mask_num
        self.mask_constant = mask_constant
        self.reset_parameters()

    def _make_mask(self, in_dim, out_dim, mask_type, num_fixed, mask_rng: torch.Generator):
        if mask_type == 'random_subsets':
            mask = torch.ones(out_dim, in_dim)
            if num_fixed >= in_dim:
                raise ValueError('too many fixed parameters')
            for row_idx in range(out_dim):
                zeros_in_row = torch.randperm(in_dim, generator=mask_rng)[:num_fixed]
                mask[row_idx, zeros_in_row] = 0
            return mask
        raise ValueError('Invalid mask type')

    def reset_parameters(self):
        with torch.no_grad():
            d_in = self.weight.size(1)
            nn.init.normal_(self.weight, mean=0.0, std=1.0 / math.sqrt(d_in))
            self.weight.mul_(self.mask).add_((1 - self.mask) * self.mask_constant * self.normal_mask)
            if self.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(self.bias, -bound, bound)

    def effective_weight(self):
        return self.weight * self.mask.detach() + (1 - self.mask.detach()) * self.mask_constant * self.normal_mask

    def forward(self, x):
        return F.linear(x, self.effective_weight(), self.bias)


class NoiseLinear(nn.Module):
    def __init__(self, in_dim, out_dim, mask_rng: torch.Generator, mask_constant=1.0, **kwargs):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias = nn.Parameter(torch.empty(out_dim))
        noise = torch.randn(out_dim, in_dim, generator=mask_rng)
        self.register_buffer('noise', noise, persistent=True)
        self.mask_constant = mask_constant
        self.reset_parameters()

    def reset_parameters(self):
        with torch.no_grad():
            d_in = self.weight.size(1)
            nn.init.normal_(self.weight, mean=0.0, std=1.0 / math.sqrt(d_in))
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    def effective_weight(self):
        return self.weight + self.mask_constant * self.noise

    def forward(self, x):
        return F.linear(x, self.effective_weight(), self.bias)


class _Base(nn.Module):
    def forward(self, x):
        x = x.view(x.size(0), -1)
        for i in range(len(self.lins) - 1):
            x = self.lins[i](x)
            if self.norm_type:
                x = self.norms[i](x)
            if self.activation_func:
                x = self.activation_func(x)
        x = self.lins[-1](x)
        return x


class MLP(_Base):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, norm='layer', mask_params=None,
                 elementwise_affine=True, activation='relu'):
        super().__init__()
        self.num_layers, self.activation = num_layers, activation
        self.lins, self.norms = nn.ModuleList(), nn.ModuleList()
        self.norm_type = norm
        self.norm = setup_normalization(norm, hidden_dim, elementwise_affine)
        self.activation_func = setup_activation(activation)
        self.lins.append(nn.Linear(input_dim, hidden_dim))
        for i in range(num_layers - 2):
            self.lins.append(nn.Linear(hidden_dim, hidden_dim))
        self.lins.append(nn.Linear(hidden_dim, output_dim))
        if self.norm_type in ('layer', 'batch'):
            for i in range(num_layers - 1):
                self.norms.append(self.norm(hidden_dim))


def _get_mask_params(mask_params, layer_idx, fallback):
    default_params = mask_params.get('default', None)
    if default_params is None:
        default_params = fallback
    layer_key = f'linear_mask_params_{layer_idx}'
    if layer_key in mask_params:
        return {**default_params, **mask_params[layer_key]}
    return default_params


class WMLP(_Base):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, mask_params: Dict, norm='layer',
                 elementwise_affine=True, activation='gelu', mask_seed=None):
        super().__init__()
        self.num_layers, self.activation = num_layers, activation
        self.lins, self.norms = nn.ModuleList(), nn.ModuleList()
        self.norm_type = norm
        self.norm = setup_normalization(norm, hidden_dim, elementwise_affine)
        self.activation_func = setup_activation(activation)
        fallback = {'mask_constant': 1.0, 'mask_type': 'random_subsets', 'do_normal_mask': True, 'num_fixed': 64}
        mask_rng = torch.Generator()
        if mask_seed is not None:
            mask_rng.manual_seed(mask_seed)
        p = lambda i: _get_mask_params(mask_params, i, fallback)  # noqa: E731
        self.lins.append(SparseLinear(input_dim, hidden_dim, mask_num=0, **p(0), mask_rng=mask_rng))
        for i in range(num_layers - 2):
            self.lins.append(SparseLinear(hidden_dim, hidden_dim, mask_num=i + 1, **p(i + 1), mask_rng=mask_rng))
        self.lins.append(SparseLinear(hidden_dim, output_dim, mask_num=num_layers - 1, **p(num_layers - 1),
                                      mask_rng=mask_rng))
        if self.norm_type in ('layer', 'batch'):
            for i in range(num_layers - 1):
                self.norms.append(self.norm(hidden_dim))


class NoiseMLP(_Base):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, mask_params: Dict, norm='layer',
                 elementwise_affine=True, activation='gelu', mask_seed=None):
        super().__init__()
        self.num_layers, self.activation = num_layers, activation
        self.lins, self.norms = nn.ModuleList(), nn.ModuleList()
        self.norm_type = norm
        self.norm = setup_normalization(norm, hidden_dim, elementwise_affine)
        self.activation_func = setup_activation(activation)
        mask_rng = torch.Generator()
        if mask_seed is not None:
            mask_rng.manual_seed(mask_seed)
        p = lambda i: _get_mask_params(mask_params, i, {'mask_constant': 1.0})  # noqa: E731
        self.lins.append(NoiseLinear(input_dim, hidden_dim, **p(0), mask_rng=mask_rng))
        for i in range(num_layers - 2):
            self.lins.append(NoiseLinear(hidden_dim, hidden_dim, **p(i + 1), mask_rng=mask_rng))
        self.lins.append(NoiseLinear(hidden_dim, output_dim, **p(num_layers - 1), mask_rng=mask_rng))
        if self.norm_type in ('layer', 'batch'):
            for i in range(num_layers - 1):
                self.norms.append(self.norm(hidden_dim))
