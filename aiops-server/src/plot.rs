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

/// Draws a forecast: recent history, the forecast mean, one shaded band per interval level
/// (widest lightest), and optionally a threshold line with the saturation time marked.
/// `x` values are ms timestamps when `time_axis`, else step indices.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_forecast(
    path: &Path,
    title: &str,
    hist_x: &[f64],
    hist_y: &[f64],
    fc_x: &[f64],
    p: &aiops_forecast::Prediction,
    threshold: Option<(f64, Option<f64>)>,
    time_axis: bool,
) -> Result<(), String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !ext.eq_ignore_ascii_case("svg") {
        return Err(format!("{}: only .svg plots are supported", path.display()));
    }
    let (Some(&x0), Some(&x1)) = (hist_x.first().or(fc_x.first()), fc_x.last()) else {
        return Err("nothing to plot".into());
    };
    let all = hist_y
        .iter()
        .chain(&p.mean)
        .chain(
            p.intervals
                .iter()
                .flat_map(|iv| iv.lower.iter().chain(&iv.upper)),
        )
        .copied()
        .chain(threshold.map(|t| t.0));
    let (lo, hi) = bounds(all);
    let root = SVGBackend::new(path, (1200, 500)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(24)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1.max(x0 + 1.0), lo..hi)
        .map_err(|e| err(&e))?;
    let fmt_time = |t: &f64| {
        let text = aiops_core::time::format_rfc3339(*t as i64);
        text.get(..16).unwrap_or(&text).replace('T', " ")
    };
    let fmt_step = |t: &f64| format!("{t:.0}");
    let formatter: &dyn Fn(&f64) -> String = if time_axis { &fmt_time } else { &fmt_step };
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(formatter)
        .draw()
        .map_err(|e| err(&e))?;
    let mut order: Vec<usize> = (0..p.intervals.len()).collect();
    order.sort_by(|&a, &b| p.intervals[b].level.total_cmp(&p.intervals[a].level));
    for (k, &i) in order.iter().enumerate() {
        let iv = &p.intervals[i];
        let band: Vec<(f64, f64)> = fc_x
            .iter()
            .zip(&iv.upper)
            .map(|(x, y)| (*x, *y))
            .chain(fc_x.iter().zip(&iv.lower).rev().map(|(x, y)| (*x, *y)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                BLUE.mix(0.12 + 0.12 * k as f64).filled(),
            )))
            .map_err(|e| err(&e))?;
    }
    chart
        .draw_series(LineSeries::new(
            hist_x.iter().zip(hist_y).map(|(x, y)| (*x, *y)),
            &BLACK,
        ))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            fc_x.iter().zip(&p.mean).map(|(x, y)| (*x, *y)),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
    if let Some((level, when)) = threshold {
        chart
            .draw_series(LineSeries::new(
                [(x0, level), (x1, level)],
                RED.stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
        if let Some(t) = when {
            chart
                .draw_series(LineSeries::new([(t, lo), (t, hi)], RED.mix(0.6)))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(std::iter::once(Circle::new((t, level), 5, RED.filled())))
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
