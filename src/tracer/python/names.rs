//! `threading` names: `sys.modules["threading"]._active` maps each thread's ident (its
//! `pthread_t`) to its `Thread`, whose `_name` is the name. Optional decoration, so every
//! dict scan is bounded and any surprise gives no name rather than an error.

use std::collections::HashMap;

use super::objects::Reader;

/// Most entries of a dict scanned (sys.modules has a few hundred).
const MAX_ENTRIES: u64 = 65_536;
/// Most threads named per interpreter.
const MAX_NAMED: usize = 4096;

/// The names `threading` knows in interpreter `interp`, by `pthread_t`.
pub(super) fn of(r: &Reader, interp: u64) -> HashMap<u64, String> {
    names(r, interp).unwrap_or_default()
}

fn names(r: &Reader, interp: u64) -> Option<HashMap<u64, String>> {
    let modules = r.word(interp + r.layout.is_modules)?;
    let threading = dict_get(r, modules, "threading")?;
    // PyModuleObject.md_dict.
    let md_dict = r.word(threading + 16)?;
    let active = dict_get(r, md_dict, "_active")?;
    let mut out = HashMap::new();
    for (key, thread) in dict_items(r, active)?.into_iter().take(MAX_NAMED) {
        let (Some(ident), Some(name)) = (long(r, key), attribute(r, thread, "_name")) else {
            continue;
        };
        if let Some(name) = r.string(name) {
            out.insert(ident, name);
        }
    }
    Some(out)
}

/// The value of str key `name` in dict `dict`.
fn dict_get(r: &Reader, dict: u64, name: &str) -> Option<u64> {
    dict_items(r, dict)?
        .into_iter()
        .find(|&(k, _)| r.string(k).as_deref() == Some(name))
        .map(|(_, v)| v)
}

/// (key, value) of every entry of a dict object.
fn dict_items(r: &Reader, dict: u64) -> Option<Vec<(u64, u64)>> {
    if dict == 0 {
        return None;
    }
    let keys = r.word(dict + 32)?;
    let mut values = r.word(dict + 40)?;
    if values != 0 && r.layout.minor >= 13 {
        // PyDictValues: a 4-byte header padded to 8, then the values.
        values += 8;
    }
    keys_items(r, keys, values)
}

/// The entries of a dict keys object; `values` the split values array (0: combined).
fn keys_items(r: &Reader, keys: u64, values: u64) -> Option<Vec<(u64, u64)>> {
    let (entries, count, size, key_at, value_at) = if r.layout.minor <= 10 {
        let slots = r.word(keys + 8)?;
        let count = r.word(keys + 32)?;
        let width = match slots {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xffff_ffff => 4,
            _ => 8,
        };
        (
            keys.checked_add(40 + slots.checked_mul(width)?)?,
            count,
            24,
            8,
            16,
        )
    } else {
        let head = r.bytes(keys + 8, 3)?;
        let index_bytes = 1u64.checked_shl(u32::from(head[1]))?;
        let count = r.word(keys + 24)?;
        let start = keys.checked_add(32 + index_bytes)?;
        if head[2] == 0 {
            (start, count, 24, 8, 16)
        } else {
            (start, count, 16, 0, 8)
        }
    };
    if count > MAX_ENTRIES {
        return None;
    }
    let table = r.bytes(entries, (count * size) as usize)?;
    let split = if values != 0 {
        Some(r.bytes(values, (count * 8) as usize)?)
    } else {
        None
    };
    let word = |b: &[u8], at: u64| {
        let at = at as usize;
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
    };
    Some(
        (0..count)
            .map(|i| {
                let key = word(&table, i * size + key_at);
                let value = match &split {
                    Some(v) => word(v, i * 8),
                    None => word(&table, i * size + value_at),
                };
                (key, value)
            })
            .filter(|&(k, v)| k != 0 && v != 0)
            .collect(),
    )
}

/// A non-negative `int` of up to four 30-bit digits (a thread ident).
fn long(r: &Reader, address: u64) -> Option<u64> {
    let tag = r.word(address + 16)?;
    let digits = if r.layout.minor >= 12 {
        (tag & 3 == 0).then_some(tag >> 3)?
    } else {
        tag
    };
    if digits > 3 {
        return None;
    }
    let raw = r.bytes(address + 24, (digits * 4) as usize)?;
    Some(raw.chunks_exact(4).enumerate().fold(0u64, |v, (i, d)| {
        v | u64::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]])) << (30 * i)
    }))
}

/// Instance attribute `name` of a Python-class object, by each version's dict rules.
fn attribute(r: &Reader, object: u64, name: &str) -> Option<u64> {
    let ty = r.word(object + 8)?;
    let lookup = |keys: u64, values: u64| {
        keys_items(r, keys, values)?
            .into_iter()
            .find(|&(k, _)| r.string(k).as_deref() == Some(name))
            .map(|(_, v)| v)
    };
    let cached_keys = |ty: u64| r.word(ty + if r.layout.minor >= 12 { 880 } else { 872 });
    match r.layout.minor {
        ..=10 => {
            let offset = r.word(ty + 288)? as i64;
            (offset > 0).then_some(())?;
            dict_get(r, r.word(object.checked_add(offset as u64)?)?, name)
        }
        11 => match r.word(object - 24)? {
            0 => lookup(cached_keys(ty)?, r.word(object - 32)?),
            dict => dict_get(r, dict, name),
        },
        12 => match r.word(object - 24)? {
            0 => None,
            tagged if tagged & 1 == 1 => lookup(cached_keys(ty)?, tagged + 1),
            dict => dict_get(r, dict, name),
        },
        _ => match r.word(object - 24)? {
            0 => {
                let flags = r.word(ty + 168)?;
                (flags & (1 << 2) != 0).then_some(())?;
                let inline = object + 16;
                (r.bytes(inline + 3, 1)?[0] != 0).then_some(())?;
                lookup(cached_keys(ty)?, inline + 8)
            }
            dict => dict_get(r, dict, name),
        },
    }
}
