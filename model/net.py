"""The bone + muscle multitask network (after Kong et al.; small enough for 2 CPU cores).

A 2D CNN encoder, shared across slices and levels, reads every axial plane of every level's
patch (bone and muscle as two channels; the bone-only variant reads bone alone). Its per-plane
features are pooled over the 12 planes (mean and max), then over the levels that are present
(masked mean), and feed two heads: the probability of a prevalent vertebral fracture and K yearly
discrete-time hazards h_k. The cumulative risk of a new fracture by year k is
1 - prod_{j<=k} (1 - h_j), monotone in k and inside [0, 1] by construction.

forward(bone, muscle, present) obeys docs/model-inputs.md: bone and muscle [B,5,12,160,160]
float32 (HU clipped to [0,1000] / 1000), present [B,5] float32 -> (prob [B], cumulative [B,K]).
"""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    """160 x 160 plane -> feature vector: a 4x4 stride-4 stem (160 -> 40, as ConvNeXt's
    patchify stem), stride-2 blocks (40 -> 20 -> 10) and a 3x3 block at 10 x 10. Pooled three
    ways: the mean over the masked part of the plane (the images are zero outside the bone and
    muscle masks, so this is what the tissue looks like, whatever its extent), the max, and the
    fraction of the plane each input channel covers (the extent: muscle area, body size)."""

    def __init__(self, in_ch: int, width: int = 16):
        super().__init__()
        c1, c2, c3 = width, 2 * width, 3 * width
        # no normalisation layers in the encoder: BatchNorm2d is the slowest op on CPU here
        self.stem = nn.Sequential(nn.Conv2d(in_ch, c1, 4, stride=4), nn.ReLU(inplace=True))
        self.b2 = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.b3 = nn.Sequential(nn.Conv2d(c2, c3, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.b4 = nn.Sequential(nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(inplace=True))
        self.in_ch = in_ch
        self.out_dim = 2 * c3 + in_ch

    def forward(self, x: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        inside = (x > 0).to(x.dtype)                                  # [N,C,H,W]
        extent = inside.mean(dim=(2, 3)) * 10.0                       # [N,C]
        occ = F.avg_pool2d(inside.amax(dim=1, keepdim=True), 16)      # [N,1,10,10]
        f = self.b4(self.b3(self.b2(self.stem(x * gain))))            # [N,F,10,10]
        masked_mean = (f * occ).sum(dim=(2, 3)) / occ.sum(dim=(2, 3)).clamp(min=1e-3)
        return torch.cat([masked_mean, f.amax(dim=(2, 3)), extent], dim=1)


class MultitaskNet(nn.Module):
    def __init__(self, variant: str = "bone+muscle", width: int = 16, horizons: int = 5, hidden: int = 32,
                 detection: bool = True, dropout: float = 0.2):
        super().__init__()
        if variant not in ("bone+muscle", "bone"):
            raise ValueError("variant must be bone+muscle or bone")
        self.use_muscle = variant == "bone+muscle"
        self.variant = variant
        self.horizons = horizons
        self.detection = detection
        self.encoder = Encoder(2 if self.use_muscle else 1, width)
        # fixed input gains (part of the model, not of the contract): trabecular bone lies
        # around 0.1-0.3 and muscle around 0.02-0.07 after the contract's scaling
        gain = [4.0, 15.0] if self.use_muscle else [4.0]
        self.register_buffer("input_gain", torch.tensor(gain).reshape(1, len(gain), 1, 1))
        f = 2 * self.encoder.out_dim  # planes pooled by mean and by max
        self.norm = nn.BatchNorm1d(f)
        self.drop = nn.Dropout(dropout)
        self.det_head = nn.Sequential(nn.Linear(f, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        self.haz_head = nn.Sequential(nn.Linear(f, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, horizons))

    def features(self, bone: torch.Tensor, muscle: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        if bone.dim() != 5 or bone.size(1) != 5 or bone.size(2) != 12 or bone.size(3) != 160 or bone.size(4) != 160:
            raise ValueError("bone must be [B,5,12,160,160]")
        if self.use_muscle and muscle.shape != bone.shape:
            raise ValueError("muscle must have the shape of bone")
        if present.dim() != 2 or present.size(1) != 5 or present.size(0) != bone.size(0):
            raise ValueError("present must be [B,5]")
        return self.features_core(bone, muscle, present)

    def features_core(self, bone: torch.Tensor, muscle: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Pooled features of [B,L',D',160,160] inputs (training passes read subsets of the
        levels and planes; serving reads all)."""
        b, nl, nd = bone.size(0), bone.size(1), bone.size(2)
        hh, ww = bone.size(3), bone.size(4)
        if self.use_muscle:
            # channels last in memory: the convolutions run several times faster on CPU
            x = torch.stack([bone, muscle], dim=-1).reshape(b * nl * nd, hh, ww, 2).permute(0, 3, 1, 2)
        else:
            x = bone.reshape(b * nl * nd, 1, hh, ww)
        f = self.encoder(x, self.input_gain).reshape(b, nl, nd, -1)
        f = torch.cat([f.mean(dim=2), f.amax(dim=2)], dim=2)  # [B,L,F] pooled over planes
        w = present.clamp(0.0, 1.0).unsqueeze(2)
        z = (f * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)  # masked mean over present levels
        # between-study differences are small next to the features' own scale: standardise
        return self.norm(z)

    def heads(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(detection logit [B], hazard logits [B,K]) from pooled features."""
        z = self.drop(z)
        return self.det_head(z).squeeze(1), self.haz_head(z)

    def forward(self, bone: torch.Tensor, muscle: torch.Tensor, present: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        det_logit, haz_logit = self.heads(self.features(bone, muscle, present))
        if self.detection:
            prob = torch.sigmoid(det_logit)
        else:  # single-task prediction variant: no detection output (NaN, the card says so)
            prob = torch.full_like(det_logit, float("nan"))
        return prob, cumulative_risk(haz_logit)


def cumulative_risk(haz_logit: torch.Tensor) -> torch.Tensor:
    """1 - prod_{j<=k}(1 - sigmoid(x_j)) = 1 - exp(-cumsum(softplus(x))), clamped to [0, 1]."""
    return (1.0 - torch.exp(-torch.cumsum(F.softplus(haz_logit), dim=1))).clamp(0.0, 1.0)


def hazard_targets(time: List[float], event: List[int], horizons: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Discrete-time targets and follow-up mask [N,K]. Year k is the interval (k-1, k]. A year
    counts only while the patient was followed: an event in year e gives targets 0...0 1 over
    years 1..e; a patient censored at t contributes 0 for each whole year followed (t >= k)."""
    n = len(time)
    y = torch.zeros(n, horizons)
    m = torch.zeros(n, horizons)
    for i in range(n):
        t, e = float(time[i]), int(event[i])
        for k in range(1, horizons + 1):
            if e and k - 1 < t <= k:
                y[i, k - 1] = 1.0
                m[i, k - 1] = 1.0
                break
            if t >= k:
                m[i, k - 1] = 1.0
            else:
                break
    return y, m


def hazard_loss(haz_logit: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Censoring-masked binary cross-entropy over the yearly hazards."""
    bce = F.binary_cross_entropy_with_logits(haz_logit, y, reduction="none")
    return (bce * m).sum() / m.sum().clamp(min=1.0)
