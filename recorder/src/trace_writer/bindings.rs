//! The db-backend's view of variable cells, mirrored while writing.
//!
//! In `changes` mode a step does not list its variables. CodeTracer's db-backend keeps, per
//! call depth, which variables are bound to which place (`VariableCell`), copies those
//! bindings into every `Step`, and shows each place's latest `CellValue`. A `Call` clears the
//! bindings of the depth it enters, a `Return` leaves them as they are, a `DropVariable`
//! removes one. The writer replays the same rules on what it writes, so the recorder can tell
//! what the next step will show without writing anything twice, including after a generator
//! resumes or another thread's calls have reused a depth.

/// The bindings of one call depth, and the frame that last made them match its variables.
#[derive(Debug, Default)]
pub struct Level {
    /// Serial of the frame these bindings belong to; 0 once a `Call` has cleared them.
    pub owner: u64,
    /// (variable id, place), in binding order.
    pub cells: Vec<(usize, i64)>,
}

#[derive(Debug, Default)]
pub struct Bindings {
    depth: usize,
    levels: Vec<Level>,
}

impl Bindings {
    pub(super) fn on_call(&mut self) {
        self.depth += 1;
        if self.levels.len() < self.depth {
            self.levels.resize_with(self.depth, Level::default);
        }
        if let Some(level) = self.levels.get_mut(self.depth - 1) {
            level.owner = 0;
            level.cells.clear();
        }
    }

    pub(super) fn on_return(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The bindings the next step will start from; `None` outside every call.
    pub fn current(&self) -> Option<&Level> {
        self.depth.checked_sub(1).and_then(|i| self.levels.get(i))
    }

    fn current_mut(&mut self) -> Option<&mut Level> {
        self.depth
            .checked_sub(1)
            .and_then(|i| self.levels.get_mut(i))
    }

    /// The place `variable_id` is bound to at the current depth.
    pub fn place_of(&self, variable_id: usize) -> Option<i64> {
        let level = self.current()?;
        level
            .cells
            .iter()
            .find(|(vid, _)| *vid == variable_id)
            .map(|&(_, place)| place)
    }

    pub(super) fn bind(&mut self, variable_id: usize, place: i64) {
        if let Some(level) = self.current_mut() {
            match level.cells.iter_mut().find(|(vid, _)| *vid == variable_id) {
                Some(cell) => cell.1 = place,
                None => level.cells.push((variable_id, place)),
            }
        }
    }

    pub(super) fn unbind(&mut self, variable_id: usize) {
        if let Some(level) = self.current_mut() {
            level.cells.retain(|(vid, _)| *vid != variable_id);
        }
    }

    /// Marks the current depth's bindings as exactly those of frame `owner`.
    pub fn claim(&mut self, owner: u64) {
        if let Some(level) = self.current_mut() {
            level.owner = owner;
        }
    }

    #[cfg(test)]
    pub fn depth(&self) -> usize {
        self.depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_clears_its_depth_and_a_return_keeps_the_callers() {
        let mut b = Bindings::default();
        assert!(b.current().is_none());
        b.on_call();
        b.bind(1, 10);
        b.claim(7);
        b.on_call();
        assert!(b
            .current()
            .is_some_and(|l| l.cells.is_empty() && l.owner == 0));
        b.bind(2, 20);
        b.on_return();
        assert_eq!(b.place_of(1), Some(10));
        assert_eq!(b.place_of(2), None);
        assert_eq!(b.current().map(|l| l.owner), Some(7));
        // The next call at depth 2 starts from nothing, not from the callee before it.
        b.on_call();
        assert_eq!(b.place_of(2), None);
        b.on_return();
        b.bind(1, 11);
        assert_eq!(b.place_of(1), Some(11));
        b.unbind(1);
        assert_eq!(b.place_of(1), None);
        assert_eq!(b.depth(), 1);
    }
}
