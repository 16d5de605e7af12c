//! ShuffleNet V2, MobileNet V2 / V3 and EfficientNet-B0, as torchvision 0.14 builds them.

use super::{conv_norm_act, make_divisible, squeeze_excitation, Act};
use crate::graph::{Conv, Graph, Pool, Value};

const EPS: f32 = 1e-5;
/// MobileNet V3's `BatchNorm2d(eps=0.001, momentum=0.01)`.
const EPS_V3: f32 = 1e-3;

/// torchvision's shufflenetv2 `InvertedResidual`.
fn shuffle_unit(g: &mut Graph, p: &str, x: &Value, out: usize, stride: usize) -> Value {
    let bf = out / 2;
    let dw = |c: usize| Conv::d2(c, 3).stride(stride).pad(1).groups(c);
    let (left, right_in) = if stride > 1 {
        let inp = x.channels();
        let b = g.conv(&format!("{p}.branch1.0"), x, &dw(inp));
        let b = g.bn(&format!("{p}.branch1.1"), &b, EPS);
        let b = g.conv(&format!("{p}.branch1.2"), &b, &Conv::d2(bf, 1));
        let b = g.bn(&format!("{p}.branch1.3"), &b, EPS);
        (g.relu(&format!("{p}.branch1.4"), &b), x.clone())
    } else {
        g.split_half(&format!("{p}.chunk"), x)
    };
    let b = g.conv(&format!("{p}.branch2.0"), &right_in, &Conv::d2(bf, 1));
    let b = g.bn(&format!("{p}.branch2.1"), &b, EPS);
    let b = g.relu(&format!("{p}.branch2.2"), &b);
    let b = g.conv(&format!("{p}.branch2.3"), &b, &dw(bf));
    let b = g.bn(&format!("{p}.branch2.4"), &b, EPS);
    let b = g.conv(&format!("{p}.branch2.5"), &b, &Conv::d2(bf, 1));
    let b = g.bn(&format!("{p}.branch2.6"), &b, EPS);
    let b = g.relu(&format!("{p}.branch2.7"), &b);
    let y = g.concat(&format!("{p}.cat"), &[left, b]);
    g.channel_shuffle(&format!("{p}.channel_shuffle"), &y, 2)
}

pub(crate) fn shufflenet_v2_x1_0(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let y = conv_norm_act(
        g,
        "conv1",
        x,
        Conv::d2(24, 3).stride(2).pad(1),
        EPS,
        Act::Relu,
    );
    let mut y = g.pool("maxpool", &y, &Pool::max(2, 3).stride(2).pad(1));
    for (s, (repeats, out)) in [(4, 116), (8, 232), (4, 464)].into_iter().enumerate() {
        for i in 0..repeats {
            let stride = if i == 0 { 2 } else { 1 };
            y = shuffle_unit(g, &format!("stage{}.{i}", s + 2), &y, out, stride);
        }
    }
    let y = conv_norm_act(g, "conv5", &y, Conv::d2(1024, 1), EPS, Act::Relu);
    let y = g.global_avg_pool("mean", &y);
    let y = g.flatten("flatten", &y);
    g.linear("fc", &y, classes)
}

pub(crate) fn mobilenet_v2(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let mut y = conv_norm_act(
        g,
        "features.0",
        x,
        Conv::d2(32, 3).stride(2).same(),
        EPS,
        Act::Relu6,
    );
    let mut i = 1;
    // t (expansion), c (out channels), n (repeats), s (first stride)
    for (t, c, n, s) in [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ] {
        for r in 0..n {
            let stride = if r == 0 { s } else { 1 };
            let p = format!("features.{i}.conv");
            let inp = y.channels();
            let hidden = inp * t;
            let mut h = y.clone();
            let mut j = 0;
            if t != 1 {
                h = conv_norm_act(
                    g,
                    &format!("{p}.0"),
                    &h,
                    Conv::d2(hidden, 1),
                    EPS,
                    Act::Relu6,
                );
                j = 1;
            }
            let dw = Conv::d2(hidden, 3).stride(stride).same().groups(hidden);
            h = conv_norm_act(g, &format!("{p}.{j}"), &h, dw, EPS, Act::Relu6);
            h = g.conv(&format!("{p}.{}", j + 1), &h, &Conv::d2(c, 1));
            h = g.bn(&format!("{p}.{}", j + 2), &h, EPS);
            y = if stride == 1 && inp == c {
                g.add(&format!("features.{i}.add"), &y, &h)
            } else {
                h
            };
            i += 1;
        }
    }
    let y = conv_norm_act(
        g,
        &format!("features.{i}"),
        &y,
        Conv::d2(1280, 1),
        EPS,
        Act::Relu6,
    );
    let y = g.global_avg_pool("adaptive_avg_pool2d", &y);
    let y = g.flatten("flatten", &y);
    g.linear("classifier.1", &y, classes)
}

/// One row of MobileNet V3's configuration (torchvision `_mobilenet_v3_conf`, dilation 1).
struct V3 {
    k: usize,
    exp: usize,
    out: usize,
    se: bool,
    hs: bool,
    stride: usize,
}

const fn v3(k: usize, exp: usize, out: usize, se: bool, hs: bool, stride: usize) -> V3 {
    V3 {
        k,
        exp,
        out,
        se,
        hs,
        stride,
    }
}

fn mobilenet_v3(g: &mut Graph, x: &Value, classes: usize, cfg: &[V3], last: usize) -> Value {
    let stem = Conv::d2(16, 3).stride(2).same();
    let mut y = conv_norm_act(g, "features.0", x, stem, EPS_V3, Act::Hardswish);
    for (i, c) in cfg.iter().enumerate() {
        let p = format!("features.{}.block", i + 1);
        let a = if c.hs { Act::Hardswish } else { Act::Relu };
        let inp = y.channels();
        let mut h = y.clone();
        let mut j = 0;
        if c.exp != inp {
            h = conv_norm_act(g, &format!("{p}.0"), &h, Conv::d2(c.exp, 1), EPS_V3, a);
            j += 1;
        }
        let dw = Conv::d2(c.exp, c.k).stride(c.stride).same().groups(c.exp);
        h = conv_norm_act(g, &format!("{p}.{j}"), &h, dw, EPS_V3, a);
        j += 1;
        if c.se {
            let squeeze = make_divisible((c.exp / 4) as f64, 8);
            h = squeeze_excitation(g, &format!("{p}.{j}"), &h, squeeze, Act::Relu, true);
            j += 1;
        }
        h = conv_norm_act(
            g,
            &format!("{p}.{j}"),
            &h,
            Conv::d2(c.out, 1),
            EPS_V3,
            Act::None,
        );
        y = if c.stride == 1 && inp == c.out {
            g.add(&format!("features.{}.add", i + 1), &h, &y)
        } else {
            h
        };
    }
    let lastconv = 6 * y.channels();
    let p = format!("features.{}", cfg.len() + 1);
    let y = conv_norm_act(g, &p, &y, Conv::d2(lastconv, 1), EPS_V3, Act::Hardswish);
    let y = g.global_avg_pool("avgpool", &y);
    let y = g.flatten("flatten", &y);
    let y = g.linear("classifier.0", &y, last);
    let y = g.hardswish("classifier.1", &y);
    g.linear("classifier.3", &y, classes)
}

pub(crate) fn mobilenet_v3_large(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let (f, t) = (false, true);
    let cfg = [
        v3(3, 16, 16, f, f, 1),
        v3(3, 64, 24, f, f, 2),
        v3(3, 72, 24, f, f, 1),
        v3(5, 72, 40, t, f, 2),
        v3(5, 120, 40, t, f, 1),
        v3(5, 120, 40, t, f, 1),
        v3(3, 240, 80, f, t, 2),
        v3(3, 200, 80, f, t, 1),
        v3(3, 184, 80, f, t, 1),
        v3(3, 184, 80, f, t, 1),
        v3(3, 480, 112, t, t, 1),
        v3(3, 672, 112, t, t, 1),
        v3(5, 672, 160, t, t, 2),
        v3(5, 960, 160, t, t, 1),
        v3(5, 960, 160, t, t, 1),
    ];
    mobilenet_v3(g, x, classes, &cfg, 1280)
}

pub(crate) fn mobilenet_v3_small(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let (f, t) = (false, true);
    let cfg = [
        v3(3, 16, 16, t, f, 2),
        v3(3, 72, 24, f, f, 2),
        v3(3, 88, 24, f, f, 1),
        v3(5, 96, 40, t, t, 2),
        v3(5, 240, 40, t, t, 1),
        v3(5, 240, 40, t, t, 1),
        v3(5, 120, 48, t, t, 1),
        v3(5, 144, 48, t, t, 1),
        v3(5, 288, 96, t, t, 2),
        v3(5, 576, 96, t, t, 1),
        v3(5, 576, 96, t, t, 1),
    ];
    mobilenet_v3(g, x, classes, &cfg, 1024)
}

/// torchvision's `MBConv` with the EfficientNet-B0 settings (SiLU, SE with Sigmoid).
fn mbconv(
    g: &mut Graph,
    p: &str,
    x: &Value,
    expand: usize,
    k: usize,
    stride: usize,
    out: usize,
) -> Value {
    let inp = x.channels();
    let exp = make_divisible((inp * expand) as f64, 8);
    let mut h = x.clone();
    let mut j = 0;
    if exp != inp {
        h = conv_norm_act(
            g,
            &format!("{p}.block.0"),
            &h,
            Conv::d2(exp, 1),
            EPS,
            Act::Silu,
        );
        j += 1;
    }
    let dw = Conv::d2(exp, k).stride(stride).same().groups(exp);
    h = conv_norm_act(g, &format!("{p}.block.{j}"), &h, dw, EPS, Act::Silu);
    let squeeze = (inp / 4).max(1);
    h = squeeze_excitation(
        g,
        &format!("{p}.block.{}", j + 1),
        &h,
        squeeze,
        Act::Silu,
        false,
    );
    h = conv_norm_act(
        g,
        &format!("{p}.block.{}", j + 2),
        &h,
        Conv::d2(out, 1),
        EPS,
        Act::None,
    );
    if stride == 1 && inp == out {
        g.add(&format!("{p}.add"), &h, x)
    } else {
        h
    }
}

pub(crate) fn efficientnet_b0(g: &mut Graph, x: &Value, classes: usize) -> Value {
    let stem = Conv::d2(32, 3).stride(2).same();
    let mut y = conv_norm_act(g, "features.0", x, stem, EPS, Act::Silu);
    // expand ratio, kernel, first stride, out channels, layers (Table 1 of Tan & Le 2019)
    let stages = [
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 2),
        (6, 5, 2, 40, 2),
        (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3),
        (6, 5, 2, 192, 4),
        (6, 3, 1, 320, 1),
    ];
    for (s, (e, k, stride, out, n)) in stages.into_iter().enumerate() {
        for l in 0..n {
            let st = if l == 0 { stride } else { 1 };
            y = mbconv(g, &format!("features.{}.{l}", s + 1), &y, e, k, st, out);
        }
    }
    let y = conv_norm_act(g, "features.8", &y, Conv::d2(1280, 1), EPS, Act::Silu);
    let y = g.global_avg_pool("avgpool", &y);
    let y = g.flatten("flatten", &y);
    g.linear("classifier.1", &y, classes)
}
