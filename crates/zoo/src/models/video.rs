//! Video action recognition: torchvision's video ResNets (`models/video/resnet.py`) and the
//! study's custom 3D CNNs. Input N x 3 x T x H x W.

use super::conv_norm_act;
use super::Act;
use crate::graph::{Conv, Graph, Pool, Value};

const EPS: f32 = 1e-5;

/// torchvision's `conv_builder` classes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Builder {
    /// `Conv3DSimple`: 3x3x3.
    Simple,
    /// `Conv3DNoTemporal`: 1x3x3, stride (1, s, s).
    NoTemporal,
    /// `Conv2Plus1D`: 1x3x3 to `midplanes`, BN, ReLU, 3x1x1.
    TwoPlusOne,
}

/// The spatiotemporal convolution of a block (`conv1.0` or `conv2.0`), without its BN.
fn st_conv(
    g: &mut Graph,
    p: &str,
    x: &Value,
    b: Builder,
    out: usize,
    mid: usize,
    s: usize,
) -> Value {
    match b {
        Builder::Simple => g.conv(p, x, &Conv::d3(out, 3).stride(s).pad(1)),
        Builder::NoTemporal => g.conv(
            p,
            x,
            &Conv::new(out, &[1, 3, 3])
                .strides(&[1, s, s])
                .pads(&[0, 1, 1]),
        ),
        Builder::TwoPlusOne => {
            let c = Conv::new(mid, &[1, 3, 3])
                .strides(&[1, s, s])
                .pads(&[0, 1, 1]);
            let y = g.conv(&format!("{p}.0"), x, &c);
            let y = g.bn(&format!("{p}.1"), &y, EPS);
            let y = g.relu(&format!("{p}.2"), &y);
            let c = Conv::new(out, &[3, 1, 1])
                .strides(&[s, 1, 1])
                .pads(&[1, 0, 0]);
            g.conv(&format!("{p}.3"), &y, &c)
        }
    }
}

/// torchvision's video `BasicBlock`.
fn block(g: &mut Graph, p: &str, x: &Value, b: Builder, planes: usize, stride: usize) -> Value {
    let inplanes = x.channels();
    let mid = (inplanes * planes * 27) / (inplanes * 9 + 3 * planes);
    let y = st_conv(g, &format!("{p}.conv1.0"), x, b, planes, mid, stride);
    let y = g.bn(&format!("{p}.conv1.1"), &y, EPS);
    let y = g.relu(&format!("{p}.conv1.2"), &y);
    let y = st_conv(g, &format!("{p}.conv2.0"), &y, b, planes, mid, 1);
    let y = g.bn(&format!("{p}.conv2.1"), &y, EPS);
    let identity = if stride != 1 || inplanes != planes {
        let ds = if b == Builder::NoTemporal {
            vec![1, stride, stride]
        } else {
            vec![stride; 3]
        };
        let c = Conv::new(planes, &[1, 1, 1]).strides(&ds);
        let d = g.conv(&format!("{p}.downsample.0"), x, &c);
        g.bn(&format!("{p}.downsample.1"), &d, EPS)
    } else {
        x.clone()
    };
    let y = g.add(&format!("{p}.add"), &y, &identity);
    g.relu(&format!("{p}.relu"), &y)
}

fn video_resnet(g: &mut Graph, x: &Value, classes: usize, builders: [Builder; 4]) -> Value {
    let mut y = if builders[0] == Builder::TwoPlusOne {
        // R2Plus1dStem
        let c = Conv::new(45, &[1, 7, 7])
            .strides(&[1, 2, 2])
            .pads(&[0, 3, 3]);
        let y = conv_norm_act(g, "stem", x, c, EPS, Act::Relu);
        let c = Conv::new(64, &[3, 1, 1]).pads(&[1, 0, 0]);
        let y = g.conv("stem.3", &y, &c);
        let y = g.bn("stem.4", &y, EPS);
        g.relu("stem.5", &y)
    } else {
        // BasicStem
        let c = Conv::new(64, &[3, 7, 7])
            .strides(&[1, 2, 2])
            .pads(&[1, 3, 3]);
        conv_norm_act(g, "stem", x, c, EPS, Act::Relu)
    };
    for (i, b) in builders.into_iter().enumerate() {
        for j in 0..2 {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            y = block(g, &format!("layer{}.{j}", i + 1), &y, b, 64 << i, stride);
        }
    }
    let y = g.global_avg_pool("avgpool", &y);
    let y = g.flatten("flatten", &y);
    g.linear("fc", &y, classes)
}

pub(crate) fn r3d_18(g: &mut Graph, x: &Value, classes: usize) -> Value {
    video_resnet(g, x, classes, [Builder::Simple; 4])
}

pub(crate) fn mc3_18(g: &mut Graph, x: &Value, classes: usize) -> Value {
    use Builder::*;
    video_resnet(g, x, classes, [Simple, NoTemporal, NoTemporal, NoTemporal])
}

pub(crate) fn r2plus1d_18(g: &mut Graph, x: &Value, classes: usize) -> Value {
    video_resnet(g, x, classes, [Builder::TwoPlusOne; 4])
}

/// The 5-convolution C3D of Tran et al. 2015, section 3.2 ("common network settings" of the
/// kernel temporal depth study), with depth-3 kernels throughout: 3x3x3 convolutions with 64,
/// 128, 256, 256, 256 filters, each followed by ReLU and max pooling (1x2x2 after the first,
/// 2x2x2 after the others), two fully connected layers of 2048 and the classifier. No
/// normalization, as in the paper. A 16x112x112 clip ends as 256x1x3x3.
pub(crate) fn c3d_small(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let mut y = x.clone();
    for (i, out) in [64, 128, 256, 256, 256].into_iter().enumerate() {
        let n = i + 1;
        y = g.conv(&format!("conv{n}"), &y, &Conv::d3(out, 3).pad(1).bias(true));
        y = g.relu(&format!("relu{n}"), &y);
        let pool = if i == 0 {
            Pool::new(crate::graph::PoolKind::Max, &[1, 2, 2])
        } else {
            Pool::max(3, 2)
        };
        y = g.pool(&format!("pool{n}"), &y, &pool);
    }
    let y = g.flatten("flatten", &y);
    let y = g.linear("fc6", &y, 2048);
    let y = g.relu("relu6", &y);
    let y = g.linear("fc7", &y, 2048);
    let y = g.relu("relu7", &y);
    g.linear("fc8", &y, classes)
}

/// The encoder of a 3D convolutional autoencoder followed by a classification head (see
/// docs/zoo.md for the decoder it was paired with): four Conv3d(3x3x3)-BN-ReLU stages with
/// 32, 64, 128, 256 filters, the first downsampling space only (stride 1x2x2), the others
/// time and space (stride 2); a 16x112x112 clip becomes a 256x2x7x7 code. The head is global
/// average pooling, Linear(256, 128), ReLU, dropout and Linear(128, classes).
pub(crate) fn ae3d(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let mut y = x.clone();
    for (i, out) in [32, 64, 128, 256].into_iter().enumerate() {
        let s = if i == 0 { [1, 2, 2] } else { [2, 2, 2] };
        let c = Conv::d3(out, 3).strides(&s).pad(1);
        y = conv_norm_act(g, &format!("encoder.{i}"), &y, c, EPS, Act::Relu);
    }
    let y = g.global_avg_pool("avgpool", &y);
    let y = g.flatten("flatten", &y);
    let y = g.linear("classifier.0", &y, 128);
    let y = g.relu("classifier.1", &y);
    g.linear("classifier.3", &y, classes)
}
