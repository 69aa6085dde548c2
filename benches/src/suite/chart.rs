//! A PNG bar chart of the headline figures, one panel per scenario.
//!
//! Drawn with plotters' bitmap backend and its pure-Rust `ab_glyph` text renderer: no fontconfig or
//! freetype is needed, only a TrueType file read at run time (Debian `fonts-dejavu-core` provides the
//! default; `--font` picks another). No font is bundled with the crate.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use slugstore::{Error, Result};

use super::report::{fmt_seconds, headline_of, ORDER};
use super::results::{Results, Status};

/// Fonts tried when none is given.
pub const DEFAULT_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const FAMILY: &str = "slug-bench";
const COLORS: &[RGBColor] = &[
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
];

/// The font to draw with: `given`, else the first of [`DEFAULT_FONTS`] that exists.
pub fn find_font(given: Option<&Path>) -> Option<PathBuf> {
    match given {
        Some(p) => Some(p.to_path_buf()),
        None => DEFAULT_FONTS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    }
}

fn draw_err(e: impl std::fmt::Display) -> Error {
    Error::external(format!("drawing the chart: {e}"))
}

/// Draws `res` into the PNG `out`, with the TrueType font at `font`.
pub fn draw(res: &Results, out: &Path, font: &Path) -> Result<()> {
    let bytes = std::fs::read(font).map_err(|e| Error::io(font, e))?;
    // plotters keeps registered fonts for the life of the process.
    register_font(
        FAMILY,
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| Error::external(format!("{}: not a usable TrueType font", font.display())))?;
    let panels: Vec<&str> = ORDER
        .iter()
        .copied()
        .filter(|s| res.rows.iter().any(|r| r.scenario == *s))
        .collect();
    let height = 40 + 170 * panels.len().max(1) as u32;
    let root = BitMapBackend::new(out, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let title = format!(
        "slug-bench: {} tree, warm cache, medians of {} runs",
        res.config["size"].as_str().unwrap_or("?"),
        res.config["runs"]
    );
    root.draw(&Text::new(title, (10, 10), (FAMILY, 20).into_font()))
        .map_err(draw_err)?;
    let mut tools: Vec<&str> = Vec::new();
    for r in &res.rows {
        if !tools.contains(&r.tool.as_str()) {
            tools.push(&r.tool);
        }
    }
    let body = root.margin(40, 0, 0, 0);
    let areas = body.split_evenly((panels.len().max(1), 1));
    for (area, scenario) in areas.iter().zip(&panels) {
        let (figure, unit) = headline_of(scenario);
        let rows: Vec<(String, f64)> = res
            .rows
            .iter()
            .filter(|r| r.scenario == *scenario && r.outcome == Status::Ok)
            .filter_map(|r| r.headline(figure).map(|v| (r.tool.clone(), v)))
            .collect();
        area.draw(&Text::new(
            format!("{scenario} ({unit})"),
            (10, 5),
            (FAMILY, 17).into_font(),
        ))
        .map_err(draw_err)?;
        let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
        let (w, _) = area.dim_in_pixel();
        let bar_max = f64::from(w) - 260.0;
        for (i, (tool, v)) in rows.iter().enumerate() {
            let y = 30 + 26 * i as i32;
            area.draw(&Text::new(
                tool.clone(),
                (10, y + 3),
                (FAMILY, 15).into_font(),
            ))
            .map_err(draw_err)?;
            let len = ((v / max) * bar_max).max(1.0) as i32;
            // One colour per tool, the same in every panel.
            let slot = tools.iter().position(|t| t == tool).unwrap_or(i);
            let color = COLORS[slot % COLORS.len()];
            area.draw(&Rectangle::new(
                [(120, y), (120 + len, y + 20)],
                color.filled(),
            ))
            .map_err(draw_err)?;
            area.draw(&Text::new(
                fmt_seconds(Some(*v)),
                (126 + len, y + 3),
                (FAMILY, 15).into_font(),
            ))
            .map_err(draw_err)?;
        }
    }
    root.present().map_err(draw_err)?;
    Ok(())
}
