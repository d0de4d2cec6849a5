"""Learned heads: standardise the input features, one linear map, then a read-out.

Every head is plain arrays in one safetensors file, so the shipped weights load without pickle and give
exactly the scores measured at training time. Read-outs:
- "regression": y = a * (x W + b) + c
- "distribution": softmax(x W + b) over named classes
- "expected": IOVQA: softmax over integer score classes, read back as the expected class value, then a, c
- "embedding": x W + b as a unit vector (the image mapped into the sentence space: training.projection)
A head fitted in a low-rank basis keeps it as `basis` (D, k), so W is basis @ weight and is stored as its two
factors (the text projection: 1.2 MB instead of 6.8 MB).
A regression head may add a kernel part (training.kernel): an RBF kernel between the image's z-scores, mapped
by `kernel_basis` (D, k: principal directions), and L `landmarks` (L, k), weighted by `kernel_weight` (L, K),
so raw = z W + b + exp(-gamma |z B - l|^2) V.
A MeanHead averages heads over the same inputs (ridge and IOVQA, where the pair beats either alone); its
members are stored as "<name>#0", "<name>#1". A GatedHead mixes one expert per image domain (AI-generated,
photo) by a gate's domain probabilities; its parts are stored as "<name>@gate", "<name>@<domain>".
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from iqa_core import WEIGHTS_DIR

HEADS_FILE = WEIGHTS_DIR / "heads.safetensors"
ARRAYS = ("mean", "scale", "weight", "bias", "class_values")
FACTORS = ("basis", "kernel_basis", "landmarks", "kernel_weight")  # stored only by the heads that have one
# A heads file is split into files of at most this size (as Hugging Face shards checkpoints), so every file
# stays small enough to live in git without LFS; the first file's metadata names the others, and which
# arrays are stored once for several heads.
SHARD_BYTES = 4 << 20
# Weights are stored in float16: half the file (the IOVQA heads are 41 columns wide) for score changes under
# 0.002 on the 0-100 scale; everything is float32 again once loaded.
STORED = {"weight": np.float16, "basis": np.float16, "kernel_basis": np.float16}


@dataclass
class LinearHead:
    name: str
    kind: str
    inputs: list[str]  # feature blocks concatenated in this order (see features.py)
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray  # (D, K), or (k, K) after a basis
    bias: np.ndarray  # (K,)
    class_values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    classes: list[str] = field(default_factory=list)
    out_a: float = 1.0
    out_c: float = 0.0
    clip: tuple[float, float] | None = None
    info: dict = field(default_factory=dict)  # training data, CV figures: travels into the model card
    basis: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (D, k) or empty
    kernel_basis: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (D, k) or empty
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (L, k)
    kernel_weight: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (L, K)
    gamma: float = 0.0

    def raw(self, x: np.ndarray, memo: dict | None = None) -> np.ndarray:
        z = (np.atleast_2d(x).astype(np.float32) - self.mean) / self.scale
        out = (z @ self.basis if self.basis.size else z) @ self.weight + self.bias
        if self.landmarks.size:
            out = out + self.kernel(z, memo) @ self.kernel_weight
        return out

    def kernel(self, z: np.ndarray, memo: dict | None = None) -> np.ndarray:
        """(n, L) RBF kernel values between z-scores (mapped by kernel_basis) and the landmarks. memo: kernels
        already computed for the same features, by the arrays that make them (the five attributes share one
        standardisation, basis and landmarks, so one image's kernel is computed once for all of them)."""
        key = (tuple(self.inputs), id(self.mean), id(self.scale), id(self.kernel_basis), id(self.landmarks))
        if memo is not None and key in memo:
            return memo[key]
        p = z @ self.kernel_basis
        d2 = (p * p).sum(1, keepdims=True) - 2.0 * p @ self.landmarks.T + (self.landmarks ** 2).sum(1)
        k = np.exp(-self.gamma * np.maximum(d2, 0.0))
        if memo is not None:
            memo[key] = k
        return k

    def predict(self, x: np.ndarray, memo: dict | None = None) -> np.ndarray:
        """(n,) scores for regression/expected heads, (n, K) probabilities for distribution heads, (n, K)
        unit vectors for embedding heads. memo: see kernel; only for calls on the same features."""
        r = self.raw(x, memo)
        if self.kind == "embedding":
            return r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-8)
        if self.kind == "regression":
            y = self.out_a * r[:, 0] + self.out_c
        else:
            p = np.exp(r - r.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            if self.kind == "distribution":
                return p
            y = self.out_a * (p @ self.class_values) + self.out_c
        return np.clip(y, *self.clip) if self.clip else y

    def meta(self) -> dict:
        return {"kind": self.kind, "inputs": self.inputs, "classes": self.classes, "out_a": self.out_a,
                "out_c": self.out_c, "clip": self.clip, "info": self.info,
                **({"gamma": self.gamma} if self.landmarks.size else {})}


@dataclass
class MeanHead:
    name: str
    members: list[LinearHead]

    @property
    def inputs(self) -> list[str]:
        return self.members[0].inputs

    @property
    def mean(self) -> np.ndarray:  # standardisation and training info are the same for every member
        return self.members[0].mean

    @property
    def scale(self) -> np.ndarray:
        return self.members[0].scale

    @property
    def info(self) -> dict:
        return self.members[0].info

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(x) for m in self.members], axis=0)


@dataclass
class GatedHead:
    """UniQA's light adapters on one representation: an expert per image domain, mixed by the gate's
    probability of each domain, so one head serves AI-generated images and photos although their
    datasets rank the same features differently."""
    name: str
    gate: LinearHead  # distribution over the domains
    experts: dict[str, LinearHead | MeanHead]  # domain -> head

    @property
    def inputs(self) -> list[str]:
        return self.gate.inputs

    @property
    def mean(self) -> np.ndarray:  # the gate saw every domain's images: its standardisation is the widest
        return self.gate.mean

    @property
    def scale(self) -> np.ndarray:
        return self.gate.scale

    @property
    def info(self) -> dict:
        return self.gate.info

    def domains(self, x: np.ndarray) -> np.ndarray:
        """(n, domains) probabilities, in the order of gate.classes."""
        return self.gate.predict(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        p = self.domains(x)
        return sum(p[:, i] * self.experts[d].predict(x) for i, d in enumerate(self.gate.classes))


Head = LinearHead | MeanHead | GatedHead


def _flat(heads: dict[str, Head]) -> dict[str, LinearHead]:
    out = {}
    for n, h in heads.items():
        if isinstance(h, MeanHead):
            out.update({f"{n}#{i}": m for i, m in enumerate(h.members)})
        elif isinstance(h, GatedHead):
            out.update(_flat({f"{n}@gate": h.gate, **{f"{n}@{d}": e for d, e in h.experts.items()}}))
        else:
            out[n] = h
    return out


def _nest(flat: dict[str, LinearHead]) -> dict[str, Head]:
    """The inverse of _flat: "#i" members into MeanHeads, then "@part" parts into GatedHeads."""
    means: dict[str, Head] = {}
    for key, head in flat.items():
        base, sep, _ = key.partition("#")
        if sep:
            means.setdefault(base, MeanHead(base.split("@")[0], [])).members.append(head)
        else:
            means[key] = head
    heads: dict[str, Head] = {}
    for key, head in means.items():
        base, sep, part = key.partition("@")
        if not sep:
            heads[key] = head
            continue
        gated = heads.setdefault(base, GatedHead(base, None, {}))
        if part == "gate":
            gated.gate = head
        else:
            gated.experts[part] = head
    return heads


def save_heads(heads: dict[str, Head], path: Path = HEADS_FILE, encoder: dict | None = None) -> None:
    """encoder: what produced the heads' inputs (LiteImageEncoder.config), checked at load (check_encoder),
    as open_clip's configs carry their preprocessing."""
    flat = _flat(heads)
    tensors = {f"{n}.{a}": np.ascontiguousarray(getattr(h, a), STORED.get(a, np.float32))
               for n, h in flat.items() for a in ARRAYS + FACTORS if getattr(h, a).size or a in ARRAYS}
    same = _same_arrays(tensors)
    tensors = {k: v for k, v in tensors.items() if k not in same}
    shards: list[dict[str, np.ndarray]] = [{}]
    for key, arr in tensors.items():
        if shards[-1] and sum(a.nbytes for a in shards[-1].values()) + arr.nbytes > SHARD_BYTES:
            shards.append({})
        shards[-1][key] = arr
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _shard_files(path):
        stale.unlink()
    names = [_shard_name(path, i) for i in range(1, len(shards))]
    meta = {"heads": json.dumps({n: h.meta() for n, h in flat.items()}), "shards": json.dumps(names),
            "same": json.dumps(same)}
    if encoder is not None:
        meta["encoder"] = json.dumps(encoder, sort_keys=True)
    save_file(shards[0], str(path), metadata=meta)
    for name, shard in zip(names, shards[1:]):
        save_file(shard, str(path.with_name(name)))


def _same_arrays(tensors: dict[str, np.ndarray]) -> dict[str, str]:
    """key -> the first key holding the same array, for arrays stored once (heads fitted on the same rows
    share their standardisation and a folded-in kernel's basis and landmarks)."""
    first: dict[tuple, str] = {}
    same = {}
    for key, arr in tensors.items():
        if arr.nbytes < 1024:  # not worth an entry
            continue
        digest = (arr.dtype.str, arr.shape, hashlib.sha256(arr.tobytes()).hexdigest())
        if digest in first:
            same[key] = first[digest]
        else:
            first[digest] = key
    return same


def _shard_name(path: Path, i: int) -> str:
    return f"{path.stem}-{i + 1}{path.suffix}"


def _shard_files(path: Path) -> list[Path]:
    """The further files of the heads file at path, as its metadata names them (none for a missing file)."""
    if not path.exists():
        return []
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        names = json.loads((fh.metadata() or {}).get("shards", "[]"))
    return [path.with_name(n) for n in names]


def heads_files(path: Path = HEADS_FILE) -> list[Path]:
    """Every file the heads at path are stored in (copy them all to move the heads)."""
    return [Path(path), *_shard_files(Path(path))]


def stored_encoder(path: Path = HEADS_FILE) -> dict | None:
    """The encoder configuration a heads file was trained on (None for a file that does not say)."""
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        found = (fh.metadata() or {}).get("encoder")
    return json.loads(found) if found else None


def check_encoder(path: Path, encoder: dict) -> None:
    """Refuse heads trained on another encoder or preprocessing, with what differs, before any image is
    scored (the mismatch would otherwise surface as a shape error deep in the regions)."""
    stored = stored_encoder(path)
    if stored is None:
        raise ValueError(f"{path} does not record the encoder its heads were trained on; retrain with "
                         "`python -m iqa_core.training.train`.")
    differ = {k: (stored.get(k), encoder.get(k)) for k in stored.keys() | encoder.keys()
              if stored.get(k) != encoder.get(k)}
    if differ:
        raise ValueError(f"{path} was trained on another encoder or preprocessing: "
                         + "; ".join(f"{k}: heads {a!r}, encoder {b!r}" for k, a, b in
                                     ((k, *v) for k, v in sorted(differ.items()))))


def stored_arrays(path: Path = HEADS_FILE) -> dict[str, np.ndarray]:
    """Every "<head>.<array>" of the heads at path as float32, from all its files; an array stored once is
    one array in memory too, given to each key that shares it (the attributes' kernel basis: 2.3 MB once,
    not five times)."""
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        same = json.loads((fh.metadata() or {}).get("same", "{}"))
    arrays = {k: v.astype(np.float32) for f in heads_files(path) for k, v in load_file(str(f)).items()}
    return arrays | {k: arrays[v] for k, v in same.items()}


def load_heads(path: Path = HEADS_FILE) -> dict[str, Head]:
    if not Path(path).exists():
        raise FileNotFoundError(f"No trained heads at {path}; run `python -m iqa_core.training.train`.")
    from safetensors import safe_open

    with safe_open(str(path), "np") as fh:
        metas = json.loads(fh.metadata()["heads"])
    arrays = stored_arrays(path)
    flat = {}
    for name, m in metas.items():
        clip = m.pop("clip", None)
        flat[name] = LinearHead(name=name.split("#")[0].split("@")[0], clip=tuple(clip) if clip else None, **m,
                                **{a: arrays[f"{name}.{a}"] for a in ARRAYS + FACTORS if f"{name}.{a}" in arrays})
    return _nest(flat)
