//! A small stable hash for seeds (variants, jitter, ids): the same input gives the same value
//! on every machine and release.

/// A stable hash whose every bit depends on every input bit, for picking one of `n` by
/// `spread(x) % n`: FNV-1a followed by MurmurHash3's 64-bit finalizer. FNV-1a alone is not fit
/// for that: its lowest bit is the parity of the input bytes' lowest bits, so `% 2` sent every
/// `lead7@company7.example` (each digit twice) to the same mailbox.
pub fn spread(bytes: &[u8]) -> u64 {
    let mut h = fnv1a(bytes);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A stable 64-bit FNV-1a hash (seeds must not change between releases or platforms).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod spread_tests {
    use super::spread;

    #[test]
    fn spread_splits_addresses_that_repeat_their_digits_evenly_in_two() {
        let odd = (0..1000)
            .filter(|i| spread(format!("lead{i}@company{i}.example").as_bytes()) % 2 == 1)
            .count();
        assert!((400..=600).contains(&odd), "{odd} of 1000 odd");
    }
}
