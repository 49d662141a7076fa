"""Radial building blocks shared by the models: smooth cutoff and radial bases."""

from __future__ import annotations

import math

import torch


class CosineCutoff(torch.nn.Module):
    """f_c(r) = (cos(pi r / r_c) + 1) / 2 for r < r_c, else 0 (value and slope vanish at r_c)."""

    def __init__(self, cutoff: float):
        super().__init__()
        self.cutoff = float(cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        fc = 0.5 * (torch.cos(r * (math.pi / self.cutoff)) + 1.0)
        return torch.where(r < self.cutoff, fc, torch.zeros_like(r))


class GaussianBasis(torch.nn.Module):
    """n Gaussians exp(-(r - mu_k)^2 / (2 w^2)), centres evenly spaced on [r_min, r_c], times f_c(r)."""

    def __init__(self, cutoff: float, n_basis: int = 8, r_min: float = 0.5):
        super().__init__()
        centres = torch.linspace(r_min, cutoff, n_basis, dtype=torch.float64)
        self.register_buffer("centres", centres)
        self.width = float((cutoff - r_min) / max(n_basis - 1, 1))
        self.fcut = CosineCutoff(cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        d = r[:, None] - self.centres[None, :]
        return torch.exp(-0.5 * (d / self.width) ** 2) * self.fcut(r)[:, None]


class SmoothCutoff(torch.nn.Module):
    """f_c(r) = ((cos(pi r / r_c) + 1) / 2)^2 for r < r_c, else 0: value, slope and curvature vanish
    at r_c (the EANN cutoff; smooth enough for APTs = dM/dr trained through their derivatives)."""

    def __init__(self, cutoff: float):
        super().__init__()
        self.cutoff = float(cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        fc = 0.5 * (torch.cos(r * (math.pi / self.cutoff)) + 1.0)
        return torch.where(r < self.cutoff, fc * fc, torch.zeros_like(r))


class BesselBasis(torch.nn.Module):
    """sqrt(2/r_c) sin(n pi r / r_c) / r, n = 1..n_basis (NequIP's radial basis; the cutoff is applied apart)."""

    def __init__(self, cutoff: float, n_basis: int = 8):
        super().__init__()
        self.cutoff = float(cutoff)
        self.register_buffer("freqs", torch.arange(1, n_basis + 1, dtype=torch.get_default_dtype()) * math.pi / cutoff)
        self.prefactor = math.sqrt(2.0 / cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.prefactor * torch.sin(r[:, None] * self.freqs) / r[:, None]
