//! PNG plots of simulation results: mean JCT against load per policy, and the warm-up curve.
//!
//! Plots are drawn with `plotters`' bitmap backend. Text is rasterized by `ab_glyph` from DejaVu Sans Mono,
//! which ships inside this crate (`assets/`, Bitstream Vera license): no system fonts are needed, so plots
//! render the same on a bare CI machine.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::sim::Stat;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
const FAMILY: &str = "sans-serif";

/// Plotting failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The drawing backend failed (e.g. the file could not be written).
    #[error("drawing {path}: {message}")]
    Draw {
        /// The output file.
        path: String,
        /// The backend's message.
        message: String,
    },
    /// The embedded font could not be loaded (a build problem, not an input problem).
    #[error("the embedded font is invalid")]
    Font,
    /// Nothing to plot.
    #[error("no data to plot")]
    Empty,
}

fn register_font() -> Result<(), Error> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).map_err(|_| Error::Font);
    });
    result
}

fn draw_err<E: std::fmt::Debug>(path: &Path) -> impl FnOnce(E) -> Error + '_ {
    move |e| Error::Draw { path: path.display().to_string(), message: format!("{e:?}") }
}

/// One policy's line: a mean (± 95% CI) per x value.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend label.
    pub label: String,
    /// One point per x value.
    pub points: Vec<Stat>,
}

/// Plots mean JCT (log scale) against load, one line per series, with 95% CI bars, and the lower bound
/// dashed, to a PNG at `path`.
pub fn jct_vs_load(
    path: &Path,
    title: &str,
    loads: &[f64],
    series: &[Series],
    lower: &[f64],
) -> Result<(), Error> {
    register_font()?;
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.mean)).chain(lower.iter().copied());
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0_f64), |a, v| (a.0.min(v), a.1.max(v)));
    if loads.is_empty() || !lo.is_finite() {
        return Err(Error::Empty);
    }
    let (x0, x1) = (loads[0] - 0.05, loads[loads.len() - 1] + 0.05);
    let root = BitMapBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, ((lo * 0.7)..(hi * 1.4)).log_scale())
        .map_err(draw_err(path))?;
    chart
        .configure_mesh()
        .x_desc("offered load ρ")
        .y_desc("mean job completion time (s, log)")
        .label_style((FAMILY, 14))
        .draw()
        .map_err(draw_err(path))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = loads.iter().copied().zip(s.points.iter().map(|p| p.mean)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(draw_err(path))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(loads.iter().zip(&s.points).map(|(&x, p)| {
                ErrorBar::new_vertical(x, (p.mean - p.ci95).max(lo * 0.7), p.mean, p.mean + p.ci95, color, 8)
            }))
            .map_err(draw_err(path))?;
    }
    if lower.len() == loads.len() {
        let pts: Vec<(f64, f64)> = loads.iter().copied().zip(lower.iter().copied()).collect();
        chart
            .draw_series(DashedLineSeries::new(pts, 6, 4, BLACK.stroke_width(2)))
            .map_err(draw_err(path))?
            .label("lower bound")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 14))
        .draw()
        .map_err(draw_err(path))?;
    root.present().map_err(draw_err(path))?;
    Ok(())
}

/// Plots the warm-up curve: learned/oracle mean JCT per window of `window` tasks (± 95% CI), with the 1.0
/// and 1.15 reference lines, to a PNG at `path`.
pub fn warmup(path: &Path, title: &str, window: usize, ratio: &[Stat]) -> Result<(), Error> {
    register_font()?;
    if ratio.is_empty() {
        return Err(Error::Empty);
    }
    let hi = ratio.iter().map(|s| s.mean + s.ci95).filter(|v| v.is_finite()).fold(1.5_f64, f64::max);
    let xmax = (ratio.len() * window) as f64;
    let root = BitMapBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err(path))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..xmax, 0.0..hi * 1.05)
        .map_err(draw_err(path))?;
    chart
        .configure_mesh()
        .x_desc("tasks arrived")
        .y_desc("learned / oracle mean JCT")
        .label_style((FAMILY, 14))
        .draw()
        .map_err(draw_err(path))?;
    let mid = |i: usize| (i * window) as f64 + window as f64 / 2.0;
    let blue = BLUE.to_rgba();
    chart
        .draw_series(LineSeries::new(
            ratio.iter().enumerate().map(|(i, s)| (mid(i), s.mean)),
            blue.stroke_width(2),
        ))
        .map_err(draw_err(path))?
        .label("learned / oracle (mean over seeds, 95% CI)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2)));
    chart
        .draw_series(
            ratio.iter().enumerate().map(|(i, s)| {
                ErrorBar::new_vertical(mid(i), s.mean - s.ci95, s.mean, s.mean + s.ci95, blue, 6)
            }),
        )
        .map_err(draw_err(path))?;
    for (level, label, color) in [(1.0, "oracle", BLACK), (1.15, "goal: 1.15 x oracle", RED)] {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, level), (xmax, level)],
                6,
                4,
                color.stroke_width(1),
            ))
            .map_err(draw_err(path))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 14))
        .draw()
        .map_err(draw_err(path))?;
    root.present().map_err(draw_err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_pngs_with_the_embedded_font() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = |m: f64| Stat { mean: m, ci95: m * 0.1 };
        let series = vec![
            Series { label: "learned".into(), points: vec![s(50.0), s(60.0), s(90.0)] },
            Series { label: "round_robin".into(), points: vec![s(200.0), s(900.0), s(5000.0)] },
        ];
        let a = dir.path().join("jct.png");
        jct_vs_load(&a, "JCT vs load", &[0.5, 0.7, 0.9], &series, &[20.0, 20.0, 20.0]).expect("plots");
        let b = dir.path().join("warmup.png");
        warmup(&b, "warm-up", 100, &[s(3.0), s(1.5), s(1.1), s(1.05)]).expect("plots");
        for p in [a, b] {
            let bytes = std::fs::read(&p).expect("written");
            assert_eq!(&bytes[1..4], b"PNG");
            assert!(bytes.len() > 10_000, "a real image, not an empty canvas");
        }
    }
}
