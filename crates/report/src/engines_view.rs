//! `edgebench engines`: one engine, whether it can run here (its version and devices, where
//! its library was found) or why not and the fix, then its variants.

use edgebench_core::engine::{Availability, VariantInfo};

/// One engine as `edgebench engines` prints it (each line ends in a newline).
pub fn engine(
    name: &str,
    availability: &Availability,
    library: Option<&str>,
    variants: &[VariantInfo],
) -> String {
    let mut s = match availability {
        Availability::Available { version, devices } => {
            let mut s = format!("{name} {version}: available ({})\n", devices.join(", "));
            if let Some(lib) = library {
                s += &format!("  library: {lib}\n");
            }
            s
        }
        Availability::Unavailable { reason, fix } => {
            format!("{name}: not available: {reason}\n  fix: {fix}\n")
        }
        Availability::NotCompiled { feature } => format!(
            "{name}: not compiled into this build\n  fix: {}\n",
            Availability::not_compiled_fix(feature)
        ),
    };
    for v in variants {
        s += &format!("  {:<40} {}\n", v.spec, v.description);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_engine_names_its_fix_and_lists_its_variants() {
        let v = [VariantInfo {
            spec: "ort:all".into(),
            description: "every graph optimization".into(),
        }];
        let a = Availability::Unavailable {
            reason: "libonnxruntime.so not found".into(),
            fix: "pip install onnxruntime".into(),
        };
        insta::assert_snapshot!(engine("ort", &a, None, &v), @r"
        ort: not available: libonnxruntime.so not found
          fix: pip install onnxruntime
          ort:all                                  every graph optimization
        ");
        let a = Availability::Available {
            version: "1.22".into(),
            devices: vec!["cpu".into()],
        };
        assert_eq!(
            engine("ort", &a, Some("/usr/lib/libonnxruntime.so"), &[]),
            "ort 1.22: available (cpu)\n  library: /usr/lib/libonnxruntime.so\n"
        );
    }
}
