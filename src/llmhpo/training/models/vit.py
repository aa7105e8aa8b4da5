"""The reference's ViT (lucidrains' vit-pytorch design): patch embedding with layer
norms, a class token, pre-norm transformer blocks, class-token pooling.

Attention uses `scaled_dot_product_attention` (flash kernels on a GPU). The
head width is dim // heads, so heads must divide dim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_vit_architecture(
    *, image_size: int, patch_size: int, dim: int, heads: int, depth: int, mlp_dim: int
) -> None:
    """Raise ValueError naming what cannot work, before any training starts."""
    problems = []
    if image_size % patch_size:
        problems.append(f"patch_size {patch_size} does not divide the image size {image_size}")
    if dim % heads:
        problems.append(f"heads {heads} does not divide dim {dim}")
    for name, value in (
        ("dim", dim),
        ("heads", heads),
        ("depth", depth),
        ("mlp_dim", mlp_dim),
        ("patch_size", patch_size),
    ):
        if value < 1:
            problems.append(f"{name} must be >= 1, got {value}")
    if problems:
        raise ValueError("; ".join(problems))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.to_qkv(self.norm(x)).view(batch, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0
        )
        return self.to_out(out.transpose(1, 2).reshape(batch, tokens, dim))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__(
            nn.LayerNorm(dim),
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )


class ViT(nn.Module):
    def __init__(
        self,
        *,
        channels: int = 3,
        image_size: int = 32,
        num_classes: int = 10,
        patch_size: int = 4,
        dim: int = 512,
        depth: int = 6,
        heads: int = 8,
        mlp_dim: int = 512,
        dropout: float = 0.1,
        emb_dropout: float = 0.1,
    ):
        super().__init__()
        check_vit_architecture(
            image_size=image_size,
            patch_size=patch_size,
            dim=dim,
            heads=heads,
            depth=depth,
            mlp_dim=mlp_dim,
        )
        self.patch_size = patch_size
        patch_dim = channels * patch_size * patch_size
        num_patches = (image_size // patch_size) ** 2
        self.to_patch_embedding = nn.Sequential(
            nn.LayerNorm(patch_dim), nn.Linear(patch_dim, dim), nn.LayerNorm(dim)
        )
        self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.dropout = nn.Dropout(emb_dropout)
        self.layers = nn.ModuleList(
            nn.ModuleList([Attention(dim, heads, dropout), FeedForward(dim, mlp_dim, dropout)])
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, patches, p*p*C): einops' 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'."""
        b, c, h, w = images.shape
        p = self.patch_size
        patches = images.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return patches.reshape(b, (h // p) * (w // p), p * p * c)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.to_patch_embedding(self.patchify(images))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.dropout(x + self.pos_embedding)
        for attention, feed_forward in self.layers:
            x = x + attention(x)
            x = x + feed_forward(x)
        return self.head(self.norm(x[:, 0]))
