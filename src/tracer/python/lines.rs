//! A code object's line number at an instruction, from the three line-table formats CPython
//! 3.7-3.13 use: `co_lnotab` (to 3.9), the 3.10 `co_linetable`, and the 3.11+ location table.
//! Pure functions over bytes read from the target: any input gives an answer or `None`.

/// 3.7-3.9 `co_lnotab`: (address delta, signed line delta) pairs; `lasti` in bytes.
pub(super) fn lnotab(tab: &[u8], first: i32, lasti: u64) -> Option<u32> {
    let (mut line, mut addr) = (i64::from(first), 0u64);
    for pair in tab.chunks_exact(2) {
        addr += u64::from(pair[0]);
        if addr > lasti {
            break;
        }
        line += i64::from(pair[1] as i8);
    }
    u32::try_from(line).ok()
}

/// 3.10 `co_linetable`: (span, signed line delta) pairs, -128 = no line; `addr` in bytes.
pub(super) fn linetable_310(tab: &[u8], first: i32, addr: u64) -> Option<u32> {
    let (mut line, mut end) = (i64::from(first), 0u64);
    for pair in tab.chunks_exact(2) {
        let start = end;
        end += u64::from(pair[0]);
        let delta = pair[1] as i8;
        let current = if delta == -128 {
            None
        } else {
            line += i64::from(delta);
            Some(line)
        };
        if (start..end).contains(&addr) {
            return current.and_then(|l| u32::try_from(l).ok());
        }
    }
    None
}

/// 3.11+ location table (PEP 657); `unit` in 2-byte code units.
pub(super) fn locations(tab: &[u8], first: i32, unit: u64) -> Option<u32> {
    let (mut line, mut addr, mut i) = (i64::from(first), 0u64, 0usize);
    while i < tab.len() {
        let b = tab[i];
        let code = (b >> 3) & 15;
        let len = u64::from(b & 7) + 1;
        let delta = match code {
            10..=12 => i64::from(code) - 10,
            13 | 14 => svarint(tab, i + 1),
            _ => 0,
        };
        line = line.saturating_add(delta);
        if (addr..addr + len).contains(&unit) {
            return if code == 15 {
                None
            } else {
                u32::try_from(line).ok()
            };
        }
        addr += len;
        i += 1;
        while i < tab.len() && tab[i] & 0x80 == 0 {
            i += 1;
        }
    }
    None
}

/// A signed varint of the location table at `i` (6 bits a byte, bit 6 = more follow).
fn svarint(tab: &[u8], mut i: usize) -> i64 {
    let (mut value, mut shift) = (0u64, 0u32);
    while let Some(&b) = tab.get(i) {
        if shift < 60 {
            value |= u64::from(b & 63) << shift;
        }
        shift += 6;
        i += 1;
        if b & 64 == 0 {
            break;
        }
    }
    let magnitude = (value >> 1) as i64;
    if value & 1 == 1 {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lnotab_adds_signed_deltas_up_to_the_instruction() {
        // +0 bytes line+1, +6 bytes line+2, +4 bytes line-1.
        let tab = [0, 1, 6, 2, 4, 0xff];
        assert_eq!(lnotab(&tab, 10, 0), Some(11));
        assert_eq!(lnotab(&tab, 10, 7), Some(13));
        assert_eq!(lnotab(&tab, 10, 10), Some(12));
    }

    #[test]
    fn linetable_310_has_ranges_without_lines() {
        let tab = [4, 1, 2, 0x80, 6, 2];
        assert_eq!(linetable_310(&tab, 5, 2), Some(6));
        assert_eq!(linetable_310(&tab, 5, 4), None);
        assert_eq!(linetable_310(&tab, 5, 6), Some(8));
        assert_eq!(linetable_310(&tab, 5, 12), None);
    }

    #[test]
    fn locations_read_every_entry_form() {
        // code 13 (no columns) +2 lines, 2 units; code 15 (none), 1 unit; code 11 (+1), 3 units;
        // code 14 (long) -1 line, 1 unit.
        let tab = [
            0x80 | (13 << 3) | 1,
            4,
            0x80 | (15 << 3),
            0x80 | (11 << 3) | 2,
            0,
            0,
            0x80 | (14 << 3),
            3,
            0,
            0,
            0,
        ];
        assert_eq!(locations(&tab, 1, 0), Some(3));
        assert_eq!(locations(&tab, 1, 1), Some(3));
        assert_eq!(locations(&tab, 1, 2), None);
        assert_eq!(locations(&tab, 1, 5), Some(4));
        assert_eq!(locations(&tab, 1, 6), Some(3));
        assert_eq!(locations(&tab, 1, 7), None);
        assert_eq!(locations(&[0x80], 1, 0), Some(1));
    }
}
