//! Limits on a slot's processes. A cgroup would bound the whole slot (memory, CPU share,
//! process count) and tell an out-of-memory kill apart; naap does not create cgroups yet,
//! so each process gets rlimits, set in the child before it runs its command and
//! inherited by everything it starts. What each limit is enforced by (or why it is not)
//! is said by [`Limits::applied`], which `naap status` shows.

use serde::{Deserialize, Serialize};

/// What one replica may use; `None` leaves a resource unlimited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Bytes of address space (`RLIMIT_AS`).
    pub memory_bytes: Option<u64>,
    /// CPUs (needs a cgroup's `cpu.max`; not enforced by an rlimit).
    pub cpu: Option<f64>,
    /// Processes (needs a cgroup's `pids.max`: `RLIMIT_NPROC` counts every process of the
    /// user, the engine's included, so it is not used).
    pub pids: Option<u64>,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

/// How each configured limit is enforced on this host, for status and DEPLOYED.md.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitsApplied {
    /// "rlimit" for every process, or "none" when no limit is set.
    pub mechanism: String,
    /// One line per configured limit: "memory 256Mi: RLIMIT_AS (address space) per process".
    pub lines: Vec<String>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory_bytes.is_some()
            || self.cpu.is_some()
            || self.pids.is_some()
            || self.open_files.is_some()
    }

    /// What applies, limit by limit.
    pub fn applied(&self) -> LimitsApplied {
        let mut lines = Vec::new();
        if let Some(bytes) = self.memory_bytes {
            lines.push(format!(
                "memory {}: RLIMIT_AS per process (address space, which is more than resident memory)",
                crate::core::workspace::show_bytes(bytes)
            ));
        }
        if let Some(cpu) = self.cpu {
            lines.push(format!(
                "cpu {cpu}: not enforced (needs a cgroup delegated to naap; an rlimit can only cap total CPU seconds)"
            ));
        }
        if let Some(pids) = self.pids {
            lines.push(format!(
                "pids {pids}: not enforced (needs a cgroup; RLIMIT_NPROC counts every process of the user)"
            ));
        }
        if let Some(files) = self.open_files {
            lines.push(format!("open_files {files}: RLIMIT_NOFILE per process"));
        }
        LimitsApplied {
            mechanism: if lines.is_empty() { "none" } else { "rlimit" }.to_string(),
            lines,
        }
    }

    /// The rlimits to set in the child, as plain numbers so that the pre-exec hook only
    /// makes system calls.
    pub(super) fn rlimits(&self) -> Vec<(libc::__rlimit_resource_t, libc::rlim_t)> {
        let mut out = Vec::new();
        if let Some(bytes) = self.memory_bytes {
            out.push((libc::RLIMIT_AS, bytes as libc::rlim_t));
        }
        if let Some(files) = self.open_files {
            out.push((libc::RLIMIT_NOFILE, files as libc::rlim_t));
        }
        out
    }
}

/// Sets the rlimits in the forked child. Only `setrlimit`, which is async-signal-safe.
pub(super) fn set_in_child(
    rlimits: &[(libc::__rlimit_resource_t, libc::rlim_t)],
) -> std::io::Result<()> {
    for (resource, value) in rlimits {
        let limit = libc::rlimit {
            rlim_cur: *value,
            rlim_max: *value,
        };
        // SAFETY: a plain system call on a stack value.
        if unsafe { libc::setrlimit(*resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether an exit looks like the process ran out of memory under its limit: with an
/// address-space limit, the allocation fails and the runtime aborts or raises (there is no
/// kernel OOM kill to read, as there would be with a cgroup), so the signs are the abort
/// signal or the runtimes' own words on stderr.
pub fn looks_out_of_memory(signal: Option<i32>, stderr_tail: &str) -> bool {
    const WORDS: [&str; 6] = [
        "MemoryError",
        "memory allocation of",
        "out of memory",
        "Cannot allocate memory",
        "std::bad_alloc",
        "JavaScript heap out of memory",
    ];
    signal == Some(libc::SIGKILL)
        || signal == Some(libc::SIGABRT) && stderr_tail.contains("memory")
        || WORDS.iter().any(|w| stderr_tail.contains(w))
}
