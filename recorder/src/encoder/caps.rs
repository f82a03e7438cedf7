//! Size caps that bound every encoded value.
//!
//! Defaults are chosen so one value stays under a few kilobytes; each cap can be set through
//! the Python API (`start(..., caps={...})`), the CLI (`--max-string` ...) or the environment
//! (`CODETRACER_MAX_STRING` ...). See `recorder/README.md`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Characters of a `str` kept before the truncation marker.
    pub max_string: usize,
    /// Bytes of a `bytes` value kept before the truncation marker.
    pub max_bytes: usize,
    /// Elements of a list/tuple/dict/set (and fields of an object) kept.
    pub max_items: usize,
    /// Nesting depth below which containers and objects are expanded.
    pub max_depth: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_string: 200,
            max_bytes: 64,
            max_items: 16,
            max_depth: 3,
        }
    }
}

impl Caps {
    /// Applies one `name=value` setting; unknown names and non-numbers are rejected.
    pub fn set(&mut self, name: &str, value: usize) -> Result<(), String> {
        match name {
            "max_string" => self.max_string = value,
            "max_bytes" => self.max_bytes = value,
            "max_items" => self.max_items = value,
            "max_depth" => self.max_depth = value,
            other => {
                return Err(format!(
                    "unknown cap '{other}' (expected max_string, max_bytes, max_items, max_depth)"
                ))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_known_and_reject_unknown() {
        let mut caps = Caps::default();
        assert!(caps.set("max_items", 3).is_ok());
        assert_eq!(caps.max_items, 3);
        assert!(caps.set("max_everything", 3).is_err());
    }
}
