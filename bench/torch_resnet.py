"""The same ResNet-18 topology in PyTorch (bench-only peer): small or ImageNet stem, width multiplier."""

import torch
from torch import nn


class Block(nn.Module):
  def __init__(self, cin, cout, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout)
    self.shortcut = None
    if stride != 1 or cin != cout:
      self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return torch.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class TorchResNet18(nn.Module):
  def __init__(self, num_classes, in_channels=1, width=64, stem="small"):
    super().__init__()
    if stem == "imagenet":
      self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                nn.MaxPool2d(3, 2, 1))
    else:
      self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
    layers, cin = [], width
    for stage in range(4):
      cout = width * 2 ** stage
      layers += [Block(cin, cout, 2 if stage else 1), Block(cout, cout, 1)]
      cin = cout
    self.layers = nn.Sequential(*layers)
    self.head = nn.Linear(cin, num_classes)

  def forward(self, x):
    return self.head(self.layers(self.stem(x)).mean(dim=(2, 3)))
