//! Human output: aligned tables and compact numbers.

/// An exit status to end with, without printing an error (the output already said it).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Exit {}

/// Left-aligned columns separated by two spaces; the header row first. Control
/// characters in cells (a plugin's text in an event message) are shown escaped.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| crate::core::logs::escape_controls(cell).into_owned())
                .collect()
        })
        .collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i < last {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.chars().count())
                    + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

pub fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n == 0 {
        "-".to_string()
    } else if (n as f64) < MIB {
        format!("{:.0}K", n as f64 / 1024.0)
    } else {
        format!("{:.1}M", n as f64 / MIB)
    }
}

pub fn millis(ms: f64) -> String {
    if ms <= 0.0 {
        "-".to_string()
    } else if ms < 10.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "LONG"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    LONG\nxyz  1\nq    22\n");
        let t = table(&["MESSAGE"], &[vec!["up\x08\x1adown".into()]]);
        assert_eq!(t, "MESSAGE\nup\\x08\\x1adown\n");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(bytes(0), "-");
        assert_eq!(bytes(2048), "2K");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0M");
        assert_eq!(millis(1.234), "1.2ms");
        assert_eq!(millis(250.0), "250ms");
    }
}
