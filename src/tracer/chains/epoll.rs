//! The fds in an epoll set, from the `tfd:` lines of its `/proc/PID/fdinfo` file (bounded):
//! a thread in `epoll_wait` waits for the peers of all of them.

/// Most fds of one set followed.
pub(super) const MAX_FDS: usize = 64;

/// The fds registered in the epoll set whose fdinfo is `info`, the first [`MAX_FDS`], and how
/// many it lists in all.
pub(super) fn targets(info: &[u8]) -> (Vec<i32>, usize) {
    let mut fds = Vec::new();
    let mut total = 0;
    for line in info.split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(b"tfd:") else {
            continue;
        };
        let Some(fd) = std::str::from_utf8(rest)
            .ok()
            .and_then(|r| r.split_ascii_whitespace().next())
            .and_then(|f| f.parse::<i32>().ok())
            .filter(|&f| f >= 0)
        else {
            continue;
        };
        total += 1;
        if fds.len() < MAX_FDS && !fds.contains(&fd) {
            fds.push(fd);
        }
    }
    (fds, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_set() {
        let info = b"pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n\
tfd:        5 events:       19 data:                5  pos:0 ino:2bd sdev:d\n\
tfd:        7 events:       19 data:                7  pos:0 ino:2be sdev:d\n";
        assert_eq!(targets(info), (vec![5, 7], 2));
        assert_eq!(targets(b""), (vec![], 0));
        assert_eq!(targets(b"tfd: -3 events\ntfd:\ntfd: x\n\xff"), (vec![], 0));
        let many: Vec<u8> = (0..100)
            .flat_map(|i| format!("tfd: {i} events: 1\n").into_bytes())
            .collect();
        let (fds, total) = targets(&many);
        assert_eq!((fds.len(), total), (MAX_FDS, 100));
    }
}
