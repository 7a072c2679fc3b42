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

/// A bad argument clap could not check (a `--workspace` that is no workspace, a target of
/// the wrong shape): printed like any error, but the exit status is 2, as for clap's own.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// Left-aligned columns separated by two spaces; the header row first. A cell with line
/// breaks (an audit detail, a gate's stderr) continues on the next lines in its own column,
/// so the columns to its right stay aligned; other control characters are escaped.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let split = |cells: &[String]| -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|c| c.lines().map(escape_controls).collect::<Vec<_>>())
            .collect()
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let rows: Vec<Vec<Vec<String>>> = std::iter::once(&header)
        .chain(rows)
        .map(|r| split(r))
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.iter().map(|l| l.chars().count()).max().unwrap_or(0);
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        let height = row.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for n in 0..height {
            let last = row.len().saturating_sub(1);
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                let part = cell.get(n).map(String::as_str).unwrap_or("");
                text.push_str(part);
                if i < last {
                    let pad = widths
                        .get(i)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(part.chars().count())
                        + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Control characters as visible escapes (`core::logs::escape_controls`), and a tab as a
/// space, which keeps the columns: a cell cannot move the cursor of whoever reads the table.
fn escape_controls(line: &str) -> String {
    crate::core::logs::escape_controls(line).replace('\t', " ")
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
    fn a_multi_line_cell_continues_in_its_own_column() {
        let rows = vec![
            vec![
                "1".to_string(),
                "first\nsecond".to_string(),
                "ok".to_string(),
            ],
            vec!["2".to_string(), "one\x1b[2J".to_string(), "ok".to_string()],
        ];
        assert_eq!(
            table(&["ID", "DETAIL", "RESULT"], &rows),
            "ID  DETAIL      RESULT\n1   first       ok\n    second\n2   one\\x1b[2J  ok\n"
        );
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
