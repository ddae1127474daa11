//! Small helpers for writing SVG by hand: escaped text, coordinates that are always finite,
//! axis ticks at round numbers, and a canvas that opens and closes an accessible `<svg>`.

use std::fmt::Write;

/// Escapes text for HTML and SVG (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate or length as SVG text: at most one decimal, and never `NaN` or `inf` (which
/// would break the drawing): a value that is not finite is drawn as 0.
pub fn n(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// `part / whole` as a fraction of a drawing, 0 when `whole` is not positive.
pub fn frac(part: f64, whole: f64) -> f64 {
    if whole > 0.0 && part.is_finite() && whole.is_finite() {
        (part / whole).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// At most `max` characters of `s`, ending with `…` when cut (labels must fit their column;
/// the whole name stays in the element's `<title>` and in the tables).
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// An axis from 0 to a round number at or above `max`, in about `ticks` steps: the top and the
/// step. Counts (`whole`) step by whole numbers. A `max` of 0 (or less, or not finite) gives an
/// axis from 0 to one step.
pub fn axis(max: f64, ticks: u32, whole: bool) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        0.0
    };
    let ticks = f64::from(ticks.max(1));
    let raw = if max > 0.0 { max / ticks } else { 1.0 };
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    if whole {
        step = step.ceil().max(1.0);
    }
    if max == 0.0 && !whole {
        step = raw.min(1.0);
    }
    let top = (max / step).ceil().max(1.0) * step;
    (top, step)
}

/// The tick values of an axis from 0 to `top` by `step`.
pub fn ticks(top: f64, step: f64) -> Vec<f64> {
    if !(step > 0.0 && top.is_finite()) {
        return vec![0.0];
    }
    let count = (top / step).round().clamp(0.0, 100.0) as usize;
    (0..=count).map(|i| i as f64 * step).collect()
}

/// One `<svg>` being drawn, `width` × `height` user units, scaled to its container's width.
pub struct Canvas {
    out: String,
}

/// Where text hangs from its x.
#[derive(Clone, Copy)]
pub enum Anchor {
    /// Text starts at x.
    Start,
    /// Text is centred on x.
    Middle,
    /// Text ends at x.
    End,
}

impl Anchor {
    fn attr(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

impl Canvas {
    /// An image with an accessible name (`title`, read out and shown on hover) and a longer
    /// description (`desc`). `id` must be unique on the page.
    pub fn new(id: &str, width: f64, height: f64, title: &str, desc: &str) -> Canvas {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {w} {h}\" \
             preserveAspectRatio=\"xMinYMin meet\" role=\"img\" aria-label=\"{t}\" \
             aria-describedby=\"{id}-desc\"><title>{t}</title><desc id=\"{id}-desc\">{d}</desc>",
            id = esc(id),
            w = n(width.max(1.0)),
            h = n(height.max(1.0)),
            t = esc(title),
            d = esc(desc),
        );
        Canvas { out }
    }

    /// A rectangle; `extra` holds more attributes (fill, class), `tip` a hover text.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, extra: &str, tip: Option<&str>) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {extra}",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
        match tip {
            Some(t) => {
                let _ = write!(self.out, "><title>{}</title></rect>", esc(t));
            }
            None => self.out.push_str("/>"),
        }
    }

    /// A straight line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, extra: &str) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {extra}/>",
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
    }

    /// A line of text (escaped); `class` picks its look from the page's style sheet.
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" class=\"{class}\">{}</text>",
            n(x),
            n(y),
            anchor.attr(),
            esc(text)
        );
    }

    /// A label that may be cut to `max` characters; when it is, hovering shows the whole.
    pub fn label(&mut self, x: f64, y: f64, anchor: Anchor, class: &str, text: &str, max: usize) {
        let shown = clip(text, max);
        if shown == text {
            self.text(x, y, anchor, class, text);
        } else {
            let _ = write!(
                self.out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" class=\"{class}\"><title>{}</title>{}</text>",
                n(x),
                n(y),
                anchor.attr(),
                esc(text),
                esc(&shown)
            );
        }
    }

    /// The finished `<svg>` element.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_always_finite_and_short() {
        assert_eq!(n(12.0), "12");
        assert_eq!(n(12.345), "12.3");
        assert_eq!(n(-0.04), "0");
        assert_eq!(n(f64::NAN), "0");
        assert_eq!(n(f64::INFINITY), "0");
        assert_eq!(frac(1.0, 0.0), 0.0);
        assert_eq!(frac(3.0, 2.0), 1.0);
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis(0.0, 4, true), (1.0, 1.0));
        assert_eq!(axis(3.0, 4, true), (3.0, 1.0));
        assert_eq!(axis(83.0, 4, true), (100.0, 25.0));
        let (top, step) = axis(0.123, 4, false);
        assert!((top - 0.15).abs() < 1e-9 && (step - 0.05).abs() < 1e-9);
        let (top, step) = axis(0.0, 4, false);
        assert!(top > 0.0 && step > 0.0);
        assert_eq!(axis(f64::NAN, 4, true), (1.0, 1.0));
        assert_eq!(ticks(100.0, 25.0), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(clip("intro", 10), "intro");
        assert_eq!(clip("abcdefghijkl", 5), "abcd…");
        assert_eq!(clip("ééééé", 5), "ééééé");
    }
}
