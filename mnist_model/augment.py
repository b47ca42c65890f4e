"""Batched random affine augmentation that runs on the training device.

Small random rotations, scalings and shifts make the model robust to how people really draw
(slanted, off-centre, too big or too small). Doing it for a whole batch with one `affine_grid` /
`grid_sample` call keeps the GPU busy instead of waiting on per-image PIL work.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    max_degrees: float = 12.0,
    scale: tuple[float, float] = (0.85, 1.15),
    max_shift: float = 0.12,
) -> torch.Tensor:
    """Rotate, scale and shift each image of a (N, 1, H, W) float batch independently.

    `max_shift` is a fraction of the image side (grid coordinates span 2, hence the factor 2).
    Pixels that come from outside the image are background (0).
    """
    n = images.shape[0]
    rand = torch.rand(n, 4, generator=generator, device=images.device, dtype=torch.float32)
    angle = (rand[:, 0] * 2 - 1) * math.radians(max_degrees)
    zoom = scale[0] + rand[:, 1] * (scale[1] - scale[0])
    shift = (rand[:, 2:] * 2 - 1) * (2 * max_shift)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], dim=1), torch.stack([sin, cos, shift[:, 1]], dim=1)],
        dim=1,
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
