//! ResNet (torchvision `resnet.py`, He et al. 2015) and the pre-activation ResNet-50 v2 (He et al.
//! 2016).

use super::conv_bn;
use crate::graph::{Conv, Graph, Pool, Value};

const EPS: f32 = 1e-5;

fn stem(g: &mut Graph, x: &Value) -> Value {
    let y = conv_bn(g, "conv1", "bn1", x, Conv::d2(64, 7).stride(2).pad(3), EPS);
    let y = g.relu("relu", &y);
    g.pool("maxpool", &y, &Pool::max(2, 3).stride(2).pad(1))
}

fn head(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let y = g.global_avg_pool("avgpool", x);
    let y = g.flatten("flatten", &y);
    g.linear("fc", &y, classes)
}

/// torchvision's `BasicBlock`: two 3x3 convolutions, the first carries the stride.
fn basic_block(g: &mut Graph, p: &str, x: &Value, planes: usize, stride: usize) -> Value {
    let c1 = Conv::d2(planes, 3).stride(stride).pad(1);
    let y = conv_bn(g, &format!("{p}.conv1"), &format!("{p}.bn1"), x, c1, EPS);
    let y = g.relu(&format!("{p}.relu"), &y);
    let c2 = Conv::d2(planes, 3).pad(1);
    let y = conv_bn(g, &format!("{p}.conv2"), &format!("{p}.bn2"), &y, c2, EPS);
    let identity = downsample(g, p, x, planes, stride);
    let y = g.add(&format!("{p}.add"), &y, &identity);
    g.relu(&format!("{p}.relu_out"), &y)
}

fn downsample(g: &mut Graph, p: &str, x: &Value, out: usize, stride: usize) -> Value {
    if stride == 1 && x.channels() == out {
        return x.clone();
    }
    let c = Conv::d2(out, 1).stride(stride);
    conv_bn(
        g,
        &format!("{p}.downsample.0"),
        &format!("{p}.downsample.1"),
        x,
        c,
        EPS,
    )
}

/// torchvision's `Bottleneck` (ResNet v1.5): the stride sits on the 3x3 convolution.
fn bottleneck(g: &mut Graph, p: &str, x: &Value, planes: usize, stride: usize) -> Value {
    let y = conv_bn(
        g,
        &format!("{p}.conv1"),
        &format!("{p}.bn1"),
        x,
        Conv::d2(planes, 1),
        EPS,
    );
    let y = g.relu(&format!("{p}.relu"), &y);
    let c2 = Conv::d2(planes, 3).stride(stride).pad(1);
    let y = conv_bn(g, &format!("{p}.conv2"), &format!("{p}.bn2"), &y, c2, EPS);
    let y = g.relu(&format!("{p}.relu_1"), &y);
    let c3 = Conv::d2(planes * 4, 1);
    let y = conv_bn(g, &format!("{p}.conv3"), &format!("{p}.bn3"), &y, c3, EPS);
    let identity = downsample(g, p, x, planes * 4, stride);
    let y = g.add(&format!("{p}.add"), &y, &identity);
    g.relu(&format!("{p}.relu_out"), &y)
}

fn resnet(g: &mut Graph, x: &Value, classes: usize, layers: [usize; 4], bottle: bool) -> Value {
    let mut y = stem(g, x);
    for (i, &n) in layers.iter().enumerate() {
        let planes = 64 << i;
        for j in 0..n {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            let p = format!("layer{}.{j}", i + 1);
            y = if bottle {
                bottleneck(g, &p, &y, planes, stride)
            } else {
                basic_block(g, &p, &y, planes, stride)
            };
        }
    }
    head(g, &y, classes)
}

pub(crate) fn resnet18(g: &mut Graph, x: &Value, classes: usize) -> Value {
    resnet(g, x, classes, [2, 2, 2, 2], false)
}

pub(crate) fn resnet34(g: &mut Graph, x: &Value, classes: usize) -> Value {
    resnet(g, x, classes, [3, 4, 6, 3], false)
}

pub(crate) fn resnet50(g: &mut Graph, x: &Value, classes: usize) -> Value {
    resnet(g, x, classes, [3, 4, 6, 3], true)
}

/// Full pre-activation bottleneck (He et al. 2016, Fig. 1b / 4e): BN-ReLU before every
/// convolution, nothing after the addition. The projection shortcut takes the pre-activated
/// input ("when pre-activation is used, the projection shortcut is applied after the shared
/// BN-ReLU", Appendix). The stride sits on the 3x3 convolution, as in timm's `resnetv2_50` and
/// fb.resnet.torch's `preresnet.lua`.
fn preact_bottleneck(g: &mut Graph, p: &str, x: &Value, planes: usize, stride: usize) -> Value {
    let pre = g.bn(&format!("{p}.bn1"), x, EPS);
    let pre = g.relu(&format!("{p}.relu1"), &pre);
    let shortcut = if stride != 1 || x.channels() != planes * 4 {
        let c = Conv::d2(planes * 4, 1).stride(stride);
        g.conv(&format!("{p}.downsample"), &pre, &c)
    } else {
        x.clone()
    };
    let y = g.conv(&format!("{p}.conv1"), &pre, &Conv::d2(planes, 1));
    let y = g.bn(&format!("{p}.bn2"), &y, EPS);
    let y = g.relu(&format!("{p}.relu2"), &y);
    let y = g.conv(
        &format!("{p}.conv2"),
        &y,
        &Conv::d2(planes, 3).stride(stride).pad(1),
    );
    let y = g.bn(&format!("{p}.bn3"), &y, EPS);
    let y = g.relu(&format!("{p}.relu3"), &y);
    let y = g.conv(&format!("{p}.conv3"), &y, &Conv::d2(planes * 4, 1));
    g.add(&format!("{p}.add"), &y, &shortcut)
}

/// Pre-activation ResNet-50: stem convolution and max pooling without normalization (the first
/// block normalizes), stages [3, 4, 6, 3], then the final BN-ReLU that pre-activation moves out
/// of the last block.
pub(crate) fn resnet50v2(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let y = g.conv("conv1", x, &Conv::d2(64, 7).stride(2).pad(3));
    let mut y = g.pool("maxpool", &y, &Pool::max(2, 3).stride(2).pad(1));
    for (i, &n) in [3usize, 4, 6, 3].iter().enumerate() {
        let planes = 64 << i;
        for j in 0..n {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            y = preact_bottleneck(g, &format!("layer{}.{j}", i + 1), &y, planes, stride);
        }
    }
    let y = g.bn("final_bn", &y, EPS);
    let y = g.relu("final_relu", &y);
    head(g, &y, classes)
}
