"""CIFAR-10-C corruptions on tensors, severities 1-5.

Images are float tensors (N, 3, H, W) in [0, 1]; every corruption returns the same shape and range
and is deterministic for a given seed. Severity constants are those of Hendrycks & Dietterich's
CIFAR-10-C generator (ICLR 2019), for 32 x 32 images.
Adding a corruption is one function and one entry in CORRUPTIONS.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian_noise(x, severity, seed=0):
    std = [0.04, 0.06, 0.08, 0.09, 0.10][severity - 1]
    return (x + std * torch.randn(x.shape, generator=_gen(seed))).clamp(0, 1)


def shot_noise(x, severity, seed=0):
    photons = [500, 250, 100, 75, 50][severity - 1]
    return (torch.poisson(x * photons, generator=_gen(seed)) / photons).clamp(0, 1)


def impulse_noise(x, severity, seed=0):
    amount = [0.01, 0.02, 0.03, 0.05, 0.07][severity - 1]
    g = _gen(seed)
    hit = torch.rand(x.shape, generator=g) < amount
    salt = torch.rand(x.shape, generator=g) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


def _depthwise(x, kernel):
    """Convolve each channel with one 2-D kernel, reflect-padded so the border is not darkened."""
    k = kernel.shape[-1]
    pad = k // 2
    xp = F.pad(x, (pad, k - 1 - pad, pad, k - 1 - pad), mode="reflect")
    weight = kernel.to(x.dtype).expand(x.shape[1], 1, k, k)
    return F.conv2d(xp, weight, groups=x.shape[1])


def defocus_blur(x, severity, seed=0):
    radius, alias_sigma = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][severity - 1]
    # a disk kernel, anti-aliased by a small Gaussian, as the reference does with cv2
    r = max(int(radius) + 1, 1)
    ax = torch.arange(-r, r + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    disk = ((xx**2 + yy**2) <= radius**2).float()
    disk = TF.gaussian_blur(disk[None, None], kernel_size=[2 * r + 1] * 2, sigma=alias_sigma)[0, 0]
    return _depthwise(x, disk / disk.sum()).clamp(0, 1)


def motion_blur(x, severity, seed=0):
    radius, sigma = [(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)][severity - 1]
    # the reference blurs along a random angle; one angle per call, drawn from the seed
    angle = float(torch.empty(1).uniform_(-45, 45, generator=_gen(seed)))
    size = radius // 2 * 2 + 1
    t = torch.arange(size, dtype=torch.float32) - size // 2
    line = torch.zeros(size, size)
    line[size // 2] = torch.exp(-(t**2) / (2 * sigma**2)) * (t >= 0)  # a streak from the pixel onwards
    line = TF.rotate(line[None], angle, interpolation=TF.InterpolationMode.BILINEAR)[0]
    return _depthwise(x, line / line.sum()).clamp(0, 1)


def zoom_blur(x, severity, seed=0):
    top = [1.06, 1.11, 1.16, 1.21, 1.26][severity - 1]
    zooms = torch.arange(1.0, top - 1e-9, 0.01)[1:]
    out = x.clone()
    h, w = x.shape[-2:]
    for z in zooms.tolist():
        big = TF.resize(x, [round(h * z), round(w * z)], antialias=True)
        out += TF.center_crop(big, [h, w])
    return (out / (len(zooms) + 1)).clamp(0, 1)


def glass_blur(x, severity, seed=0):
    sigma, delta, iterations = [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)][severity - 1]
    g = _gen(seed)
    x = TF.gaussian_blur(x, kernel_size=[5, 5], sigma=max(sigma, 1e-3))
    n, _, h, w = x.shape
    rows = torch.arange(h).view(1, h, 1).expand(n, h, w)
    cols = torch.arange(w).view(1, 1, w).expand(n, h, w)
    for _ in range(iterations):
        # every pixel swaps with a neighbour up to `delta` away (a shuffled view, as through glass)
        dy = torch.randint(-delta, delta + 1, (n, h, w), generator=g)
        dx = torch.randint(-delta, delta + 1, (n, h, w), generator=g)
        src_r, src_c = (rows + dy).clamp(0, h - 1), (cols + dx).clamp(0, w - 1)
        idx = (src_r * w + src_c).view(n, 1, h * w).expand(n, 3, h * w)
        x = x.reshape(n, 3, h * w).gather(2, idx).view(n, 3, h, w)
    return TF.gaussian_blur(x, kernel_size=[5, 5], sigma=max(sigma, 1e-3)).clamp(0, 1)


def fog(x, severity, seed=0):
    strength, decay = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][severity - 1]
    n, _, h, w = x.shape
    g = _gen(seed)
    # a fractal haze: octaves of upsampled noise, each finer one weaker by `decay`
    haze = torch.zeros(n, 1, h, w)
    for octave in range(5):
        cells = 2 ** (octave + 1)
        noise = torch.rand(n, 1, cells, cells, generator=g)
        haze += F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False) / decay**octave
    haze = (haze - haze.amin((2, 3), keepdim=True)) / (haze.amax((2, 3), keepdim=True)
                                                        - haze.amin((2, 3), keepdim=True) + 1e-8)
    peak = x.amax((1, 2, 3), keepdim=True)
    return ((x + strength * haze) * peak / (peak + strength)).clamp(0, 1)


def brightness(x, severity, seed=0):
    shift = [0.05, 0.1, 0.15, 0.2, 0.3][severity - 1]
    # the reference adds to V in HSV; with V = max(R, G, B) that scales the pixel's colour
    v = x.amax(1, keepdim=True)
    new_v = (v + shift).clamp(0, 1)
    return torch.where(v > 0, x * new_v / v.clamp_min(1e-8), new_v.expand_as(x)).clamp(0, 1)


def contrast(x, severity, seed=0):
    c = [0.75, 0.5, 0.4, 0.3, 0.15][severity - 1]
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * c + mean).clamp(0, 1)


def elastic_transform(x, severity, seed=0):
    alpha = [8.0, 12.0, 16.0, 20.0, 24.0][severity - 1]  # pixels of displacement; the reference
    n, _, h, w = x.shape                                    # mixes an affine jitter we leave out
    g = _gen(seed)
    field = torch.rand(n, 2, h, w, generator=g) * 2 - 1
    field = TF.gaussian_blur(field, kernel_size=[9, 9], sigma=3.0)
    # displacement in torchvision's units: fractions of the half-size, one field per image
    field = field / field.abs().amax((1, 2, 3), keepdim=True).clamp_min(1e-8) * 2 * alpha / max(h, w)
    field = field.permute(0, 2, 3, 1).contiguous()
    return torch.stack([TF.elastic(img, d[None]) for img, d in zip(x, field, strict=True)]).clamp(0, 1)


def pixelate(x, severity, seed=0):
    scale = [0.95, 0.9, 0.85, 0.75, 0.65][severity - 1]
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(int(h * scale), int(w * scale)), mode="area")  # PIL's BOX
    return TF.resize(small, [h, w], interpolation=TF.InterpolationMode.NEAREST)


def jpeg_compression(x, severity, seed=0):
    quality = [80, 65, 58, 50, 40][severity - 1]
    as_bytes = (x * 255).round().to(torch.uint8)
    return TF.jpeg(as_bytes, quality).float() / 255


CORRUPTIONS = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "fog": fog,
    "brightness": brightness,
    "contrast": contrast,
    "elastic_transform": elastic_transform,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
}


def corrupt(x: torch.Tensor, name: str, severity: int, seed: int = 0) -> torch.Tensor:
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; valid corruptions: {', '.join(CORRUPTIONS)}")
    if severity not in range(1, 6):
        raise ValueError(f"severity must be 1..5, got {severity}")
    return CORRUPTIONS[name](x, severity, seed)
