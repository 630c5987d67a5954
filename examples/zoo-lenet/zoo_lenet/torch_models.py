"""LeNet-5 in PyTorch (``lenet5-torch``). torch is imported when a model is built."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from zoo_lenet.geometry import flat_features, padding


def lenet5(*, num_classes: int, in_chans: int, img_size: tuple[int, int]) -> Any:
    """An ``nn.Sequential`` LeNet-5 returning logits for ``(N, in_chans, H, W)`` inputs."""
    from torch import nn

    (top, bottom), (left, right) = padding(img_size)
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    if top or bottom or left or right:
        stages["pad"] = nn.ZeroPad2d((left, right, top, bottom))
    stages.update(
        conv1=nn.Conv2d(in_chans, 6, 5), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(6, 16, 5), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(),
        fc1=nn.Linear(flat_features(img_size), 120), relu3=nn.ReLU(),
        fc2=nn.Linear(120, 84), relu4=nn.ReLU(),
        fc3=nn.Linear(84, num_classes),
    )
    model = nn.Sequential(stages)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):  # Keras' defaults, for parity with lenet5-keras
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return model
