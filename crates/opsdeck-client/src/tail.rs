//! The end of a command's output: [`OutputTail`] keeps the last bytes of everything
//! pushed into it, in bounded memory however much the command prints, because the end
//! of a failing job's output is where its error is.

use std::collections::VecDeque;

/// The last `capacity` bytes pushed, and how many were pushed in all.
#[derive(Debug, Clone)]
pub struct OutputTail {
    kept: VecDeque<u8>,
    capacity: usize,
    total: u64,
}

impl OutputTail {
    pub fn new(capacity: usize) -> Self {
        Self {
            kept: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity,
            total: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        let bytes = &bytes[bytes.len().saturating_sub(self.capacity)..];
        let overflow = (self.kept.len() + bytes.len()).saturating_sub(self.capacity);
        self.kept.drain(..overflow);
        self.kept.extend(bytes);
    }

    /// Everything pushed so far, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// At most `limit` bytes to send: all of the output if it fits, else a note that it
    /// was cut followed by its last bytes, from the first whole UTF-8 character on.
    pub fn body(&self, limit: usize) -> Vec<u8> {
        let limit = limit.min(self.capacity);
        if self.total <= limit as u64 {
            return self.kept.iter().copied().collect();
        }
        let note = format!(
            "[opsdeck exec] output truncated: {} bytes in all, the last ones follow\n",
            self.total
        );
        let (room, mut body) = if note.len() < limit / 2 {
            (limit - note.len(), note.into_bytes())
        } else {
            (limit, Vec::new())
        };
        let mut tail = self.kept.iter().skip(self.kept.len().saturating_sub(room));
        let mut first = tail.next().copied();
        // A cut can land inside a multi-byte character: drop its continuation bytes.
        while first.is_some_and(|b| b & 0b1100_0000 == 0b1000_0000) {
            first = tail.next().copied();
        }
        body.extend(first);
        body.extend(tail);
        body
    }
}
