//! An incremental decoder for `text/event-stream` (server-sent events), following the WHATWG
//! HTML standard's parsing rules, with a bound on line length so a hostile upstream cannot
//! exhaust memory.
//!
//! Bytes arrive in network-sized pieces that may split a line, a CRLF pair or a multi-byte UTF-8
//! character anywhere. The decoder copies each piece into one reusable buffer, scans only bytes it
//! has not scanned before, and hands out complete events:
//!
//! ```
//! use bulkhead_inference::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! decoder.push(b"data: hel");
//! assert!(decoder.next_event()?.is_none()); // the line is not complete yet
//! decoder.push(b"lo\n\n");
//! assert_eq!(decoder.next_event()?.map(|e| e.data), Some("hello".to_owned()));
//! # Ok::<(), bulkhead_inference::SseError>(())
//! ```

use std::time::Duration;

/// The default bound on a line, and on the data one event may accumulate: 1 MiB.
pub const DEFAULT_MAX_LINE_LEN: usize = 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The `data:` lines of the event, joined with `\n`.
    pub data: String,
    /// The last event id seen on the stream (the `id:` field persists across events, as in
    /// the standard); `None` while no non-empty id was sent.
    pub id: Option<String>,
}

/// One dispatched server-sent event, borrowed from the decoder until its next call: the
/// decoder keeps one buffer for the data of all events, so reading events this way allocates
/// nothing per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<&'a str>,
    /// The `data:` lines of the event, joined with `\n`.
    pub data: &'a str,
    /// The last event id seen on the stream; `None` while no non-empty id was sent.
    pub id: Option<&'a str>,
}

impl SseEventRef<'_> {
    /// The event, owned.
    pub fn into_owned(self) -> SseEvent {
        SseEvent {
            event: self.event.map(str::to_owned),
            data: self.data.to_owned(),
            id: self.id.map(str::to_owned),
        }
    }
}

/// Why a byte stream cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line was longer than the decoder's bound.
    #[error("server-sent event line longer than {limit} bytes")]
    LineTooLong {
        /// The bound, in bytes.
        limit: usize,
    },
    /// The `data:` lines of one event added up to more than the decoder's bound.
    #[error("server-sent event data longer than {limit} bytes")]
    EventTooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
}

/// An incremental server-sent events decoder.
///
/// Call [`push`](Self::push) with each piece of the body, then [`next_event`](Self::next_event)
/// until it returns `Ok(None)`; between two pushes the decoder holds at most one partial line.
/// After an error the stream cannot be trusted and the decoder should be dropped.
#[derive(Debug)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// Start of the first unconsumed byte in `buf`.
    pos: usize,
    /// How many bytes after `pos` are known to hold no line ending.
    scanned: usize,
    /// The previous line ended with CR: a LF right after it belongs to the same line ending.
    skip_lf: bool,
    /// Whether the start of the stream has been checked for a byte-order mark.
    bom_checked: bool,
    max_len: usize,
    state: EventState,
}

#[derive(Debug, Default)]
struct EventState {
    data: String,
    event: String,
    last_id: String,
    retry: Option<u64>,
    /// `data` and `event` belong to the event handed out last; they are cleared (keeping
    /// their capacity) on the next call.
    dispatched: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default line bound ([`DEFAULT_MAX_LINE_LEN`]).
    pub fn new() -> Self {
        Self::with_max_line_len(DEFAULT_MAX_LINE_LEN)
    }

    /// A decoder that rejects a line, or the data of one event, longer than `max` bytes.
    pub fn with_max_line_len(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            skip_lf: false,
            bom_checked: false,
            max_len: max,
            state: EventState::default(),
        }
    }

    /// Append the next piece of the byte stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            // Drop what was consumed; what remains is at most one partial line.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The reconnection time the stream asked for with a `retry:` field, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.state.retry.map(Duration::from_millis)
    }

    /// Whether bytes of an unfinished line or event are pending; at the end of a stream this
    /// means the stream was cut mid-event (the standard discards such an event).
    pub fn has_partial(&self) -> bool {
        self.pos < self.buf.len() || (!self.state.dispatched && !self.state.data.is_empty())
    }

    /// The next complete event, `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        Ok(self.next_event_ref()?.map(SseEventRef::into_owned))
    }

    /// The next complete event, borrowed from the decoder (see [`SseEventRef`]); `Ok(None)`
    /// when more bytes are needed. The cheaper of the two ways to read events.
    pub fn next_event_ref(&mut self) -> Result<Option<SseEventRef<'_>>, SseError> {
        if self.state.dispatched {
            self.state.dispatched = false;
            self.state.data.clear();
            self.state.event.clear();
        }
        if let Some(whole) = self.simple_event() {
            self.pos += whole.len;
            let value = &self.buf[whole.data];
            let data = match bulkhead_core::json::from_utf8(value) {
                Ok(text) => text,
                Err(_) => {
                    push_utf8(&mut self.state.data, value);
                    self.state.dispatched = true;
                    &self.state.data
                }
            };
            // `simple_event` checked the type is UTF-8.
            let event = whole
                .event
                .and_then(|event| bulkhead_core::json::from_utf8(&self.buf[event]).ok());
            let id = &self.state.last_id;
            return Ok(Some(SseEventRef {
                event,
                data,
                id: (!id.is_empty()).then_some(id.as_str()),
            }));
        }
        loop {
            if self.skip_lf {
                match self.buf.get(self.pos) {
                    None => return Ok(None),
                    Some(b'\n') => {
                        self.pos += 1;
                        self.skip_lf = false;
                    }
                    Some(_) => self.skip_lf = false,
                }
            }
            if !self.bom_checked {
                let rest = &self.buf[self.pos..];
                if rest.len() < BOM.len() && BOM.starts_with(rest) {
                    return Ok(None);
                }
                if rest.starts_with(BOM) {
                    self.pos += BOM.len();
                }
                self.bom_checked = true;
            }
            let rest = &self.buf[self.pos..];
            let Some(offset) = find_line_end(&rest[self.scanned..]) else {
                self.scanned = rest.len();
                if rest.len() > self.max_len {
                    return Err(SseError::LineTooLong {
                        limit: self.max_len,
                    });
                }
                return Ok(None);
            };
            let len = self.scanned + offset;
            if len > self.max_len {
                return Err(SseError::LineTooLong {
                    limit: self.max_len,
                });
            }
            let line = &rest[..len];
            self.skip_lf = rest[len] == b'\r';
            let dispatched = self.state.process_line(line, self.max_len);
            self.pos += len + 1;
            self.scanned = 0;
            if dispatched? {
                let state = &self.state;
                return Ok(Some(SseEventRef {
                    event: (!state.event.is_empty()).then_some(state.event.as_str()),
                    data: &state.data,
                    id: (!state.last_id.is_empty()).then_some(state.last_id.as_str()),
                }));
            }
        }
    }
}

/// Where the parts of an event [`SseDecoder::simple_event`] found lie in the buffer.
struct SimpleEvent {
    /// The type's bytes, when the event names a non-empty one.
    event: Option<std::ops::Range<usize>>,
    data: std::ops::Range<usize>,
    /// The bytes the event takes up, its blank line included.
    len: usize,
}

impl SseDecoder {
    /// The common event, whole in the buffer: one `data:` line ending in `\n`, perhaps after
    /// an `event:` line (Anthropic names every event's type), and the blank line after it,
    /// with nothing of an event read before. Handed out straight from the buffer (no copy into
    /// the event's state, one search per line and none for the blank one); anything else,
    /// partial lines included, goes through the line-by-line rules.
    fn simple_event(&self) -> Option<SimpleEvent> {
        if self.skip_lf
            || !self.bom_checked
            || self.scanned != 0
            || !self.state.data.is_empty()
            || !self.state.event.is_empty()
        {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let (event, at) = match self.field_line(rest, b"event") {
            Some((value, end)) => {
                // The slow path reads a type that is not UTF-8 lossily.
                bulkhead_core::json::from_utf8(&rest[value.clone()]).ok()?;
                ((!value.is_empty()).then_some(value), end + 1)
            }
            None => (None, 0),
        };
        let (data, end) = self.field_line(&rest[at..], b"data")?;
        if rest.get(at + end + 1) != Some(&b'\n') {
            return None;
        }
        let shift = |range: std::ops::Range<usize>, by: usize| range.start + by..range.end + by;
        Some(SimpleEvent {
            event: event.map(|range| shift(range, self.pos)),
            data: shift(data, self.pos + at),
            len: at + end + 2,
        })
    }

    /// A whole `name:` line at the start of `bytes`, ending in `\n` and within the length
    /// limit: the range of its value (one leading space dropped) and where the `\n` is.
    fn field_line(&self, bytes: &[u8], name: &[u8]) -> Option<(std::ops::Range<usize>, usize)> {
        let after = bytes.strip_prefix(name)?.strip_prefix(b":")?;
        let value = name.len() + 1 + usize::from(after.first() == Some(&b' '));
        let end = value + find_line_end(&bytes[value..])?;
        (bytes[end] == b'\n' && end < self.max_len).then_some((value..end, end))
    }
}

/// The position of the first CR or LF.
#[inline]
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    // SIMD search: this scan is most of the decoder's cost per byte.
    memchr::memchr2(b'\n', b'\r', bytes)
}

impl EventState {
    /// Take in one line; `true` when it dispatched an event (then in `data` and `event`).
    fn process_line(&mut self, line: &[u8], max: usize) -> Result<bool, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(false); // a comment, often sent as a keep-alive
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > max {
                    return Err(SseError::EventTooLarge { limit: max });
                }
                if self.data.is_empty() {
                    // Usually the only data line: at most one allocation of the right size
                    // (none once the buffer, kept across events, is large enough).
                    self.data.reserve_exact(value.len() + 1);
                }
                push_utf8(&mut self.data, value);
                self.data.push('\n');
            }
            b"event" => {
                self.event.clear();
                push_utf8(&mut self.event, value);
            }
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                push_utf8(&mut self.last_id, value);
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            }
            _ => {} // unknown fields are ignored
        }
        Ok(false)
    }

    /// End the event at a blank line: `true` when it has data to hand out.
    fn dispatch(&mut self) -> bool {
        if self.data.is_empty() {
            self.event.clear();
            return false;
        }
        self.data.pop(); // the '\n' after the last data line
        self.dispatched = true;
        true
    }
}

/// Append bytes as UTF-8, replacing invalid sequences with U+FFFD as the standard's decoder does.
#[inline]
fn push_utf8(out: &mut String, bytes: &[u8]) {
    match bulkhead_core::json::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}
