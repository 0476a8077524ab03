//! Charts drawn on the server as SVG (no chart runtime in the browser): the version
//! distribution over time (a stacked step chart of how many nodes ran each version, from
//! the samples the dashboard took as the fleet changed) and a bar of nodes by state. Pure:
//! every label is escaped by the template engine, the colours are fixed per position, and
//! each chart carries an accessible name and a text alternative.

use std::collections::BTreeMap;

use maud::{Markup, html};

/// The version distribution at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds.
    pub at: i64,
    /// Nodes per running version.
    pub versions: BTreeMap<String, usize>,
}

/// The most samples drawn (older ones are merged away by [`keep`]).
pub const MAX_SAMPLES: usize = 240;

/// Colours by position (readable on white, distinct for the colour-blind in order).
const PALETTE: [&str; 8] = [
    "#1b6ac9", "#e8710a", "#1e8e3e", "#d01884", "#9334e6", "#b06000", "#12b5cb", "#5f6368",
];

/// The colour of the `i`th series.
#[must_use]
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Add `sample` to `samples` unless it says what the last one says, keeping at most
/// [`MAX_SAMPLES`]: when full, the two closest neighbours in time are merged (the older
/// one dropped), so the whole span stays drawn at a coarser grain.
pub fn keep(samples: &mut Vec<Sample>, sample: Sample) {
    if samples
        .last()
        .is_some_and(|s| s.versions == sample.versions)
    {
        return;
    }
    samples.push(sample);
    if samples.len() > MAX_SAMPLES {
        let closest = samples
            .windows(2)
            .enumerate()
            .skip(1)
            .min_by_key(|(_, w)| w[1].at - w[0].at)
            .map_or(1, |(i, _)| i);
        samples.remove(closest);
    }
}

/// Versions in order (semver where they parse, text otherwise).
#[must_use]
pub fn ordered<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<&'a String> {
    let mut v: Vec<&String> = names.into_iter().collect();
    v.sort_by(|a, b| {
        semver::Version::parse(a)
            .ok()
            .cmp(&semver::Version::parse(b).ok())
            .then_with(|| a.cmp(b))
    });
    v.dedup();
    v
}

const W: f64 = 640.0;
const H: f64 = 180.0;

/// The stacked step chart of `samples` up to `now`.
#[must_use]
pub fn versions_over_time(samples: &[Sample], now: i64) -> Markup {
    let all = ordered(samples.iter().flat_map(|s| s.versions.keys()));
    let Some(first) = samples.first() else {
        return html! { p { "No version reported yet." } };
    };
    let start = first.at;
    let end = now.max(start + 1);
    let span = (end - start) as f64;
    let top = samples
        .iter()
        .map(|s| s.versions.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |t: i64| ((t - start) as f64 / span * W * 10.0).round() / 10.0;
    let mut rects = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let until = samples.get(i + 1).map_or(end, |n| n.at);
        let (x0, x1) = (x(s.at), x(until));
        let mut base = H;
        for (vi, v) in all.iter().enumerate() {
            let n = s.versions.get(*v).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = (n as f64 / top * H * 10.0).round() / 10.0;
            base -= h;
            rects.push((x0, base, (x1 - x0).max(0.5), h, colour(vi), (*v).clone(), n));
        }
    }
    let last = samples.last().map(|s| &s.versions);
    let alt: Vec<String> = all
        .iter()
        .map(|v| {
            let n = last.and_then(|l| l.get(*v)).copied().unwrap_or(0);
            format!("{v}: {n}")
        })
        .collect();
    let since = jiff::Timestamp::from_second(start)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    html! {
        figure.chart {
            svg viewBox={"0 0 " (W) " " (H)} preserveAspectRatio="none" role="img"
                aria-label={"Nodes per version since " (since) "; now " (alt.join(", "))} {
                title { "Nodes per version since " (since) }
                @for (x, y, w, h, fill, v, n) in &rects {
                    rect x=(x) y=(y) width=(w) height=(h) fill=(fill) { title { (v) ": " (n) } }
                }
            }
            figcaption {
                "Nodes per version since " (since) ": "
                @for (i, v) in all.iter().enumerate() {
                    span.key { span.swatch style={"background:" (colour(i))} {} (v) " " }
                }
            }
        }
    }
}

/// A bar of nodes by state (`counts` in display order).
#[must_use]
pub fn state_bar(counts: &[(String, usize)]) -> Markup {
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let total_f = total.max(1) as f64;
    let mut at = 0.0;
    let mut parts = Vec::new();
    for (name, n) in counts.iter().filter(|(_, n)| *n > 0) {
        let w = *n as f64 / total_f * 100.0;
        parts.push((at, w, state_colour(name), name.clone(), *n));
        at += w;
    }
    let label: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    html! {
        svg.bar viewBox="0 0 100 6" preserveAspectRatio="none" role="img"
            aria-label={"Nodes by state: " (label.join(", "))} {
            @for (x, w, fill, name, n) in &parts {
                rect x=(x) y="0" width=(w) height="6" fill=(fill) { title { (n) " " (name) } }
            }
        }
    }
}

/// The colour of a node state.
#[must_use]
pub fn state_colour(state: &str) -> &'static str {
    match state {
        "applied" => "#1e8e3e",
        "awaiting-reboot" => "#12b5cb",
        "pending" | "applying" => "#1b6ac9",
        "failed" | "rolled-back" => "#d93025",
        "unreachable" => "#5f6368",
        _ => "#b06000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, v: &[(&str, usize)]) -> Sample {
        Sample {
            at,
            versions: v.iter().map(|(k, n)| ((*k).to_string(), *n)).collect(),
        }
    }

    #[test]
    fn the_chart_stacks_versions_in_order_and_escapes_their_names() {
        let samples = vec![
            sample(1000, &[("1.0.0", 3)]),
            sample(1010, &[("1.0.0", 2), ("1.0.1", 1)]),
            sample(1020, &[("1.0.1", 2), ("<b>x</b>", 1)]),
        ];
        let svg = versions_over_time(&samples, 1040).into_string();
        assert!(
            svg.contains("aria-label=\"Nodes per version since"),
            "{svg}"
        );
        assert!(svg.contains("&lt;b&gt;x&lt;/b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        // 1 + 2 + 2 rectangles, the first spanning a quarter of the width.
        assert_eq!(svg.matches("<rect").count(), 5, "{svg}");
        assert!(
            svg.contains("x=\"0\" y=\"0\" width=\"160\" height=\"180\""),
            "{svg}"
        );
    }

    #[test]
    fn samples_are_kept_bounded_and_only_when_they_change() {
        let mut s = Vec::new();
        keep(&mut s, sample(0, &[("1", 1)]));
        keep(&mut s, sample(1, &[("1", 1)]));
        assert_eq!(s.len(), 1);
        for i in 0..1000 {
            keep(
                &mut s,
                sample(i + 2, &[("1", usize::try_from(i).unwrap() + 2)]),
            );
        }
        assert_eq!(s.len(), MAX_SAMPLES);
        assert_eq!(s[0].at, 0);
        assert_eq!(s.last().unwrap().at, 1001);
    }
}
