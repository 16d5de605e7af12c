//! AlexNet, VGG, SqueezeNet and GoogLeNet, as torchvision 0.14 builds them.
//!
//! Dropout is the identity at inference and has no node. AlexNet's `AdaptiveAvgPool2d((6, 6))`
//! and VGG's `AdaptiveAvgPool2d((7, 7))` receive a 6x6 / 7x7 map at 224x224 and are the
//! identity there, so they have no node either.

use crate::graph::{Conv, Graph, Pool, Value};

pub(crate) fn alexnet(g: &mut Graph, x: &Value, classes: usize) -> Value {
    // (index in `features`, out channels, kernel, stride, padding, max pool after)
    let convs: [(usize, usize, usize, usize, usize, bool); 5] = [
        (0, 64, 11, 4, 2, true),
        (3, 192, 5, 1, 2, true),
        (6, 384, 3, 1, 1, false),
        (8, 256, 3, 1, 1, false),
        (10, 256, 3, 1, 1, true),
    ];
    let mut y = x.clone();
    for (i, out, k, s, p, pool) in convs {
        let c = Conv::d2(out, k).stride(s).pad(p).bias(true);
        y = g.conv(&format!("features.{i}"), &y, &c);
        y = g.relu(&format!("features.{}", i + 1), &y);
        if pool {
            y = g.pool(
                &format!("features.{}", i + 2),
                &y,
                &Pool::max(2, 3).stride(2),
            );
        }
    }
    let y = g.flatten("flatten", &y);
    let y = g.linear("classifier.1", &y, 4096);
    let y = g.relu("classifier.2", &y);
    let y = g.linear("classifier.4", &y, 4096);
    let y = g.relu("classifier.5", &y);
    g.linear("classifier.6", &y, classes)
}

/// `0` stands for a max pooling ("M" in torchvision's `cfgs`).
fn vgg(g: &mut Graph, x: &Value, classes: usize, cfg: &[usize]) -> Value {
    let mut y = x.clone();
    let mut i = 0;
    for &v in cfg {
        if v == 0 {
            y = g.pool(&format!("features.{i}"), &y, &Pool::max(2, 2));
            i += 1;
        } else {
            y = g.conv(
                &format!("features.{i}"),
                &y,
                &Conv::d2(v, 3).pad(1).bias(true),
            );
            y = g.relu(&format!("features.{}", i + 1), &y);
            i += 2;
        }
    }
    let y = g.flatten("flatten", &y);
    let y = g.linear("classifier.0", &y, 4096);
    let y = g.relu("classifier.1", &y);
    let y = g.linear("classifier.3", &y, 4096);
    let y = g.relu("classifier.4", &y);
    g.linear("classifier.6", &y, classes)
}

pub(crate) fn vgg11(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let a = [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0];
    vgg(g, x, classes, &a)
}

pub(crate) fn vgg16(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let d = [
        64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
    ];
    vgg(g, x, classes, &d)
}

pub(crate) fn vgg19(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let e = [
        64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0,
    ];
    vgg(g, x, classes, &e)
}

/// torchvision's `Fire`: squeeze 1x1, then expand 1x1 and expand 3x3 concatenated.
fn fire(g: &mut Graph, p: &str, x: &Value, squeeze: usize, e1: usize, e3: usize) -> Value {
    let s = g.conv(&format!("{p}.squeeze"), x, &Conv::d2(squeeze, 1).bias(true));
    let s = g.relu(&format!("{p}.squeeze_activation"), &s);
    let a = g.conv(&format!("{p}.expand1x1"), &s, &Conv::d2(e1, 1).bias(true));
    let a = g.relu(&format!("{p}.expand1x1_activation"), &a);
    let b = g.conv(
        &format!("{p}.expand3x3"),
        &s,
        &Conv::d2(e3, 3).pad(1).bias(true),
    );
    let b = g.relu(&format!("{p}.expand3x3_activation"), &b);
    g.concat(&format!("{p}.cat"), &[a, b])
}

/// A SqueezeNet `features` entry: a Fire module (squeeze, expand) or a max pooling.
enum Sq {
    Fire(usize, usize),
    Pool,
}

fn squeezenet(g: &mut Graph, x: &Value, classes: usize, stem: Conv, layers: &[Sq]) -> Value {
    let y = g.conv("features.0", x, &stem.bias(true));
    let y = g.relu("features.1", &y);
    let pool = Pool::max(2, 3).stride(2).ceil();
    let mut y = g.pool("features.2", &y, &pool);
    for (i, l) in layers.iter().enumerate() {
        let p = format!("features.{}", i + 3);
        y = match *l {
            Sq::Fire(s, e) => fire(g, &p, &y, s, e, e),
            Sq::Pool => g.pool(&p, &y, &pool),
        };
    }
    let y = g.conv("classifier.1", &y, &Conv::d2(classes, 1).bias(true));
    let y = g.relu("classifier.2", &y);
    let y = g.global_avg_pool("classifier.3", &y);
    g.flatten("flatten", &y)
}

pub(crate) fn squeezenet1_0(g: &mut Graph, x: &Value, classes: usize) -> Value {
    use Sq::*;
    let layers = [
        Fire(16, 64),
        Fire(16, 64),
        Fire(32, 128),
        Pool,
        Fire(32, 128),
        Fire(48, 192),
        Fire(48, 192),
        Fire(64, 256),
        Pool,
        Fire(64, 256),
    ];
    squeezenet(g, x, classes, Conv::d2(96, 7).stride(2), &layers)
}

pub(crate) fn squeezenet1_1(g: &mut Graph, x: &Value, classes: usize) -> Value {
    use Sq::*;
    let layers = [
        Fire(16, 64),
        Fire(16, 64),
        Pool,
        Fire(32, 128),
        Fire(32, 128),
        Pool,
        Fire(48, 192),
        Fire(48, 192),
        Fire(64, 256),
        Fire(64, 256),
    ];
    squeezenet(g, x, classes, Conv::d2(64, 3).stride(2), &layers)
}

/// torchvision's `BasicConv2d`: convolution without bias, BatchNorm with eps 0.001, ReLU.
fn basic_conv(g: &mut Graph, p: &str, x: &Value, c: Conv) -> Value {
    let y = g.conv(&format!("{p}.conv"), x, &c);
    let y = g.bn(&format!("{p}.bn"), &y, 1e-3);
    g.relu(&format!("{p}.relu"), &y)
}

/// torchvision's `Inception`, including its 3x3 (not 5x5) convolution in branch 3
/// (pytorch/vision#906).
fn inception(g: &mut Graph, p: &str, x: &Value, ch: [usize; 6]) -> Value {
    let [c1, c3r, c3, c5r, c5, pp] = ch;
    let b1 = basic_conv(g, &format!("{p}.branch1"), x, Conv::d2(c1, 1));
    let b2 = basic_conv(g, &format!("{p}.branch2.0"), x, Conv::d2(c3r, 1));
    let b2 = basic_conv(g, &format!("{p}.branch2.1"), &b2, Conv::d2(c3, 3).pad(1));
    let b3 = basic_conv(g, &format!("{p}.branch3.0"), x, Conv::d2(c5r, 1));
    let b3 = basic_conv(g, &format!("{p}.branch3.1"), &b3, Conv::d2(c5, 3).pad(1));
    let pool = Pool::max(2, 3).stride(1).pad(1).ceil();
    let b4 = g.pool(&format!("{p}.branch4.0"), x, &pool);
    let b4 = basic_conv(g, &format!("{p}.branch4.1"), &b4, Conv::d2(pp, 1));
    g.concat(&format!("{p}.cat"), &[b1, b2, b3, b4])
}

/// GoogLeNet as `googlenet(aux_logits=False, transform_input=False)` runs at inference.
pub(crate) fn googlenet(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let pool = Pool::max(2, 3).stride(2).ceil();
    let y = basic_conv(g, "conv1", x, Conv::d2(64, 7).stride(2).pad(3));
    let y = g.pool("maxpool1", &y, &pool);
    let y = basic_conv(g, "conv2", &y, Conv::d2(64, 1));
    let y = basic_conv(g, "conv3", &y, Conv::d2(192, 3).pad(1));
    let y = g.pool("maxpool2", &y, &pool);
    let y = inception(g, "inception3a", &y, [64, 96, 128, 16, 32, 32]);
    let y = inception(g, "inception3b", &y, [128, 128, 192, 32, 96, 64]);
    let y = g.pool("maxpool3", &y, &pool);
    let y = inception(g, "inception4a", &y, [192, 96, 208, 16, 48, 64]);
    let y = inception(g, "inception4b", &y, [160, 112, 224, 24, 64, 64]);
    let y = inception(g, "inception4c", &y, [128, 128, 256, 24, 64, 64]);
    let y = inception(g, "inception4d", &y, [112, 144, 288, 32, 64, 64]);
    let y = inception(g, "inception4e", &y, [256, 160, 320, 32, 128, 128]);
    let y = g.pool("maxpool4", &y, &Pool::max(2, 2).stride(2).ceil());
    let y = inception(g, "inception5a", &y, [256, 160, 320, 32, 128, 128]);
    let y = inception(g, "inception5b", &y, [384, 192, 384, 48, 128, 128]);
    let y = g.global_avg_pool("avgpool", &y);
    let y = g.flatten("flatten", &y);
    g.linear("fc", &y, classes)
}
