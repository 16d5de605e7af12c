//! The architectures, one module per family, and the blocks several families share.

pub(crate) mod classic;
pub(crate) mod densenet;
pub(crate) mod mobile;
pub(crate) mod resnet;
pub(crate) mod video;

use crate::graph::{Conv, Graph, Value};

/// The activation that follows a convolution and its normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    None,
    Relu,
    Relu6,
    Hardswish,
    Silu,
}

/// Applies `act` as a module named `name`.
pub(crate) fn act(g: &mut Graph, name: &str, x: &Value, act: Act) -> Value {
    match act {
        Act::None => x.clone(),
        Act::Relu => g.relu(name, x),
        Act::Relu6 => g.relu6(name, x),
        Act::Hardswish => g.hardswish(name, x),
        Act::Silu => g.silu(name, x),
    }
}

/// torchvision's `Conv2dNormActivation` / `Conv3dNormActivation`: `name.0` the convolution
/// (no bias), `name.1` the BatchNormalization, `name.2` the activation.
pub(crate) fn conv_norm_act(
    g: &mut Graph,
    name: &str,
    x: &Value,
    conv: Conv,
    eps: f32,
    a: Act,
) -> Value {
    let y = g.conv(&format!("{name}.0"), x, &conv.bias(false));
    let y = g.bn(&format!("{name}.1"), &y, eps);
    act(g, &format!("{name}.2"), &y, a)
}

/// A convolution `conv_name` followed by BatchNormalization `bn_name` and an optional ReLU.
pub(crate) fn conv_bn(
    g: &mut Graph,
    conv_name: &str,
    bn_name: &str,
    x: &Value,
    conv: Conv,
    eps: f32,
) -> Value {
    let y = g.conv(conv_name, x, &conv.bias(false));
    g.bn(bn_name, &y, eps)
}

/// torchvision's `SqueezeExcitation` named `name`: global average pool, `fc1` (1x1 conv with
/// bias), `act`, `fc2`, the scale activation, and the product with the input.
pub(crate) fn squeeze_excitation(
    g: &mut Graph,
    name: &str,
    x: &Value,
    squeeze: usize,
    act_fn: Act,
    hard_scale: bool,
) -> Value {
    let s = g.global_avg_pool(&format!("{name}.avgpool"), x);
    let s = g.conv(&format!("{name}.fc1"), &s, &Conv::d2(squeeze, 1).bias(true));
    let s = act(g, &format!("{name}.activation"), &s, act_fn);
    let s = g.conv(
        &format!("{name}.fc2"),
        &s,
        &Conv::d2(x.channels(), 1).bias(true),
    );
    let s = if hard_scale {
        g.hardsigmoid(&format!("{name}.scale_activation"), &s)
    } else {
        g.sigmoid(&format!("{name}.scale_activation"), &s)
    };
    g.mul(&format!("{name}.scale"), x, &s)
}

/// torchvision's `_make_divisible`: rounds channels to a multiple of `divisor`, never more than
/// 10 % down.
pub(crate) fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = (d.max(((v + d / 2.0) / d).floor() * d)) as usize;
    if (new_v as f64) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}
