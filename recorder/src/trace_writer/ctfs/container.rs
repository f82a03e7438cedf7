//! The CTFS block container: one file holding up to 31 named internal files.
//!
//! Layout, as every CodeTracer reader applies it (see `shared/ctfs.md` §0 for sources):
//! - block 0: 16-byte header (magic `C0 DE 72 AC E2`, version 4, encryption 0, max_shards 1,
//!   block size u32, MaxRootEntries u32), then 31 root entries of 24 bytes from byte 16
//!   (size u64, mapping block u64, base40 name u64);
//! - every internal file is reached through a level-1 mapping block of u64 block pointers
//!   whose last slot chains to the level-2 block, which holds pointers to blocks of pointers,
//!   and so on (level n covers 511^n data blocks).
//!
//! Internal files grow block by block as they are appended to, interleaved in the container:
//! memory holds one partial block and the block list per internal file, never their data.
//! Block 0 and the mapping blocks are written by [`Container::finish`]; until then block 0 is
//! zeros, so a container cut short by a kill is never mistaken for a trace.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::errors::{ErrorCode, RecorderError, RecorderResult};

pub const BLOCK_SIZE: usize = 4096;
/// What the Nim reader behind CodeTracer's split-stream route assumes, whatever the header says.
pub const ROOT_ENTRIES: usize = 31;
const MAGIC: [u8; 5] = [0xC0, 0xDE, 0x72, 0xAC, 0xE2];
const VERSION: u8 = 4;
/// Pointers per mapping block; the last slot chains to the next level.
const USABLE: usize = BLOCK_SIZE / 8 - 1;
const BASE40: &str = "0123456789abcdefghijklmnopqrstuvwxyz./-";

/// The base40 number of an internal file name (at most 12 characters of `BASE40`).
pub fn base40(name: &str) -> Option<u64> {
    if name.is_empty() || name.len() > 12 {
        return None;
    }
    let mut value: u64 = 0;
    let mut scale: u64 = 1;
    for ch in name.chars() {
        let digit = BASE40.find(ch)? as u64 + 1;
        value = value.checked_add(digit.checked_mul(scale)?)?;
        scale = scale.saturating_mul(40);
    }
    Some(value)
}

/// Index of an internal file in its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId(usize);

#[cfg(test)]
impl FileId {
    pub fn for_test(index: usize) -> Self {
        FileId(index)
    }
}

struct InternalFile {
    name: u64,
    size: u64,
    blocks: Vec<u64>,
    tail: Vec<u8>,
}

pub struct Container {
    out: BufWriter<File>,
    path: PathBuf,
    files: Vec<InternalFile>,
    /// Blocks written so far, block 0 included.
    blocks: u64,
}

impl Container {
    pub fn create(path: &Path) -> RecorderResult<Self> {
        let file = File::create(path).map_err(|e| RecorderError::io("cannot create", path, &e))?;
        let mut container = Container {
            out: BufWriter::with_capacity(256 * 1024, file),
            path: path.to_path_buf(),
            files: Vec::new(),
            blocks: 0,
        };
        container.write_block(&[0u8; BLOCK_SIZE])?;
        Ok(container)
    }

    fn io_error(&self, what: &str, e: &std::io::Error) -> RecorderError {
        RecorderError::io(what, &self.path, e)
    }

    fn write_block(&mut self, data: &[u8]) -> RecorderResult<u64> {
        let number = self.blocks;
        self.out
            .write_all(data)
            .map_err(|e| RecorderError::io("cannot write", &self.path, &e))?;
        if data.len() < BLOCK_SIZE {
            let pad = [0u8; BLOCK_SIZE];
            self.out
                .write_all(&pad[data.len()..])
                .map_err(|e| RecorderError::io("cannot write", &self.path, &e))?;
        }
        self.blocks += 1;
        Ok(number)
    }

    /// Adds an empty internal file called `name`.
    pub fn add_file(&mut self, name: &str) -> RecorderResult<FileId> {
        let encoded = base40(name).ok_or_else(|| {
            RecorderError::new(
                ErrorCode::Internal,
                format!("internal file name {name:?} is not base40 of at most 12 characters"),
            )
        })?;
        if self.files.len() >= ROOT_ENTRIES || self.files.iter().any(|f| f.name == encoded) {
            return Err(RecorderError::new(
                ErrorCode::Internal,
                format!("cannot add internal file {name:?}: duplicate or over {ROOT_ENTRIES}"),
            ));
        }
        self.files.push(InternalFile {
            name: encoded,
            size: 0,
            blocks: Vec::new(),
            tail: Vec::with_capacity(BLOCK_SIZE),
        });
        Ok(FileId(self.files.len() - 1))
    }

    /// Appends `data` to an internal file; full blocks go to disk at once.
    pub fn append(&mut self, id: FileId, mut data: &[u8]) -> RecorderResult<()> {
        while !data.is_empty() {
            let Some(file) = self.files.get_mut(id.0) else {
                return Ok(());
            };
            let take = (BLOCK_SIZE - file.tail.len()).min(data.len());
            file.tail.extend_from_slice(&data[..take]);
            file.size += take as u64;
            data = &data[take..];
            if file.tail.len() == BLOCK_SIZE {
                let tail = std::mem::replace(&mut file.tail, Vec::with_capacity(BLOCK_SIZE));
                let number = self.write_block(&tail)?;
                if let Some(file) = self.files.get_mut(id.0) {
                    file.blocks.push(number);
                }
            }
        }
        Ok(())
    }

    /// Bytes appended to an internal file so far.
    pub fn size(&self, id: FileId) -> u64 {
        self.files.get(id.0).map_or(0, |f| f.size)
    }

    /// Bytes of the container so far.
    pub fn bytes_written(&self) -> u64 {
        self.blocks * BLOCK_SIZE as u64
    }

    /// Writes the last partial blocks, every mapping block, then block 0. Returns the
    /// container's size in bytes.
    pub fn finish(&mut self) -> RecorderResult<u64> {
        let mut entries = Vec::with_capacity(self.files.len());
        for i in 0..self.files.len() {
            let tail = std::mem::take(&mut self.files[i].tail);
            if !tail.is_empty() {
                let number = self.write_block(&tail)?;
                self.files[i].blocks.push(number);
            }
            let blocks = std::mem::take(&mut self.files[i].blocks);
            let root = self.write_mapping(&blocks)?;
            entries.push((self.files[i].size, root, self.files[i].name));
        }
        let mut head = [0u8; BLOCK_SIZE];
        head[..5].copy_from_slice(&MAGIC);
        head[5] = VERSION;
        head[6] = 0; // no encryption
        head[7] = 1; // one shard
        head[8..12].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        head[12..16].copy_from_slice(&(ROOT_ENTRIES as u32).to_le_bytes());
        for (i, (size, root, name)) in entries.into_iter().enumerate() {
            let at = 16 + 24 * i;
            head[at..at + 8].copy_from_slice(&size.to_le_bytes());
            head[at + 8..at + 16].copy_from_slice(&root.to_le_bytes());
            head[at + 16..at + 24].copy_from_slice(&name.to_le_bytes());
        }
        let total = self.blocks * BLOCK_SIZE as u64;
        self.out
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.out.write_all(&head))
            .and_then(|_| self.out.flush())
            .map_err(|e| self.io_error("cannot write", &e))?;
        Ok(total)
    }

    /// Closes the file without writing what is buffered.
    pub fn abandon(self) {
        let _ = self.out.into_parts();
    }

    /// Writes the mapping blocks of a file whose data blocks are `blocks`; returns the
    /// level-1 block.
    fn write_mapping(&mut self, blocks: &[u64]) -> RecorderResult<u64> {
        // Split the pointers by level: level n takes the next USABLE^n of them.
        let mut levels: Vec<&[u64]> = Vec::new();
        let mut rest = blocks;
        let mut capacity = USABLE;
        loop {
            let take = capacity.min(rest.len());
            levels.push(&rest[..take]);
            rest = &rest[take..];
            if rest.is_empty() {
                break;
            }
            capacity = capacity.saturating_mul(USABLE);
        }
        // Deepest level first, so each level block knows the block it chains to.
        let mut next: u64 = 0;
        for (depth, pointers) in levels.iter().enumerate().rev() {
            let mut slots = self.write_tree(pointers, depth)?;
            slots.resize(USABLE + 1, 0);
            slots[USABLE] = next;
            next = self.write_pointer_block(&slots)?;
        }
        Ok(next)
    }

    /// The slots of a level block of `depth` levels of indirection over `pointers`: blocks
    /// of pointers are written for depth > 0, each covering USABLE^depth data blocks.
    fn write_tree(&mut self, pointers: &[u64], depth: usize) -> RecorderResult<Vec<u64>> {
        if depth == 0 {
            return Ok(pointers.to_vec());
        }
        let span = USABLE.pow(depth as u32);
        let mut slots = Vec::new();
        for group in pointers.chunks(span) {
            let mut children = self.write_tree(group, depth - 1)?;
            children.resize(USABLE + 1, 0);
            slots.push(self.write_pointer_block(&children)?);
        }
        Ok(slots)
    }

    fn write_pointer_block(&mut self, slots: &[u64]) -> RecorderResult<u64> {
        let mut block = [0u8; BLOCK_SIZE];
        for (i, slot) in slots.iter().enumerate().take(USABLE + 1) {
            block[i * 8..i * 8 + 8].copy_from_slice(&slot.to_le_bytes());
        }
        self.write_block(&block)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
/// Reads an internal file back the way the readers resolve block indices.
pub fn read_back(image: &[u8], name: &str) -> Vec<u8> {
    let u64_at = |off: usize| u64::from_le_bytes(image[off..off + 8].try_into().unwrap());
    let want = base40(name).unwrap();
    let (size, root) = (0..ROOT_ENTRIES)
        .map(|i| 16 + 24 * i)
        .find(|&at| u64_at(at + 16) == want)
        .map(|at| (u64_at(at) as usize, u64_at(at + 8) as usize))
        .unwrap();
    let ptr = |block: usize, slot: usize| u64_at(block * BLOCK_SIZE + slot * 8) as usize;
    let mut out = Vec::new();
    for logical in 0..size.div_ceil(BLOCK_SIZE) {
        let (mut remaining, mut level, mut cap) = (logical, 1, USABLE);
        while remaining >= cap {
            remaining -= cap;
            level += 1;
            cap *= USABLE;
        }
        let mut block = root;
        for _ in 1..level {
            block = ptr(block, USABLE);
        }
        for depth in (1..level).rev() {
            let span = USABLE.pow(depth as u32);
            block = ptr(block, remaining / span);
            remaining %= span;
        }
        let data = ptr(block, remaining);
        let take = BLOCK_SIZE.min(size - out.len());
        out.extend_from_slice(&image[data * BLOCK_SIZE..data * BLOCK_SIZE + take]);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base40_names_follow_the_alphabet() {
        assert_eq!(base40("a"), Some(11));
        assert_eq!(base40("ab"), Some(11 + 12 * 40));
        assert!(base40("source_views").is_none()); // '_' is not base40
        assert!(base40("thirteen.char").is_none());
        assert!(base40("srcviews.dat").is_some());
    }

    #[test]
    fn files_round_trip_across_mapping_levels() {
        let dir = std::env::temp_dir().join(format!("ctfs-container-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.ct");
        let mut c = Container::create(&path).unwrap();
        let small = c.add_file("meta.dat").unwrap();
        let big = c.add_file("values.dat").unwrap();
        let empty = c.add_file("events.dat").unwrap();
        // 600 blocks: past the 511 pointers of the level-1 block, into level 2
        let data: Vec<u8> = (0..600 * BLOCK_SIZE + 123)
            .map(|i| (i % 251) as u8)
            .collect();
        for piece in data.chunks(10_000) {
            c.append(big, piece).unwrap();
            c.append(small, b"x").unwrap();
        }
        assert_eq!(c.size(big), data.len() as u64);
        c.finish().unwrap();
        let image = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(&image[..5], &MAGIC);
        assert_eq!(read_back(&image, "values.dat"), data);
        assert_eq!(
            read_back(&image, "meta.dat").len(),
            data.chunks(10_000).count()
        );
        assert!(read_back(&image, "events.dat").is_empty());
        let _ = empty;
    }
}
