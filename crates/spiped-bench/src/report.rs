//! The results table: each figure for both implementations, the ratio
//! ours / C, and the goal on that ratio.

use std::fmt::Write;

use crate::stats;

/// A goal on the ratio ours / C.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

impl Goal {
    pub fn met(&self, ratio: f64) -> bool {
        match *self {
            Goal::AtLeast(g) => ratio >= g,
            Goal::AtMost(g) => ratio <= g,
        }
    }

    fn text(&self) -> String {
        match *self {
            Goal::AtLeast(g) => format!(">= {g}x"),
            Goal::AtMost(g) => format!("<= {g}x"),
        }
    }
}

/// One implementation's figure: the headline value and, when it comes
/// from several rounds, their spread.
#[derive(Clone, Debug)]
pub struct Cell {
    pub value: f64,
    pub spread: Option<(f64, f64)>,
}

impl Cell {
    pub fn one(value: f64) -> Cell {
        Cell {
            value,
            spread: None,
        }
    }

    /// The median of per-round samples, with min and max when there are several.
    pub fn rounds(samples: &[f64]) -> Cell {
        Cell {
            value: stats::median(samples),
            spread: (samples.len() > 1).then(|| (stats::min(samples), stats::max(samples))),
        }
    }

    fn text(&self, dec: usize) -> String {
        let mut s = format!("{:.*}", dec, self.value);
        if let Some((lo, hi)) = self.spread {
            let _ = write!(s, " ({lo:.dec$}–{hi:.dec$})");
        }
        s
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub what: String,
    pub ours: Option<Cell>,
    pub c: Option<Cell>,
    pub decimals: usize,
    pub goal: Option<Goal>,
}

/// The table, filled phase by phase, plus free-form notes.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    /// A figure measured for both implementations.
    pub fn both(&mut self, what: &str, ours: Cell, c: Cell, decimals: usize, goal: Option<Goal>) {
        self.rows.push(Row {
            what: what.into(),
            ours: Some(ours),
            c: Some(c),
            decimals,
            goal,
        });
    }

    /// A figure of ours alone (e.g. the crypto ceiling).
    pub fn ours_only(&mut self, what: &str, ours: Cell, decimals: usize) {
        self.rows.push(Row {
            what: what.into(),
            ours: Some(ours),
            c: None,
            decimals,
            goal: None,
        });
    }

    pub fn note(&mut self, s: String) {
        self.notes.push(s);
    }

    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| figure | ours | Debian C 1.6.2 | ours / C | goal | met |\n\
             |---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let cell = |c: &Option<Cell>| c.as_ref().map_or("—".into(), |c| c.text(r.decimals));
            let ratio = match (&r.ours, &r.c) {
                (Some(o), Some(c)) if c.value != 0.0 => Some(o.value / c.value),
                _ => None,
            };
            let (goal, met) = match (r.goal, ratio) {
                (Some(g), Some(x)) => (g.text(), if g.met(x) { "yes" } else { "**no**" }),
                (Some(g), None) => (g.text(), "?"),
                _ => (String::new(), ""),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.what,
                cell(&r.ours),
                cell(&r.c),
                ratio.map_or(String::new(), |x| format!("{x:.2}x")),
                goal,
                met
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_ratio_goal_and_verdict() {
        let mut r = Report::default();
        r.both(
            "bulk MB/s",
            Cell::rounds(&[500.0, 700.0, 600.0]),
            Cell::one(150.0),
            0,
            Some(Goal::AtLeast(4.0)),
        );
        r.both(
            "TTFB ms",
            Cell::one(1.0),
            Cell::one(2.0),
            2,
            Some(Goal::AtMost(0.4)),
        );
        r.ours_only("ceiling MB/s", Cell::one(900.0), 0);
        let t = r.markdown();
        assert!(t.contains("| bulk MB/s | 600 (500–700) | 150 | 4.00x | >= 4x | yes |"));
        assert!(t.contains("| TTFB ms | 1.00 | 2.00 | 0.50x | <= 0.4x | **no** |"));
        assert!(t.contains("| ceiling MB/s | 900 | — |  |  |  |"));
    }
}
