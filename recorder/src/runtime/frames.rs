//! Per-thread stacks of the frames the trace has a `Call` for.
//!
//! They keep `Call`/`Return` balanced: a return is only written for a frame whose call was
//! written, frames skipped by an exception are closed on the way, and whatever is still open
//! when recording stops is closed by `finish`.

use crate::fast_hash::FastMap;

/// One frame with a `Call` in the trace.
pub struct Frame {
    pub code: usize,
}

/// The current thread's stack is kept apart from the others: every event touches it, and
/// threads switch rarely by comparison.
#[derive(Default)]
pub struct ThreadStacks {
    current_stack: Vec<Frame>,
    others: FastMap<u64, Vec<Frame>>,
    current: u64,
    started: bool,
}

impl ThreadStacks {
    /// Makes `thread` current; true when that is a change (so a marker is due).
    pub fn switch_to(&mut self, thread: u64) -> bool {
        let changed = self.started && self.current != thread;
        if changed {
            let parked = std::mem::take(&mut self.current_stack);
            self.others.insert(self.current, parked);
            self.current_stack = self.others.remove(&thread).unwrap_or_default();
        }
        self.current = thread;
        self.started = true;
        changed
    }

    pub fn push(&mut self, code: usize) {
        self.current_stack.push(Frame { code });
    }

    pub fn is_top(&self, code: usize) -> bool {
        self.current_stack.last().map(|f| f.code) == Some(code)
    }

    /// Pops up to and including the innermost frame of `code`. Returns how many frames above
    /// it were popped too (they need a synthetic return), or `None` if `code` is not open.
    pub fn pop_to(&mut self, code: usize) -> Option<usize> {
        let stack = &mut self.current_stack;
        let index = stack.iter().rposition(|f| f.code == code)?;
        let above = stack.len() - index - 1;
        stack.truncate(index);
        Some(above)
    }

    pub fn open_frames(&self) -> usize {
        self.current_stack.len() + self.others.values().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_to_closes_frames_above() {
        let mut s = ThreadStacks::default();
        assert!(!s.switch_to(1));
        s.push(10);
        s.push(20);
        s.push(30);
        assert_eq!(s.pop_to(20), Some(1));
        assert!(s.is_top(10));
        assert!(s.pop_to(99).is_none());
        assert!(s.switch_to(2));
        assert!(!s.is_top(10));
        s.push(40);
        assert_eq!(s.open_frames(), 2);
        assert!(s.switch_to(1));
        assert!(s.is_top(10));
        assert!(s.pop_to(40).is_none());
    }
}
