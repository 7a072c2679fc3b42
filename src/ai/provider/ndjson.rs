//! An incremental newline-delimited JSON splitter: one JSON value per line, over bytes that
//! arrive in chunks split anywhere (a UTF-8 sequence included). Lines are decoded only once
//! complete; blank lines are skipped; a trailing `\r` is dropped.

#[derive(Debug, Default)]
pub struct NdjsonParser {
    line: Vec<u8>,
}

impl NdjsonParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk and returns the lines it completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                if let Some(line) = self.take_line() {
                    lines.push(line);
                }
            } else {
                self.line.push(byte);
            }
        }
        lines
    }

    /// How many bytes wait for the end of their line.
    pub fn buffered(&self) -> usize {
        self.line.len()
    }

    /// The stream ended: the last line, when it had no newline.
    pub fn finish(&mut self) -> Option<String> {
        self.take_line()
    }

    fn take_line(&mut self) -> Option<String> {
        let raw = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&raw);
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str =
        "{\"message\":{\"content\":\"héllo 🚀\"}}\r\n\n  \n{\"done\":false}\n{\"done\":true}";

    fn expected() -> Vec<String> {
        vec![
            "{\"message\":{\"content\":\"héllo 🚀\"}}".to_string(),
            "{\"done\":false}".to_string(),
            "{\"done\":true}".to_string(),
        ]
    }

    fn parse_split(input: &[u8], at: &[usize]) -> Vec<String> {
        let mut parser = NdjsonParser::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in at {
            out.extend(parser.push(&input[start..cut]));
            start = cut;
        }
        out.extend(parser.push(&input[start..]));
        out.extend(parser.finish());
        out
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_lines() {
        let bytes = STREAM.as_bytes();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                assert_eq!(
                    parse_split(bytes, &[a, b]),
                    expected(),
                    "split at {a} and {b}"
                );
            }
        }
    }

    #[test]
    fn lines_are_valid_json_once_complete() {
        for line in parse_split(STREAM.as_bytes(), &[5, 9, 17]) {
            serde_json::from_str::<serde_json::Value>(&line).unwrap();
        }
    }

    #[test]
    fn a_line_comes_out_when_its_newline_arrives() {
        let mut parser = NdjsonParser::new();
        assert!(parser.push(b"{\"a\"").is_empty());
        assert_eq!(parser.push(b":1}\n{"), vec!["{\"a\":1}".to_string()]);
        assert_eq!(parser.buffered(), 1);
    }
}
