//! Column-aware step positions: a step's position is a byte offset into the concatenation of
//! every recorded source file, in path-id order.
//!
//! This is the step encoding the upstream Python recorder uses and the one CodeTracer's
//! readers decode on every route: each path's record in `paths.dat` carries its line lengths
//! ("Layout A": `varint len, path, varint line_count, zigzag deltas of the lengths`), and a
//! position maps back to the last line starting at or before it. Line lengths include the
//! newline, so no line is empty (an empty line would read back as the next one). A path whose
//! source cannot be read (`<string>`) gets `SYNTHETIC_LINES` one-byte lines; a line past a
//! table's end is clamped to its last line, so it never reads back inside the next file.

use super::stream::{push_svarint, push_varint};

const SYNTHETIC_LINES: usize = 10_000;

struct File {
    base: u64,
    /// Start of each line, relative to `base`.
    starts: Vec<u32>,
}

#[derive(Default)]
pub struct LineTables {
    files: Vec<File>,
    next_base: u64,
}

/// Byte length of each line of `source`, newline included.
fn line_lengths(source: &[u8]) -> Vec<u64> {
    let mut lengths: Vec<u64> = source
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.len() as u64)
        .collect();
    if lengths.is_empty() {
        lengths.push(1);
    }
    lengths
}

impl LineTables {
    /// Registers the next path (ids are consecutive) and returns its `paths.dat` record.
    pub fn register(&mut self, path: &str) -> Vec<u8> {
        let lengths = if path.starts_with('<') {
            None
        } else {
            std::fs::read(path).ok().map(|s| line_lengths(&s))
        }
        .unwrap_or_else(|| vec![1; SYNTHETIC_LINES]);
        let mut record = Vec::with_capacity(path.len() + lengths.len() + 8);
        push_varint(&mut record, path.len() as u64);
        record.extend_from_slice(path.as_bytes());
        push_varint(&mut record, lengths.len() as u64);
        let mut starts = Vec::with_capacity(lengths.len());
        let (mut at, mut previous) = (0u64, 0i64);
        for (i, &len) in lengths.iter().enumerate() {
            starts.push(at.min(u32::MAX as u64) as u32);
            at += len;
            let len = len as i64;
            push_svarint(&mut record, if i == 0 { len } else { len - previous });
            previous = len;
        }
        self.files.push(File {
            base: self.next_base,
            starts,
        });
        self.next_base += at;
        record
    }

    /// The position of `line` (1-based) of path `path_id`.
    pub fn position(&self, path_id: usize, line: i64) -> u64 {
        let Some(file) = self.files.get(path_id) else {
            return 0;
        };
        let index = (line.max(1) as usize - 1).min(file.starts.len().saturating_sub(1));
        file.base + file.starts.get(index).copied().unwrap_or(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_line_starts_over_all_files() {
        let dir = std::env::temp_dir().join(format!("ctfs-lines-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let a = dir.join("a.py");
        let _ = std::fs::write(&a, "x = 1\n\ny = 22\n");
        let mut t = LineTables::default();
        t.register(&a.to_string_lossy());
        t.register("<string>");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(t.position(0, 1), 0);
        assert_eq!(t.position(0, 2), 6);
        assert_eq!(t.position(0, 3), 7);
        assert_eq!(t.position(0, 99), 7); // clamped to the last line, not the next file
        assert_eq!(t.position(1, 1), 14);
        assert_eq!(t.position(1, 5), 18);
    }
}
