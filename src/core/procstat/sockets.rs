//! Which TCP ports a set of processes listens on, from `/proc/PID/fd` (the socket inodes a
//! process holds) and `/proc/PID/net/tcp{,6}` (the sockets of its network namespace).

use std::collections::{BTreeSet, HashSet};

/// `st` of a socket in LISTEN state in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// The TCP ports on which any of `pids` holds a listening socket, lowest first. Processes
/// that exited or belong to another user (unreadable fds) contribute nothing.
pub fn listening_ports(pids: &[u32]) -> Vec<u16> {
    let mut ports = BTreeSet::new();
    for &pid in pids {
        let inodes = socket_inodes(pid);
        if inodes.is_empty() {
            continue;
        }
        for table in ["tcp", "tcp6"] {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
                continue;
            };
            ports.extend(listeners(&text, &inodes));
        }
    }
    ports.into_iter().collect()
}

/// The inodes of the sockets a process has open (`socket:[INODE]` links in its fd dir).
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The local ports of the LISTEN sockets in a `/proc/net/tcp` table whose inode is one of
/// `inodes`. Columns: `sl local_address rem_address st ... uid timeout inode`.
fn listeners<'a>(table: &'a str, inodes: &'a HashSet<u64>) -> impl Iterator<Item = u16> + 'a {
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        if *state != TCP_LISTEN || !inodes.contains(&inode.parse().ok()?) {
            return None;
        }
        let (_, port) = local.rsplit_once(':')?;
        u16::from_str_radix(port, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listening_sockets_of_known_inodes() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
             0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n   \
             1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 999 1 0 100 0 0 10 0\n   \
             2: 0100007F:A2B4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0 100 0 0 10 0\n";
        let inodes: HashSet<u64> = [4242, 4243].into();
        assert_eq!(listeners(table, &inodes).collect::<Vec<_>>(), vec![8080]);
    }

    #[test]
    fn finds_our_own_listener() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(listening_ports(&[std::process::id()]).contains(&port));
        drop(listener);
        assert!(!listening_ports(&[std::process::id()]).contains(&port));
    }
}
