//! An incremental Server-Sent Events parser (the WHATWG event-stream format) over bytes that
//! arrive in chunks split anywhere: inside a line, between `\r` and `\n`, or inside a UTF-8
//! sequence. Lines are decoded only once complete, so a split character is never mangled.

/// One dispatched event: its type (`message` when no `event:` line named one) and its data,
/// the `data:` lines joined with `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line not yet terminated.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`; a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// The stream's first line may start with a byte-order mark, which is not part of it.
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk and returns the events it completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    /// How many bytes wait for the end of their line; lets a reader refuse an endless line.
    pub fn buffered(&self) -> usize {
        self.line.len() + self.data.len()
    }

    /// The stream ended. An event whose blank line never came is still returned: servers
    /// that close right after their last `data:` line mean it as complete.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events);
        }
        self.end_line(&mut events);
        events.pop()
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        let mut line: &[u8] = &raw;
        if !self.started {
            self.started = true;
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line[0] == b':' {
            return; // a comment, often a keep-alive
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` steer reconnection, which a one-shot request never does.
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        events.push(SseEvent {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".to_string()),
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    fn parse_split(input: &[u8], at: &[usize]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
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

    const STREAM: &str = "\u{feff}: keep-alive\r\n\
        event: message_start\r\ndata: {\"a\":1}\r\n\r\n\
        data: first\ndata: second\n\n\
        event: delta\rdata: héllo → wörld 🚀\r\r\
        data\n\n\
        id: 7\nretry: 100\ndata:no-space\n\n\
        event: ignored-without-data\n\n\
        data: tail";

    fn expected() -> Vec<SseEvent> {
        vec![
            ev("message_start", "{\"a\":1}"),
            ev("message", "first\nsecond"),
            ev("delta", "héllo → wörld 🚀"),
            ev("message", ""),
            ev("message", "no-space"),
            ev("message", "tail"),
        ]
    }

    #[test]
    fn whole_stream_parses() {
        assert_eq!(parse_split(STREAM.as_bytes(), &[]), expected());
    }

    #[test]
    fn every_single_split_point_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        for cut in 0..=bytes.len() {
            assert_eq!(
                parse_split(bytes, &[cut]),
                expected(),
                "split at byte {cut}"
            );
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_events() {
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
    fn byte_at_a_time() {
        let bytes = STREAM.as_bytes();
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(parse_split(bytes, &cuts), expected());
    }

    #[test]
    fn events_come_out_as_soon_as_their_blank_line_arrives() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"data: x\n").is_empty());
        assert_eq!(parser.push(b"\n"), vec![ev("message", "x")]);
        assert_eq!(parser.finish(), None);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut parser = SseParser::new();
        let events = parser.push(b"data: a\xffb\n\n");
        assert_eq!(events, vec![ev("message", "a\u{fffd}b")]);
    }
}
