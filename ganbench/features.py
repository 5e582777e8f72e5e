"""Feature extractors for the quality metrics (a registry; ``ganbench list metrics``).

``classifier`` is the offline default: a small CNN trained deterministically on the real train
split of the data set and cached by data-set fingerprint and seed. Its penultimate activations
are the features for FID and its softmax the class probabilities.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data import Dataset, to_float
from ganbench.registry import Registry
from ganbench.runtime import preserved_rng, torch_generator
from ganbench.store import atomic_write_bytes


class ReferenceClassifier(nn.Module):
    """Three conv blocks and global average pooling; ``features`` are 128-d."""

    feature_dim = 128

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True))

        self.trunk = nn.Sequential(block(channels, 32), nn.MaxPool2d(2), block(32, 64), nn.MaxPool2d(2),
                                   block(64, self.feature_dim), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


@dataclass
class Extracted:
    features: torch.Tensor
    probs: torch.Tensor


class FeatureExtractor:
    """Base: ``extract`` maps uint8 ``N,C,H,W`` images to features and class probabilities."""

    name: str
    description: str

    def protocol(self) -> dict[str, object]:
        raise NotImplementedError

    def extract(self, images: torch.Tensor, batch_size: int = 500) -> Extracted:
        raise NotImplementedError


class ClassifierExtractor(FeatureExtractor):
    name = "classifier"
    description = "small CNN trained on the real train split (offline default)"

    def __init__(self, dataset: Dataset, cache_dir: Path, seed: int = 0, epochs: int = 6,
                 device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.model = ReferenceClassifier(dataset.channels, dataset.num_classes).to(self.device)
        cache = cache_dir / f"classifier-{dataset.fingerprint}-s{seed}-e{epochs}.pt"
        if cache.exists():
            self.model.load_state_dict(torch.load(cache, map_location=self.device, weights_only=True))
        else:
            with preserved_rng():
                self._fit(dataset, seed, epochs)
            buffer = io.BytesIO()
            torch.save(self.model.state_dict(), buffer)
            atomic_write_bytes(cache, buffer.getvalue())
        self.model.eval()
        self.weights_hash = hashlib.sha256(b"".join(
            t.detach().cpu().numpy().tobytes() for t in self.model.state_dict().values())).hexdigest()[:12]
        self.test_accuracy = self.accuracy(dataset.x_test, dataset.y_test)

    def _fit(self, dataset: Dataset, seed: int, epochs: int, batch_size: int = 64) -> None:
        torch.manual_seed(seed)
        gen = torch_generator(seed)
        x, y = dataset.x_train, dataset.y_train
        opt = torch.optim.Adam(self.model.parameters(), lr=2e-3)
        steps = epochs * ((len(x) + batch_size - 1) // batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
        self.model.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), batch_size):
                index = order[start : start + batch_size]
                xb = to_float(x[index]).to(self.device)
                shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
                xb = torch.roll(xb, shifts=shift, dims=(2, 3))
                loss = F.cross_entropy(self.model(xb), y[index].to(self.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()

    @torch.inference_mode()
    def extract(self, images: torch.Tensor, batch_size: int = 500) -> Extracted:
        feats, probs = [], []
        for chunk in images.split(batch_size):
            f = self.model.features(to_float(chunk).to(self.device))
            feats.append(f.double().cpu())
            probs.append(F.softmax(self.model.head(f), dim=1).double().cpu())
        return Extracted(torch.cat(feats), torch.cat(probs))

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self.extract(images).probs.argmax(1) == labels).double().mean())

    def protocol(self) -> dict[str, object]:
        return {"extractor": self.name, "weights": self.weights_hash, "resize": "none"}


EXTRACTORS: Registry[type[FeatureExtractor]] = Registry("feature extractor")
EXTRACTORS.register(ClassifierExtractor)
