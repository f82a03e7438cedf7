//! How a step's variables reach the trace.
//!
//! `full` writes a `Value` event for every visible variable after every step, as the upstream
//! recorder does. `changes` (the default) uses the db-backend's variable cells: a variable is
//! bound to a place (`VariableCell`), a place holds a value (`CellValue`), and the db-backend
//! carries a call's bindings from step to step and shows each place's latest value (see
//! `trace_writer::bindings`). Both modes show the same variables with the same values at every
//! step, but `changes` writes a value only when it is new or changed.
//!
//! A place stands for one Python object (as seen through one set of filter rules), so every
//! frame that holds the same list shares its place and the list is written again only when its
//! encoding changes, whichever frame changed it. Mutable objects are encoded at every step and
//! compared by a 128-bit digest. Small immutable values (None, bool, int, float, short str and
//! bytes) are held by the place table, so their address cannot be reused while it knows them:
//! the same address is the same value and needs no encoding at all.

use pyo3::ffi;
use pyo3::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use super::RuntimeTracer;
use crate::encoder::retain;
use crate::errors::RecorderResult;
use crate::fast_hash::FastMap;
use crate::trace_filter::ValueAction;
use crate::trace_writer::TraceEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepValues {
    Changes,
    Full,
}

impl StepValues {
    pub const ALLOWED: &'static [&'static str] = &["changes", "full"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "changes" => Some(StepValues::Changes),
            "full" => Some(StepValues::Full),
            _ => None,
        }
    }
}

/// One visible variable at a step. `value` is a new reference, released by the caller.
pub struct StepVar {
    pub vid: usize,
    pub value: *mut ffi::PyObject,
    pub action: ValueAction,
}

// SAFETY: step variables exist only inside one callback, under the GIL; the reused buffer
// that holds them is empty between callbacks.
unsafe impl Send for StepVar {}

/// A variable of a frame and the place the trace last bound it to.
struct Slot {
    vid: usize,
    place: i64,
}

/// The variables of one frame as the trace last showed them.
#[derive(Default)]
pub struct FrameValues {
    /// Unique per frame (0: none), so the writer's bindings can name their owner.
    serial: u64,
    slots: Vec<Slot>,
}

/// A place and the value last written to it.
struct PlaceEntry {
    place: i64,
    digest: u128,
    /// The encoder's memo serial of that value, when it was a kept encoding reused whole
    /// (0: none): the same serial again means the same bytes, with no digest to compute.
    serial: u64,
    /// The value itself when it is a small immutable one (see the module docs).
    pinned: Option<Py<PyAny>>,
}

/// Places remembered at most; beyond this the table starts over (values are written again,
/// under new places).
const MAX_PLACES: usize = 1 << 16;

pub struct StepValueState {
    pub mode: StepValues,
    next_serial: u64,
    next_place: i64,
    /// (object address, view) → place; the view tells redacted and differently filtered
    /// encodings of one object apart.
    places: FastMap<(usize, usize), PlaceEntry>,
}

impl StepValueState {
    pub fn new(mode: StepValues) -> Self {
        StepValueState {
            mode,
            next_serial: 1,
            next_place: 0,
            places: FastMap::default(),
        }
    }

    /// Value state for a frame entering or re-entering.
    pub fn fresh_frame(&mut self) -> FrameValues {
        let serial = self.next_serial;
        self.next_serial += 1;
        FrameValues {
            serial,
            slots: Vec::new(),
        }
    }
}

impl RuntimeTracer {
    /// Writes the `Step` and its variables in the configured mode.
    pub(super) unsafe fn write_step(
        &mut self,
        path_id: usize,
        line: i64,
        vars: &[StepVar],
    ) -> RecorderResult<()> {
        if self.values.mode == StepValues::Full {
            self.writer.emit(TraceEvent::Step { path_id, line })?;
            for var in vars {
                self.record_value(var.vid, var.value, var.action)?;
            }
            return Ok(());
        }
        let Some(frame) = self.stacks.top_mut() else {
            return self.writer.emit(TraceEvent::Step { path_id, line });
        };
        let mut values = std::mem::take(&mut frame.values);
        let result = self.write_changes(&mut values, path_id, line, vars);
        if let Some(frame) = self.stacks.top_mut() {
            frame.values = values;
        }
        result
    }

    unsafe fn write_changes(
        &mut self,
        values: &mut FrameValues,
        path_id: usize,
        line: i64,
        vars: &[StepVar],
    ) -> RecorderResult<()> {
        let visible = |vid: usize| vars.iter().any(|v| v.vid == vid);
        // Usually a step sees the same variables, in the same order, as the frame's last one.
        let aligned = values.slots.len() == vars.len()
            && values.slots.iter().zip(vars).all(|(s, v)| s.vid == v.vid);
        // The bindings the db-backend holds at this depth are this frame's own unless a call
        // (a generator resuming, another thread) has reset them since its last step.
        let in_sync = self
            .writer
            .bindings
            .current()
            .is_some_and(|level| level.owner == values.serial);
        // An unbinding counts from the next `Step` on, so it goes before this one.
        let stale: Vec<usize> = match (aligned, in_sync) {
            (true, true) => Vec::new(),
            (false, true) => values
                .slots
                .iter()
                .map(|s| s.vid)
                .filter(|&vid| !visible(vid))
                .collect(),
            (_, false) => self
                .writer
                .bindings
                .current()
                .map(|level| {
                    level
                        .cells
                        .iter()
                        .map(|&(vid, _)| vid)
                        .filter(|&vid| !visible(vid))
                        .collect()
                })
                .unwrap_or_default(),
        };
        for variable_id in stale {
            self.writer.emit(TraceEvent::DropVariable { variable_id })?;
        }
        if !aligned {
            values.slots.retain(|s| visible(s.vid));
        }
        self.writer.emit(TraceEvent::Step { path_id, line })?;
        for (i, var) in vars.iter().enumerate() {
            let found = if aligned {
                Some(i)
            } else {
                values.slots.iter().position(|s| s.vid == var.vid)
            };
            let (place, changed) = self.place_of_value(var)?;
            let index = match found {
                Some(index) => index,
                None => {
                    values.slots.push(Slot {
                        vid: var.vid,
                        place: -1,
                    });
                    values.slots.len() - 1
                }
            };
            let Some(slot) = values.slots.get_mut(index) else {
                continue;
            };
            // In sync, the db-backend still holds this frame's bindings of its last step.
            let bound = if in_sync && slot.place >= 0 {
                slot.place == place
            } else {
                self.writer.bindings.place_of(slot.vid) == Some(place)
            };
            slot.place = place;
            if !bound {
                self.writer.emit(TraceEvent::VariableCell {
                    variable_id: var.vid,
                    place,
                })?;
            }
            if changed {
                self.writer.emit(TraceEvent::CellValue {
                    place,
                    value: &self.scratch,
                })?;
            }
        }
        self.writer.bindings.claim(values.serial);
        Ok(())
    }

    /// The place of a step variable's value, and whether that value must be written (it is
    /// new, or differs from what the place last held); if so it is encoded in `scratch`.
    unsafe fn place_of_value(&mut self, var: &StepVar) -> RecorderResult<(i64, bool)> {
        let view = match var.action {
            ValueAction::Allow => self.encoder.rules_key(),
            _ => usize::MAX,
        };
        let key = (var.value as usize, view);
        let known = self
            .values
            .places
            .get(&key)
            .map(|e| (e.place, e.digest, e.pinned.is_some(), e.serial));
        if let Some((place, _, true, _)) = known {
            return Ok((place, false));
        }
        self.scratch.clear();
        let mut buf = std::mem::take(&mut self.scratch);
        let encoded = self.encode_filtered(var.value, var.action, &mut buf);
        self.scratch = buf;
        encoded?;
        let serial = match var.action {
            ValueAction::Allow => self.encoder.whole_reuse().unwrap_or(0),
            _ => 0,
        };
        if let Some((place, _, _, last)) = known {
            if serial != 0 && serial == last {
                return Ok((place, false));
            }
        }
        let digest = xxh3_128(&self.scratch);
        let pinned = self
            .encoder
            .is_pinnable(var.value)
            .then(|| retain(var.value));
        let state = &mut self.values;
        match known {
            Some((place, old, _, _)) => {
                if let Some(entry) = state.places.get_mut(&key) {
                    entry.digest = digest;
                    entry.serial = serial;
                    entry.pinned = pinned;
                }
                Ok((place, old != digest))
            }
            None => {
                if state.places.len() >= MAX_PLACES {
                    state.places.clear();
                }
                let place = state.next_place;
                state.next_place += 1;
                state.places.insert(
                    key,
                    PlaceEntry {
                        place,
                        digest,
                        serial,
                        pinned,
                    },
                );
                Ok((place, true))
            }
        }
    }
}
