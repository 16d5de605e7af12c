//! The table of built-in models: name, task, input, defaults, citation, builder.

use tract_onnx::pb::GraphProto;

use crate::graph::{Counts, Graph, Value};
use crate::models::{classic, densenet, mobile, resnet, video};
use crate::weights::WeightJob;
use crate::{Reference, ZooError};

/// What a model does, which fixes its input layout: classification takes N x 3 x 224 x 224,
/// action recognition N x 3 x 16 x 112 x 112 (channels, frames, height, width). The study's
/// own type, so that a zoo entry's task is the plan's without a mapping; no zoo model is
/// `Other`.
pub use edgebench_core::schema::study::Task;

type Builder = fn(&mut Graph, &Value, usize) -> Value;

pub(crate) struct Arch {
    pub name: &'static str,
    pub task: Task,
    pub input: &'static [usize],
    pub default_classes: usize,
    pub source: &'static str,
    pub torchvision: Option<&'static str>,
    /// For a model torchvision lacks: its builder in edgebench's own PyTorch definitions
    /// (`python/edgebench_worker/models.py`, `BUILDERS`).
    pub edgebench_twin: Option<&'static str>,
    pub reference: Option<Reference>,
    pub build: Builder,
}

const IMAGE: &[usize] = &[3, 224, 224];
const CLIP: &[usize] = &[3, 16, 112, 112];

const fn image(
    name: &'static str,
    source: &'static str,
    params: u64,
    gflops: f64,
    build: Builder,
) -> Arch {
    Arch {
        name,
        task: Task::Classification,
        input: IMAGE,
        default_classes: 1000,
        source,
        torchvision: Some(name),
        edgebench_twin: None,
        reference: Some(Reference {
            classes: 1000,
            params,
            gflops,
        }),
        build,
    }
}

const fn tv_video(
    name: &'static str,
    tv: &'static str,
    source: &'static str,
    params: u64,
    gflops: f64,
    build: Builder,
) -> Arch {
    Arch {
        name,
        task: Task::ActionRecognition,
        input: CLIP,
        default_classes: 4,
        source,
        torchvision: Some(tv),
        edgebench_twin: None,
        reference: Some(Reference {
            classes: 400,
            params,
            gflops,
        }),
        build,
    }
}

const fn custom_video(name: &'static str, source: &'static str, build: Builder) -> Arch {
    Arch {
        name,
        task: Task::ActionRecognition,
        input: CLIP,
        default_classes: 4,
        source,
        torchvision: None,
        edgebench_twin: Some(name),
        reference: None,
        build,
    }
}

/// Published figures: torchvision's model documentation (`num_params`, `GFLOPS`).
pub(crate) static ARCHS: &[Arch] = &[
    image("alexnet", "Krizhevsky 2014 'One weird trick' (arXiv:1404.5997), as in torchvision 0.14 torchvision/models/alexnet.py", 61_100_840, 0.71, classic::alexnet),
    image("vgg11", "Simonyan & Zisserman 2015 (arXiv:1409.1556) config A, as in torchvision 0.14 torchvision/models/vgg.py", 132_863_336, 7.61, classic::vgg11),
    image("vgg16", "Simonyan & Zisserman 2015 (arXiv:1409.1556) config D, as in torchvision 0.14 torchvision/models/vgg.py", 138_357_544, 15.47, classic::vgg16),
    image("vgg19", "Simonyan & Zisserman 2015 (arXiv:1409.1556) config E, as in torchvision 0.14 torchvision/models/vgg.py", 143_667_240, 19.63, classic::vgg19),
    image("resnet18", "He et al. 2016 'Deep Residual Learning' (arXiv:1512.03385), as in torchvision 0.14 torchvision/models/resnet.py", 11_689_512, 1.81, resnet::resnet18),
    image("resnet34", "He et al. 2016 'Deep Residual Learning' (arXiv:1512.03385), as in torchvision 0.14 torchvision/models/resnet.py", 21_797_672, 3.66, resnet::resnet34),
    image("resnet50", "He et al. 2016 'Deep Residual Learning' (arXiv:1512.03385), ResNet v1.5 as in torchvision 0.14 torchvision/models/resnet.py", 25_557_032, 4.09, resnet::resnet50),
    Arch {
        name: "resnet50v2",
        task: Task::Classification,
        input: IMAGE,
        default_classes: 1000,
        source: "He et al. 2016 'Identity Mappings in Deep Residual Networks' (arXiv:1603.05027), full pre-activation bottleneck, ResNet-50 stages [3,4,6,3]; stem and stride placement as in timm resnetv2_50",
        torchvision: None,
        edgebench_twin: Some("resnet50v2"),
        reference: None,
        build: resnet::resnet50v2,
    },
    image("squeezenet1_0", "Iandola et al. 2016 (arXiv:1602.07360), as in torchvision 0.14 torchvision/models/squeezenet.py", 1_248_424, 0.82, classic::squeezenet1_0),
    image("squeezenet1_1", "SqueezeNet 1.1 (github.com/forresti/SqueezeNet v1.1), as in torchvision 0.14 torchvision/models/squeezenet.py", 1_235_496, 0.35, classic::squeezenet1_1),
    image("densenet121", "Huang et al. 2017 (arXiv:1608.06993), as in torchvision 0.14 torchvision/models/densenet.py", 7_978_856, 2.83, densenet::densenet121),
    image("shufflenet_v2_x1_0", "Ma et al. 2018 (arXiv:1807.11164), as in torchvision 0.14 torchvision/models/shufflenetv2.py", 2_278_604, 0.14, mobile::shufflenet_v2_x1_0),
    image("mobilenet_v2", "Sandler et al. 2018 (arXiv:1801.04381), as in torchvision 0.14 torchvision/models/mobilenetv2.py", 3_504_872, 0.30, mobile::mobilenet_v2),
    image("mobilenet_v3_small", "Howard et al. 2019 (arXiv:1905.02244), as in torchvision 0.14 torchvision/models/mobilenetv3.py", 2_542_856, 0.06, mobile::mobilenet_v3_small),
    image("mobilenet_v3_large", "Howard et al. 2019 (arXiv:1905.02244), as in torchvision 0.14 torchvision/models/mobilenetv3.py", 5_483_032, 0.22, mobile::mobilenet_v3_large),
    image("efficientnet_b0", "Tan & Le 2019 (arXiv:1905.11946), as in torchvision 0.14 torchvision/models/efficientnet.py", 5_288_548, 0.39, mobile::efficientnet_b0),
    image("googlenet", "Szegedy et al. 2015 (arXiv:1409.4842), without auxiliary heads, as in torchvision 0.14 torchvision/models/googlenet.py", 6_624_904, 1.50, classic::googlenet),
    tv_video("r3d_18", "video.r3d_18", "Tran et al. 2018 'A Closer Look at Spatiotemporal Convolutions' (arXiv:1711.11248) R3D-18, as in torchvision 0.14 torchvision/models/video/resnet.py", 33_371_472, 40.70, video::r3d_18),
    tv_video("mc3_18", "video.mc3_18", "Tran et al. 2018 (arXiv:1711.11248) MC3-18, as in torchvision 0.14 torchvision/models/video/resnet.py", 11_695_440, 43.34, video::mc3_18),
    tv_video("r2plus1d_18", "video.r2plus1d_18", "Tran et al. 2018 (arXiv:1711.11248) R(2+1)D-18, as in torchvision 0.14 torchvision/models/video/resnet.py", 31_505_325, 40.52, video::r2plus1d_18),
    custom_video("c3d_small", "Tran et al. 2015 'Learning Spatiotemporal Features with 3D Convolutional Networks' (arXiv:1412.0767) section 3.2: the 5-conv network of the kernel-depth study, depth 3", video::c3d_small),
    custom_video("ae3d", "encoder of a 3D convolutional autoencoder (4 strided Conv3d-BN-ReLU stages, in the style of Zhao et al. 2017 'Spatio-Temporal AutoEncoder for Video Anomaly Detection') plus a 2-layer classification head; see docs/zoo.md", video::ae3d),
    custom_video("densenet3d_121", "DenseNet-121 (Huang et al. 2017) with 3D convolutions as in Hara et al. 2018 (arXiv:1711.09577), github.com/kenshohara/3D-ResNets-PyTorch models/densenet.py", densenet::densenet3d_121),
];

pub(crate) fn find(name: &str) -> Result<&'static Arch, ZooError> {
    ARCHS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ZooError::UnknownModel {
            name: name.into(),
            valid: ARCHS.iter().map(|a| a.name).collect::<Vec<_>>().join(", "),
        })
}

/// The graph without initializers, the weights to generate, and the counts.
pub(crate) fn graph(
    arch: &Arch,
    classes: usize,
    batch: usize,
) -> (GraphProto, Vec<WeightJob>, Counts) {
    let mut g = Graph::new();
    let x = g.input(
        std::iter::once(batch)
            .chain(arch.input.iter().copied())
            .collect(),
    );
    let y = (arch.build)(&mut g, &x, classes);
    let counts = g.counts;
    let (graph, jobs) = g.finish(&y);
    (graph, jobs, counts)
}

pub(crate) fn count(arch: &Arch, classes: usize, batch: usize) -> Counts {
    graph(arch, classes, batch).2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_exactly_one_pytorch_twin() {
        for a in ARCHS {
            assert!(
                a.torchvision.is_some() != a.edgebench_twin.is_some(),
                "{}: torchvision {:?}, edgebench {:?}",
                a.name,
                a.torchvision,
                a.edgebench_twin
            );
        }
        let own: Vec<_> = ARCHS.iter().filter_map(|a| a.edgebench_twin).collect();
        assert_eq!(own, ["resnet50v2", "c3d_small", "ae3d", "densenet3d_121"]);
    }
}
