//! SVG line charts drawn with `plotters`: accuracy and loss per epoch, firing rate per layer
//! (the paper's Figs. 6–7), sweeps.

use plotters::prelude::*;

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in order; points with a NaN or an infinity are skipped.
    pub points: Vec<(f64, f64)>,
}

/// The x axis of a chart ([`write_chart`](super::write_chart)).
#[derive(Clone, Copy, Debug)]
pub enum XAxis<'a> {
    /// Numbers with round ticks (epochs, a swept parameter).
    Numeric,
    /// Positive numbers spanning decades (λ from 1e-4 to 1), on a log10 scale with a tick
    /// per decade; points at or below 0 are skipped.
    Log10,
    /// Whole epochs: integer ticks only.
    Epochs,
    /// Named positions 0, 1, 2, … (layers).
    Categories(&'a [String]),
}

/// Drawing a chart failed (plotters' error, as text).
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart {title:?}: {message}")]
pub(crate) struct PlotError {
    title: String,
    message: String,
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// A 760×460 SVG line chart with round ticks, a grid and a legend.
///
/// The y axis starts at 0 unless a value is negative; the x axis spans the points (at least
/// one unit).
pub(crate) fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_axis: XAxis<'_>,
) -> Result<String, PlotError> {
    let err = |e: &dyn std::fmt::Display| PlotError {
        title: title.to_string(),
        message: e.to_string(),
    };
    // On a log axis the points are drawn at log10(x), and the ticks name 10^tick.
    let log_series: Vec<Series>;
    let series = if matches!(x_axis, XAxis::Log10) {
        log_series = series
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                points: s
                    .points
                    .iter()
                    .map(|&(x, y)| (if x > 0.0 { x.log10() } else { f64::NAN }, y))
                    .collect(),
            })
            .collect();
        &log_series[..]
    } else {
        series
    };
    let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0_f64, f64::MIN);
    for &(x, y) in series.iter().flat_map(|s| s.points.iter()).filter(finite) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    // Categories sit half a unit inside the frame.
    if let XAxis::Categories(names) = x_axis {
        (x0, x1) = (-0.5, names.len() as f64 - 0.5);
    }
    // Whole decades on a log axis.
    if let XAxis::Log10 = x_axis {
        (x0, x1) = (x0.floor(), x1.ceil());
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    // 5% headroom so that the top line is not drawn on the frame.
    let y1 = y1 + 0.05 * (y1 - y0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        // Many layer names do not fit side by side: they are turned vertical.
        let vertical = matches!(x_axis, XAxis::Categories(names) if names.len() > 8);
        let bottom = if vertical { 90 } else { 45 };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(bottom)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(&e))?;
        let category = |x: &f64| match x_axis {
            XAxis::Categories(names) => {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            XAxis::Log10 => format_tick(10f64.powf(x.round())),
            _ => format_tick(*x),
        };
        let x_ticks = match x_axis {
            // Ticks every half unit: the whole ones carry the names.
            XAxis::Categories(names) => 2 * names.len() + 1,
            // Integer epochs: at most 10 ticks, none between two epochs.
            XAxis::Epochs => ((x1 - x0) as usize + 1).clamp(2, 10),
            XAxis::Numeric => 8,
            // One tick per decade.
            XAxis::Log10 => (x1 - x0) as usize + 1,
        };
        let y_format = |y: &f64| format_tick(*y);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_label)
            .y_desc(y_label)
            .x_labels(x_ticks)
            .y_labels(8)
            .x_label_formatter(&category)
            .y_label_formatter(&y_format)
            .light_line_style(RGBColor(235, 235, 235));
        if vertical {
            mesh.x_label_style(
                ("sans-serif", 12)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            );
        }
        mesh.draw().map_err(|e| err(&e))?;
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<(f64, f64)> = s.points.iter().filter(finite).copied().collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// A tick label without float noise: `0.2`, not `0.20000000000000004`; integers without a
/// point.
fn format_tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e9 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = t.split_once('>')?.1;
                Some(body.split_once('<')?.0.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn ticks_are_round_and_every_series_is_in_the_legend() {
        let series = vec![
            Series {
                name: "train".into(),
                points: vec![(1.0, 0.21), (2.0, 0.67), (3.0, 0.93), (5.0, 0.95)],
            },
            Series {
                name: "valid <b>".into(),
                points: vec![(1.0, 0.4), (2.0, f64::NAN)],
            },
        ];
        let svg = line_chart("Accuracy", "epoch", "accuracy", &series, XAxis::Epochs).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let labels = labels(&svg);
        // Epoch ticks are whole numbers; accuracy ticks are short decimals.
        for epoch in ["1", "2", "3", "4", "5"] {
            assert!(labels.iter().any(|l| l == epoch), "{epoch} in {labels:?}");
        }
        assert!(
            !labels.iter().any(|l| l.contains('.') && l.len() > 4),
            "{labels:?}"
        );
        assert!(
            labels.iter().any(|l| l == "0.2" || l == "0.4"),
            "{labels:?}"
        );
        assert!(svg.contains("valid &lt;b&gt;"), "escaped legend");
        assert!(labels.iter().any(|l| l == "train"));
    }

    #[test]
    fn a_log_axis_has_a_tick_per_decade() {
        let series = vec![Series {
            name: "psp-bn".into(),
            points: vec![
                (1e-4, 0.2),
                (1e-2, 0.4),
                (0.1, 0.5),
                (1.0, 0.45),
                (0.0, 0.9),
            ],
        }];
        let svg = line_chart("λ", "lambda", "accuracy", &series, XAxis::Log10).unwrap();
        let labels = labels(&svg);
        for decade in ["0.0001", "0.001", "0.01", "0.1", "1"] {
            assert!(labels.iter().any(|l| l == decade), "{decade} in {labels:?}");
        }
        // No tick between decades, and the point at 0 (no logarithm) is not drawn: the y axis
        // ends below 0.9.
        assert!(
            !labels.iter().any(|l| l == "0.005" || l == "0.9"),
            "{labels:?}"
        );
    }

    #[test]
    fn categories_name_every_layer() {
        for n in [3, 30] {
            let names: Vec<String> = (1..=n).map(|i| format!("layer{i}")).collect();
            let series = [Series {
                name: "epoch 3".into(),
                points: (0..n).map(|i| (i as f64, 0.01 * i as f64)).collect(),
            }];
            let svg =
                line_chart("Rates", "layer", "rate", &series, XAxis::Categories(&names)).unwrap();
            if let Ok(dir) = std::env::var("BURN_SNN_PLOT_DIR") {
                std::fs::write(format!("{dir}/categories-{n}.svg"), &svg).unwrap();
            }
            let labels = labels(&svg);
            for name in &names {
                assert!(labels.contains(name), "{name} in {labels:?}");
            }
        }
    }

    #[test]
    fn tick_labels_have_no_float_noise() {
        assert_eq!(format_tick(0.1 + 0.2), "0.3");
        assert_eq!(format_tick(3.0), "3");
        assert_eq!(format_tick(0.0125), "0.0125");
    }
}
