//! A small, fast hasher for the recorder's pointer-keyed maps.
//!
//! The hot maps are keyed by object addresses (code objects, name strings) that the recorder
//! pins, so HashDoS resistance buys nothing while SipHash showed up in profiles. This is the
//! Fx multiply-rotate hash used by rustc.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Object addresses are 16-byte aligned, so the product's low bits are always zero;
        // hashbrown picks buckets from the low bits. Rotating moves the mixed high bits down.
        self.hash.rotate_left(26)
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A cache in front of a [`FastMap`] on a hot path: one entry per slot, chosen by an object
/// address (16-byte aligned, so the low bits carry nothing); the newest entry wins its slot.
/// Only for keys whose objects are pinned, so an address always means the same object.
pub struct RecentByAddress<K, V, const N: usize> {
    slots: [Option<(K, V)>; N],
}

impl<K: Copy + Eq, V: Copy, const N: usize> Default for RecentByAddress<K, V, N> {
    fn default() -> Self {
        RecentByAddress { slots: [None; N] }
    }
}

impl<K: Copy + Eq, V: Copy, const N: usize> RecentByAddress<K, V, N> {
    fn slot(&self, addr: usize) -> usize {
        (addr >> 4) % N
    }

    #[inline]
    pub fn get(&self, addr: usize, key: K) -> Option<V> {
        match self.slots.get(self.slot(addr)) {
            Some(Some((k, v))) if *k == key => Some(*v),
            _ => None,
        }
    }

    pub fn put(&mut self, addr: usize, key: K, value: V) {
        let slot = self.slot(addr);
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = Some((key, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_by_address_keeps_the_newest_per_slot() {
        let mut r: RecentByAddress<usize, u32, 4> = RecentByAddress::default();
        r.put(16, 16, 1);
        assert_eq!(r.get(16, 16), Some(1));
        r.put(16 * 5, 16 * 5, 2); // same slot as 16
        assert_eq!(r.get(16, 16), None);
        assert_eq!(r.get(16 * 5, 16 * 5), Some(2));
        assert_eq!(r.get(32, 32), None);
    }

    #[test]
    fn distinct_keys_stay_distinct() {
        let mut m: FastMap<(usize, usize), u32> = FastMap::default();
        for i in 0..1000usize {
            m.insert((i * 16, i), i as u32);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get(&(160, 10)), Some(&10));
    }

    #[test]
    fn aligned_addresses_spread_over_low_bits() {
        let low = |k: usize| {
            let mut h = FxHasher::default();
            h.write_usize(k);
            h.finish() & 0xf
        };
        let buckets: std::collections::HashSet<u64> = (1..64usize).map(|i| low(i * 16)).collect();
        assert!(buckets.len() > 8, "{buckets:?}");
    }
}
