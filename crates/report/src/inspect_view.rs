//! Terminal view of `edgebench inspect`.

use crate::fmt::{bytes, si};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use edgebench_core::inspect::Inspection;
use edgebench_core::tensor::shape_string;

/// Summary, inputs and outputs, counts, operator histogram and the `top` costliest nodes.
pub fn inspect_text(i: &Inspection, top: usize) -> String {
    let mut out = String::new();
    out.push_str(&format!("model      {}\n", i.model));
    out.push_str(&format!("sha256     {}\n", i.sha256));
    out.push_str(&format!(
        "format     ONNX ir {} opset {}{}\n",
        i.ir_version,
        i.opset,
        if i.producer.is_empty() {
            String::new()
        } else {
            format!(", from {}", i.producer)
        }
    ));
    for (d, c) in i.declared_inputs.iter().zip(&i.inputs) {
        out.push_str(&format!(
            "input      {} {} declared {} counted at {}\n",
            d.name,
            d.dtype,
            shape_string(&d.shape),
            shape_string(&c.shape)
        ));
    }
    for o in &i.outputs {
        out.push_str(&format!(
            "output     {} {} {}\n",
            o.name,
            o.dtype,
            shape_string(&o.shape)
        ));
    }
    out.push_str(&format!(
        "params     {} ({} learnable parameters)\n",
        si(i.params as f64),
        i.params
    ));
    out.push_str(&format!(
        "stored     {} values in initializers and constants, {}\n",
        i.stored_values,
        bytes(i.weights_bytes)
    ));
    out.push_str(&format!(
        "MACs       {} (convolutions and matrix products; FLOPs = 2 x MACs = {})\n",
        si(i.macs as f64),
        si(i.flops as f64)
    ));
    out.push_str(&format!(
        "other ops  {} (activations, pooling, normalization, elementwise; not in MACs)\n",
        si(i.other_ops as f64)
    ));
    out.push_str(&format!(
        "largest activation  {} ({})\n",
        bytes(i.largest_activation_bytes),
        i.largest_activation
    ));
    out.push_str(&format!("nodes      {}: ", i.nodes));
    out.push_str(
        &i.op_histogram
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push('\n');
    if top > 0 && !i.per_node.is_empty() {
        let mut nodes = i.per_node.clone();
        nodes.sort_by_key(|n| std::cmp::Reverse(n.macs + n.other_ops));
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["node", "op", "MACs", "other ops", "share of MACs"]);
        for n in nodes.iter().take(top) {
            let share = if i.macs > 0 {
                n.macs as f64 / i.macs as f64 * 100.0
            } else {
                0.0
            };
            t.add_row(vec![
                n.name.clone(),
                n.op.clone(),
                si(n.macs as f64),
                si(n.other_ops as f64),
                format!("{share:.1}%"),
            ]);
        }
        out.push_str(&format!(
            "costliest {} of {} nodes with a cost (--top N for more, --json for all):\n",
            top.min(nodes.len()),
            nodes.len()
        ));
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out
}
