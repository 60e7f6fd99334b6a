//! `--plot OUT.svg`: the series, its anomaly windows and the detector's scores, drawn with
//! plotters' SVG backend (SVG only: it needs no font files, text is left to the viewer).

use std::path::Path;

use aiops_core::{Anomaly, TimeSeries};
use aiops_detect::Detections;
use plotters::prelude::*;

/// Draws one series: values on top with anomaly windows shaded, scores below.
pub(crate) fn draw(
    path: &Path,
    title: &str,
    series: &TimeSeries,
    detections: &Detections,
    anomalies: &[Anomaly],
) -> Result<(), String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !ext.eq_ignore_ascii_case("svg") {
        return Err(format!("{}: only .svg plots are supported", path.display()));
    }
    let ts = series.timestamps();
    let vs = series.values();
    let (Some(&t0), Some(&t1)) = (ts.first(), ts.last()) else {
        return Err("nothing to plot: the series is empty".into());
    };
    // f64 axes: plotters' i64 tick arithmetic overflows on millisecond timestamps.
    let (t0, t1) = (t0 as f64, (t1.max(t0 + 1)) as f64);
    let x = |t: i64| t as f64;
    let (lo, hi) = bounds(vs.iter().copied());
    let (_, smax) = bounds(detections.scores.iter().copied());
    let root = SVGBackend::new(path, (1200, 600)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(420);

    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(60)
        .build_cartesian_2d(t0..t1, lo..hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|t| {
            let text = aiops_core::time::format_rfc3339(*t as i64);
            text.get(..16).unwrap_or(&text).replace('T', " ")
        })
        .draw()
        .map_err(|e| err(&e))?;
    for a in anomalies {
        let end = a.end.max(a.start + 1);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x(a.start), lo), (x(end), hi)],
                RED.mix(0.2).filled(),
            )))
            .map_err(|e| err(&e))?;
    }
    chart
        .draw_series(LineSeries::new(
            ts.iter().zip(vs).map(|(&t, &v)| (x(t), v)),
            &BLUE,
        ))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(
            ts.iter()
                .zip(vs)
                .zip(&detections.is_anomaly)
                .filter(|(_, a)| **a)
                .map(|((&t, &v), _)| Circle::new((x(t), v), 3, RED.filled())),
        )
        .map_err(|e| err(&e))?;

    let mut scores = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(60)
        .build_cartesian_2d(t0..t1, 0.0..smax.max(1e-9))
        .map_err(|e| err(&e))?;
    scores
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2)
        .x_label_formatter(&|_| String::new())
        .y_desc("score")
        .draw()
        .map_err(|e| err(&e))?;
    scores
        .draw_series(AreaSeries::new(
            ts.iter().zip(&detections.scores).map(|(&t, &s)| (x(t), s)),
            0.0,
            BLACK.mix(0.3),
        ))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Finite min and max, widened when flat so the axis has a span.
fn bounds(it: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = it
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9 * (1.0 + lo.abs()));
    (lo - pad, hi + pad)
}
