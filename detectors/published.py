"""Published detectors, loaded from local checkpoint files and used as released (test only).

Weights are never downloaded: every file is named by the user and read with
``torch.load(..., weights_only=True)`` (or safetensors), and its layout is checked before use.

* ``cnndetection``: Wang et al., "CNN-generated images are surprisingly easy to spot... for
  now", CVPR 2020. The released ``blur_jpg_prob0.5.pth`` / ``blur_jpg_prob0.1.pth`` hold
  ``{"model": state_dict, ...}`` of a torchvision ResNet-50 whose ``fc`` has one output (a bare
  state dict is accepted too). The network is ``timm.create_model("resnet50", num_classes=1)``,
  whose key names and shapes are torchvision's, loaded strictly. Inputs as in the paper's
  evaluation: pixels in [0, 1] normalized with the ImageNet mean and std, grey images repeated
  to three channels, native size (its optional centre crop is ``--size 224 --resize
  center-crop``). Score: the logit (the paper thresholds its sigmoid at 0.5, i.e. the logit at 0).
* ``univfd``: Ojha, Li & Lee, "Towards Universal Fake Image Detectors that Generalize Across
  Generative Models", CVPR 2023. A linear head (``fc.weight`` 1x768 and ``fc.bias``; the
  released ``fc_weights.pth`` names them ``weight`` and ``bias``) over the 768-d image embedding
  of CLIP ViT-L/14 (``encode_image``: the projected class token, not normalized). The backbone
  comes from a local file, ``--detector-arg backbone=PATH`` (a timm, OpenCLIP or OpenAI CLIP
  state dict; timm converts the latter two), built as timm's
  ``vit_large_patch14_clip_quickgelu_224`` (OpenAI's CLIP uses QuickGELU; ``architecture=``
  names another timm CLIP ViT with the same key names). Inputs: 224x224 (the paper's test takes
  the centre crop, ``--size 224 --resize center-crop``), normalized with CLIP's mean and std.
  Score: the logit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganbench.errors import UserError
from ganbench.registry import Registry

PUBLISHED: Registry[type] = Registry("published detector")

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
UNIVFD_ARCHITECTURE = "vit_large_patch14_clip_quickgelu_224"


def read_checkpoint(path: Path, what: str) -> dict[str, Any]:
    """A checkpoint file as a dict, read without unpickling code; a missing, truncated or foreign file is a UserError."""
    if not path.is_file():
        raise UserError(f"no such {what} file: {path} (weights are read from local files only)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded: object = load_file(str(path))
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"{path}: unreadable or truncated {what} ({exc.__class__.__name__})") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{path}: a {what} must hold a dict of tensors, found {type(loaded).__name__}")
    return loaded


def tensors_of(checkpoint: dict[str, Any], path: Path, what: str) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint: its ``model`` entry when it has one, without a ``module.`` prefix."""
    state = checkpoint.get("model", checkpoint)
    if not isinstance(state, dict) or not state:
        raise UserError(f"{path}: no state dict in this {what}")
    if all(isinstance(k, str) and k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_strictly(network: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    """``network.load_state_dict(state, strict=True)``, with any mismatch said in one line."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in expected.items()
                if k in state and state[k].shape != v.shape]
    problems = ([f"{len(missing)} missing key(s), e.g. {missing[0]}"] if missing else []) + \
               ([f"{len(unexpected)} unexpected key(s), e.g. {unexpected[0]}"] if unexpected else []) + reshaped[:2]
    if problems:
        raise UserError(f"{path}: not a {what} ({'; '.join(problems)})")
    network.load_state_dict(state, strict=True)


def normalized(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 ``N,C,H,W`` (C 1 or 3) -> float RGB in [0, 1] normalized per channel; grey is repeated."""
    x = images.float().div(255).expand(-1, 3, -1, -1)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


class PublishedDetector:
    """A released detector: ``load_checkpoint(path)`` before ``score``; it is never fitted here."""

    name = "published"
    paper = ""
    year = 0
    outputs_probability = False  # scores are logits
    input_size: int | None = None  # a side the network requires, or None for any size
    batch_size = 32

    def __init__(self, device: torch.device | str | None = None) -> None:
        self.device = torch.device(device or "cpu")
        self.network: nn.Module | None = None
        self.checkpoint: Path | None = None

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        raise UserError(f"{self.name} is a published detector, used as released: give its checkpoint as "
                        f"--detector {self.name}@PATH")

    def load_checkpoint(self, path: Path) -> None:
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def score(self, images: torch.Tensor) -> np.ndarray:
        if self.network is None:
            raise UserError(f"{self.name}: no checkpoint loaded (--detector {self.name}@PATH)")
        if self.input_size is not None and tuple(images.shape[-2:]) != (self.input_size, self.input_size):
            raise UserError(f"{self.name} takes {self.input_size}x{self.input_size} images, got "
                            f"{images.shape[-2]}x{images.shape[-1]} (use --size {self.input_size})")
        self.network.eval()
        logits = [self.network(self.prepare(chunk).to(self.device)).float().view(-1).cpu()
                  for chunk in images.split(self.batch_size)]
        return torch.cat(logits).double().numpy() if logits else np.zeros(0)

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "score": "logit"}


@PUBLISHED.register
class CNNDetection(PublishedDetector):
    name = "cnndetection"
    paper = "Wang et al., CNN-generated images are surprisingly easy to spot... for now"
    year = 2020

    def load_checkpoint(self, path: Path) -> None:
        import timm

        state = tensors_of(read_checkpoint(path, "CNNDetection checkpoint"), path, "CNNDetection checkpoint")
        fc = state.get("fc.weight")
        if fc is None:
            raise UserError(f"{path}: not a CNNDetection ResNet-50 checkpoint (no fc.weight)")
        if tuple(fc.shape) != (1, 2048):
            raise UserError(f"{path}: fc.weight has shape {tuple(fc.shape)}; CNNDetection's ResNet-50 has one "
                            "output, (1, 2048)")
        network = timm.create_model("resnet50", num_classes=1, pretrained=False)
        load_strictly(network, state, path, "CNNDetection ResNet-50 checkpoint")
        self.network, self.checkpoint = network.to(self.device).eval(), path

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return normalized(images, IMAGENET_MEAN, IMAGENET_STD)


def univfd_head(path: Path) -> nn.Linear:
    """The 1-output linear head of a UnivFD checkpoint (``fc.weight``/``fc.bias`` or ``weight``/``bias``)."""
    state = tensors_of(read_checkpoint(path, "UnivFD head"), path, "UnivFD head")
    prefix = "fc." if "fc.weight" in state else ""
    weight, bias = state.get(prefix + "weight"), state.get(prefix + "bias")
    if weight is None or bias is None:
        raise UserError(f"{path}: not a UnivFD head (expected fc.weight and fc.bias)")
    if weight.ndim != 2 or weight.shape[0] != 1 or tuple(bias.shape) != (1,):
        raise UserError(f"{path}: the UnivFD head has weight {tuple(weight.shape)} and bias {tuple(bias.shape)}; "
                        "expected one output, (1, width) and (1,)")
    head = nn.Linear(weight.shape[1], 1)
    head.load_state_dict({"weight": weight.float(), "bias": bias.float()})
    return head


def clip_embedding_width(architecture: str) -> int:
    """The image-embedding width of a timm CLIP ViT from its OpenAI or first pretrained config, without building it."""
    import timm

    tags = timm.list_pretrained(f"{architecture}.*")
    chosen = next((t for t in tags if t.endswith(".openai")), tags[0] if tags else None)
    if chosen is None:
        raise UserError(f"unknown timm CLIP model {architecture!r}")
    return int(timm.models.get_pretrained_cfg(chosen).num_classes)


@PUBLISHED.register
class UnivFD(PublishedDetector):
    name = "univfd"
    paper = "Ojha et al., Towards Universal Fake Image Detectors that Generalize Across Generative Models"
    year = 2023
    input_size = 224

    def __init__(self, backbone: str | None = None, architecture: str = UNIVFD_ARCHITECTURE,
                 device: torch.device | str | None = None) -> None:
        super().__init__(device)
        self.backbone = backbone
        self.architecture = architecture

    def load_checkpoint(self, path: Path) -> None:
        import timm
        from timm.models.vision_transformer import checkpoint_filter_fn

        if self.backbone is None:
            raise UserError("univfd needs the CLIP ViT-L/14 weights on disk: --detector-arg backbone=PATH")
        if not timm.is_model(self.architecture) or "clip" not in self.architecture:
            raise UserError(f"univfd: {self.architecture!r} is not a timm CLIP ViT")
        head, width = univfd_head(path), clip_embedding_width(self.architecture)
        if head.in_features != width:
            raise UserError(f"{path}: the UnivFD head reads {head.in_features} features; {self.architecture}'s "
                            f"image embedding has {width}")
        backbone_path = Path(self.backbone).expanduser()
        checkpoint = read_checkpoint(backbone_path, "CLIP backbone")
        vit = timm.create_model(self.architecture, pretrained=False, num_classes=head.in_features)
        try:
            state = checkpoint_filter_fn(tensors_of(checkpoint, backbone_path, "CLIP backbone"), vit)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise UserError(f"{backbone_path}: not a {self.architecture} backbone ({exc.__class__.__name__})") from None
        load_strictly(vit, state, backbone_path, f"{self.architecture} backbone with a {head.in_features}-d embedding")
        self.input_size = int(vit.patch_embed.img_size[0])
        self.network = nn.Sequential(vit, head).to(self.device).eval()
        self.checkpoint = path

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return normalized(images, CLIP_MEAN, CLIP_STD)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backbone": self.backbone, "architecture": self.architecture}
