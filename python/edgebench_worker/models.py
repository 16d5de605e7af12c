"""PyTorch definitions of the zoo models that torchvision does not have: the study's custom
action-recognition models (c3d_small, ae3d, densenet3d_121) and resnet50v2.

They are these models' PyTorch twins: the torch engine runs `zoo:NAME` with them and the zoo's
weights (edgebench's "before", PyTorch eager, as for the torchvision twins), and
python/zoo_check checks them against the zoo's ONNX graphs (parameters, layer sequence,
state_dict keys, outputs with the same weights). Their `state_dict()` keys are the zoo's
initializer names (crates/zoo/src/models/*.rs); see docs/zoo.md for the sources. Written for
Python 3.6 and torch 1.8 and newer, like the rest of the worker.
"""

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


class PreActBottleneck(nn.Module):
    """Full pre-activation bottleneck (He et al. 2016, "Identity Mappings", Fig. 1b).

    The projection shortcut takes the pre-activated input; the stride sits on the 3x3
    convolution (timm resnetv2_50, fb.resnet.torch preresnet.lua)."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        out = planes * 4
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Conv2d(inplanes, out, 1, stride=stride, bias=False)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        shortcut = self.downsample(pre) if self.downsample is not None else x
        y = self.conv1(pre)
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + shortcut


class ResNet50V2(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, n in enumerate([3, 4, 6, 3]):
            planes = 64 << i
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(PreActBottleneck(inplanes, planes, stride))
                inplanes = planes * 4
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.final_bn = nn.BatchNorm2d(inplanes)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.relu(self.final_bn(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class C3DSmall(nn.Module):
    """Tran et al. 2015, section 3.2: 5 conv layers (64, 128, 256, 256, 256), depth-3 kernels,
    pool1 1x2x2, pool2-5 2x2x2, two fc layers of 2048."""

    def __init__(self, num_classes=4):
        super().__init__()
        cin = 3
        for i, c in enumerate([64, 128, 256, 256, 256]):
            setattr(self, "conv%d" % (i + 1), nn.Conv3d(cin, c, 3, padding=1))
            setattr(self, "pool%d" % (i + 1), nn.MaxPool3d((1, 2, 2) if i == 0 else 2))
            cin = c
        self.fc6 = nn.Linear(256 * 1 * 3 * 3, 2048)
        self.fc7 = nn.Linear(2048, 2048)
        self.fc8 = nn.Linear(2048, num_classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        for i in range(1, 6):
            x = getattr(self, "pool%d" % i)(F.relu(getattr(self, "conv%d" % i)(x)))
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc6(x)))
        x = self.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)


class AE3D(nn.Module):
    """Encoder of the 3D convolutional autoencoder of docs/zoo.md plus a classification head.

    The decoder (not part of the classifier) mirrors the encoder with ConvTranspose3d layers:
    256->128, 128->64, 64->32 (kernel 4, stride 2, padding 1) and 32->3 (kernel (3, 4, 4),
    stride (1, 2, 2), padding 1), trained to reconstruct the clip."""

    def __init__(self, num_classes=4):
        super().__init__()
        stages, cin = [], 3
        for i, c in enumerate([32, 64, 128, 256]):
            stride = (1, 2, 2) if i == 0 else 2
            stages.append(
                nn.Sequential(
                    nn.Conv3d(cin, c, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm3d(c),
                    nn.ReLU(inplace=True),
                )
            )
            cin = c
        self.encoder = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Sequential(
            nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(128, num_classes)
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.encoder(x)), 1))


class DenseLayer3d(nn.Module):
    def __init__(self, cin, growth=32, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm3d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv3d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm3d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv3d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        new = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat([x, new], 1)


class DenseNet3D121(nn.Module):
    """DenseNet-121 in 3D after Hara et al. 2018 (kenshohara/3D-ResNets-PyTorch
    models/densenet.py): 7x7x7 stem with stride (1, 2, 2), 3D max pooling, blocks
    (6, 12, 24, 16), growth 32, bottleneck 4, transitions with 2x2x2 average pooling."""

    def __init__(self, num_classes=4):
        super().__init__()
        feats = OrderedDict(
            conv0=nn.Conv3d(3, 64, 7, stride=(1, 2, 2), padding=3, bias=False),
            norm0=nn.BatchNorm3d(64),
            relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool3d(3, stride=2, padding=1),
        )
        c = 64
        for i, n in enumerate([6, 12, 24, 16]):
            layers = OrderedDict()
            for j in range(n):
                layers["denselayer%d" % (j + 1)] = DenseLayer3d(c + j * 32)
            feats["denseblock%d" % (i + 1)] = nn.Sequential(layers)
            c += n * 32
            if i < 3:
                feats["transition%d" % (i + 1)] = nn.Sequential(
                    OrderedDict(
                        norm=nn.BatchNorm3d(c),
                        relu=nn.ReLU(inplace=True),
                        conv=nn.Conv3d(c, c // 2, 1, bias=False),
                        pool=nn.AvgPool3d(2, stride=2),
                    )
                )
                c //= 2
        feats["norm5"] = nn.BatchNorm3d(c)
        self.features = nn.Sequential(feats)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool3d(x, 1)
        return self.classifier(torch.flatten(x, 1))


BUILDERS = {
    "resnet50v2": ResNet50V2,
    "c3d_small": C3DSmall,
    "ae3d": AE3D,
    "densenet3d_121": DenseNet3D121,
}
"""The zoo's name -> the class; the zoo names the same builder (`edgebench_twin`)."""


def build(name, kwargs):
    """`BUILDERS[name](**kwargs)`; kwargs: `num_classes`."""
    cls = BUILDERS.get(name)
    if cls is None:
        raise KeyError(name)
    return cls(**kwargs)
