//! Minimal SVG line charts (no dependencies): accuracy and loss curves, per-layer firing rates.

use std::fmt::Write;

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A 720×440 SVG line chart with axes, ticks, and a legend. `x_ticks` optionally names the
/// integer x positions (e.g. layer names).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_ticks: Option<&[String]>,
) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (70.0, 170.0, 40.0, 60.0);
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    y0 = y0.min(0.0);
    if y1 - y0 < 1e-12 {
        y1 = y0 + 1.0;
    }
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let sy = |y: f64| h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        (left + w - right) / 2.0,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for i in 0..=5 {
        let y = y0 + (y1 - y0) * i as f64 / 5.0;
        let (yy, x_end, label_x, label_y) = (sy(y), w - right, left - 6.0, sy(y) + 4.0);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{yy}" x2="{x_end}" y2="{yy}" stroke="#ddd"/><text x="{label_x}" y="{label_y}" text-anchor="end">{y:.3}</text>"##
        );
    }
    match x_ticks {
        Some(names) => {
            for (i, name) in names.iter().enumerate() {
                let _ = write!(
                    svg,
                    r#"<text x="{}" y="{}" text-anchor="end" transform="rotate(-35 {0} {1})">{}</text>"#,
                    sx(i as f64),
                    h - bottom + 14.0,
                    escape(name)
                );
            }
        }
        None => {
            for i in 0..=5 {
                let x = x0 + (x1 - x0) * i as f64 / 5.0;
                let _ = write!(
                    svg,
                    r#"<text x="{}" y="{}" text-anchor="middle">{:.4}</text>"#,
                    sx(x),
                    h - bottom + 16.0,
                    x
                );
            }
        }
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {3})">{}</text>"#,
        (left + w - right) / 2.0,
        h - 12.0,
        escape(x_label),
        (top + h - bottom) / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for p in &path {
            let (x, y) = p.split_once(',').expect("formatted above");
            let _ = write!(svg, r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{color}"/>"#);
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            w - right + 10.0,
            w - right + 30.0,
            w - right + 36.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_point_and_legend_entry() {
        let series = vec![
            Series {
                name: "train".into(),
                points: vec![(1.0, 0.5), (2.0, 0.7), (3.0, 0.9)],
            },
            Series {
                name: "valid <b>".into(),
                points: vec![(1.0, 0.4), (2.0, f64::NAN)],
            },
        ];
        let svg = line_chart("Accuracy", "epoch", "accuracy", &series, None);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<circle").count(), 4, "NaN points are skipped");
        assert!(svg.contains("valid &lt;b&gt;"));
        let names = vec!["layer1".to_string(), "output".to_string()];
        let rates = line_chart("Rates", "layer", "rate", &series[..1], Some(&names));
        assert!(rates.contains(">layer1<") && rates.contains(">output<"));
    }
}
