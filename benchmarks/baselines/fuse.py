"""Cross-modal metadata fusion (after SentiFormer), on CPU, without CLIP.

The image side is put into the text space location by location: the ImageNet classifier is applied to
every cell of the last feature map, and each cell's class distribution, with the class names embedded by
MiniLM, becomes a "concept token" (the vision-to-language bridge). The text side is MiniLM's token
embeddings of each metadata source (prompt, tags, caption, camera, software; or the image's own top
concepts when it has no metadata).

Each source's tokens attend over the image's concept tokens; every token gets a grounding similarity to
what it attended to, tokens are weighted by a learned relevance (so "a", "photo of" count less than
"zebra"), and sources are weighted by a learned relevance per source, so weak or noisy metadata counts
less. The outputs are small, named numbers that the heads read as one more feature block.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

SOURCES = ("prompt", "tags", "caption", "camera", "software")
FUSION_FILE = Path(__file__).resolve().parent / "weights" / "fusion.safetensors"
DIM = 384


def concept_tokens(head_map: np.ndarray, fc_weight: np.ndarray, fc_bias: np.ndarray,
                   name_emb: np.ndarray) -> np.ndarray:
    """(C, h, w) head feature map -> (h*w, 384) unit concept tokens in the sentence space."""
    c = head_map.shape[0]
    cells = head_map.reshape(c, -1).T.astype(np.float32)  # (N, C)
    logits = cells @ fc_weight.T + fc_bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    tok = p @ name_emb
    return (tok / np.maximum(np.linalg.norm(tok, axis=1, keepdims=True), 1e-8)).astype(np.float32)


class CrossModalFusion(nn.Module):
    def __init__(self, n_sources: int = len(SOURCES), dim: int = DIM):
        super().__init__()
        # Identity starts: before training, grounding is plain cosine similarity in MiniLM's space.
        self.text_proj = nn.Linear(dim, dim)
        self.image_proj = nn.Linear(dim, dim)
        for lin in (self.text_proj, self.image_proj):
            nn.init.eye_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.log_temp = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))
        self.token_gate = nn.Linear(dim, 1)
        nn.init.zeros_(self.token_gate.weight)
        nn.init.zeros_(self.token_gate.bias)
        self.source_logit = nn.Parameter(torch.zeros(n_sources))

    def forward(self, image_tokens: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                source_present: torch.Tensor) -> dict[str, torch.Tensor]:
        """image_tokens (B, N, D); text_tokens (B, S, L, D); text_mask (B, S, L) 1 for real tokens;
        source_present (B, S) 1 where the image has that source. Returns grounding (B, S), relevance (B, S),
        fused (B,)."""
        q = nn.functional.normalize(self.text_proj(text_tokens), dim=-1)
        k = nn.functional.normalize(self.image_proj(image_tokens), dim=-1)
        sim = torch.einsum("bsld,bnd->bsln", q, k)  # every text token vs every image cell
        att = torch.softmax(self.log_temp.exp() * sim, dim=-1)
        token_sim = (att * sim).sum(-1)  # similarity to what each token attended to
        gate = self.token_gate(text_tokens).squeeze(-1).masked_fill(text_mask <= 0, -1e4)
        weights = torch.softmax(gate, dim=-1) * (text_mask.sum(-1, keepdim=True) > 0)
        grounding = (weights * token_sim).sum(-1)  # (B, S)
        logit = self.source_logit.expand_as(grounding).masked_fill(source_present <= 0, -1e4)
        relevance = torch.softmax(logit, dim=-1) * (source_present.sum(-1, keepdim=True) > 0)
        return {"grounding": grounding, "relevance": relevance, "fused": (relevance * grounding).sum(-1)}


@dataclass
class TextTokens:
    """Token embeddings per source for one image; sources without text are absent."""
    tokens: dict[str, np.ndarray] = field(default_factory=dict)  # source -> (L, D)


def pack(batch: list[TextTokens], max_len: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch of per-source token sets into (B, S, L, D), mask (B, S, L), present (B, S)."""
    lengths = [min(len(t.tokens[s]), max_len) for t in batch for s in t.tokens] or [1]
    L = max(lengths)
    out = torch.zeros(len(batch), len(SOURCES), L, DIM)
    mask = torch.zeros(len(batch), len(SOURCES), L)
    for b, tt in enumerate(batch):
        for s, name in enumerate(SOURCES):
            if name in tt.tokens:
                tok = torch.from_numpy(tt.tokens[name][:max_len])
                out[b, s, : len(tok)] = tok
                mask[b, s, : len(tok)] = 1.0
    return out, mask, (mask.sum(-1) > 0).float()


def fusion_block(model: CrossModalFusion, image_tokens: np.ndarray, text: TextTokens) -> np.ndarray:
    """The heads' "fusion" block for one image: fused grounding, then each source's grounding and relevance."""
    tokens, mask, present = pack([text])
    with torch.inference_mode():
        out = model(torch.from_numpy(image_tokens)[None], tokens, mask, present)
    return np.concatenate([out["fused"].numpy(), out["grounding"][0].numpy(),
                           out["relevance"][0].numpy()]).astype(np.float32)


def save(model: CrossModalFusion, path: Path = FUSION_FILE) -> None:
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))


def load(path: Path = FUSION_FILE) -> CrossModalFusion:
    model = CrossModalFusion()
    if not Path(path).exists():
        raise FileNotFoundError(f"No trained fusion weights at {path}; run `python -m iqa_core.training.train`.")
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def train(image_tokens: np.ndarray, texts: list[TextTokens], y: np.ndarray, base: np.ndarray,
          epochs: int = 150, lr: float = 0.05, adapt_projections: bool = False, seed: int = 0) -> CrossModalFusion:
    """Fit the fusion so that a*base + b*fused + c predicts y (base: the image-only head's out-of-fold score).

    Only the temperature, token gate and source relevance learn by default (a few hundred numbers): the
    projections, 2 x 148k numbers, would memorise 1,000 prompts.
    """
    torch.manual_seed(seed)
    model = CrossModalFusion()
    for lin in (model.text_proj, model.image_proj):
        lin.requires_grad_(adapt_projections)
    tokens, mask, present = pack(texts)
    img = torch.from_numpy(image_tokens)
    yt = torch.from_numpy(((y - y.mean()) / y.std()).astype(np.float32))
    bt = torch.from_numpy(((base - base.mean()) / base.std()).astype(np.float32))
    mix = nn.Parameter(torch.tensor([1.0, 0.0, 0.0]))
    params = [p for p in model.parameters() if p.requires_grad] + [mix]
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        fused = model(img, tokens, mask, present)["fused"]
        f = (fused - fused.mean()) / (fused.std() + 1e-6)
        loss = ((mix[0] * bt + mix[1] * f + mix[2] - yt) ** 2).mean()
        loss.backward()
        opt.step()
    return model.eval()
