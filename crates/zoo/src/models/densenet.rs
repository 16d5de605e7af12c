//! DenseNet-121 (torchvision `densenet.py`) and its 3D version (Hara et al. 2018).

use crate::graph::{Conv, Graph, Pool, Value};

const EPS: f32 = 1e-5;
const GROWTH: usize = 32;
const BN_SIZE: usize = 4;
const BLOCKS: [usize; 4] = [6, 12, 24, 16];

/// `rank` 2 or 3. In 2D, every layer concatenates all earlier features itself, as
/// torchvision's `_DenseLayer.bn_function` does; in 3D each layer appends its features to its
/// input, as the `nn.Sequential` layers of 3D-ResNets-PyTorch do. Both compute the same function.
fn densenet(g: &mut Graph, x: &Value, classes: usize, rank: usize, stem: Conv) -> Value {
    let y = g.conv("features.conv0", x, &stem);
    let y = g.bn("features.norm0", &y, EPS);
    let y = g.relu("features.relu0", &y);
    let mut y = g.pool("features.pool0", &y, &Pool::max(rank, 3).stride(2).pad(1));
    for (b, &n) in BLOCKS.iter().enumerate() {
        let block = format!("features.denseblock{}", b + 1);
        let mut features = vec![y.clone()];
        for l in 0..n {
            let p = format!("{block}.denselayer{}", l + 1);
            let input = if features.len() == 1 {
                features[0].clone()
            } else {
                g.concat(&format!("{p}.cat"), &features)
            };
            let h = g.bn(&format!("{p}.norm1"), &input, EPS);
            let h = g.relu(&format!("{p}.relu1"), &h);
            let h = g.conv(
                &format!("{p}.conv1"),
                &h,
                &Conv::new(BN_SIZE * GROWTH, &vec![1; rank]),
            );
            let h = g.bn(&format!("{p}.norm2"), &h, EPS);
            let h = g.relu(&format!("{p}.relu2"), &h);
            let new = g.conv(
                &format!("{p}.conv2"),
                &h,
                &Conv::new(GROWTH, &vec![3; rank]).pad(1),
            );
            if rank == 3 {
                features = vec![input.clone(), new];
            } else {
                features.push(new);
            }
        }
        y = g.concat(&format!("{block}.cat"), &features);
        if b + 1 < BLOCKS.len() {
            let p = format!("features.transition{}", b + 1);
            let t = g.bn(&format!("{p}.norm"), &y, EPS);
            let t = g.relu(&format!("{p}.relu"), &t);
            let t = g.conv(
                &format!("{p}.conv"),
                &t,
                &Conv::new(y.channels() / 2, &vec![1; rank]),
            );
            y = g.pool(&format!("{p}.pool"), &t, &Pool::avg(rank, 2));
        }
    }
    let y = g.bn("features.norm5", &y, EPS);
    let y = g.relu("relu", &y);
    let y = g.global_avg_pool("avgpool", &y);
    let y = g.flatten("flatten", &y);
    g.linear("classifier", &y, classes)
}

pub(crate) fn densenet121(g: &mut Graph, x: &Value, classes: usize) -> Value {
    densenet(g, x, classes, 2, Conv::d2(64, 7).stride(2).pad(3))
}

/// 3D DenseNet-121 of Hara et al. 2018 (3D-ResNets-PyTorch `models/densenet.py`): the 7x7x7
/// stem with stride (1, 2, 2) keeps all 16 frames, 3D max pooling and transitions halve time
/// and space; a 16x112x112 clip ends as 1x3x3 before the global average.
pub(crate) fn densenet3d_121(g: &mut Graph, x: &Value, classes: usize) -> Value {
    densenet(g, x, classes, 3, Conv::d3(64, 7).strides(&[1, 2, 2]).pad(3))
}
