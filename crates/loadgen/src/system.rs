//! What the benchmark reads from the machine: CPU seconds and memory of processes from `/proc`,
//! the machine's busy share, its description for the report, and the descriptor limit. The
//! crate's only `unsafe` code (libc calls) is here.

#![allow(unsafe_code)]

use std::{process::Command, time::Duration};

use serde::Serialize;
use tokio::time::Instant;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`): the unit of CPU times in /proc.
pub(crate) fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// User + system CPU seconds of a process (`self` or a pid).
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    cpu_ticks(&stat) / clock_ticks()
}

/// User + system clock ticks from a `/proc/<pid>/stat` line (0 when it doesn't parse).
fn cpu_ticks(stat: &str) -> f64 {
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks(11) + ticks(12)
}

/// A `Vm*` line of /proc/<pid>/status, in MB.
pub(crate) fn vm_mb(pid: &str, key: &str) -> Option<f64> {
    status_mb(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?, key)
}

/// The `key` line (e.g. `VmHWM:`) of a `/proc/<pid>/status` text, from kB to MB.
fn status_mb(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Sends SIGTERM to `pid` (a child of this process).
pub(crate) fn terminate(pid: u32) {
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

/// Jiffies of the whole machine from /proc/stat: (busy, idle + iowait, steal).
pub(crate) fn machine_jiffies() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    (busy, at(3) + at(4), at(7))
}

/// Waits (at most `patience`) until the machine is quiet: under 10% of its cores busy over a
/// second. Returns the busy share seen last.
pub(crate) async fn wait_quiet(patience: Duration) -> f64 {
    let started = Instant::now();
    let mut warned = false;
    loop {
        let before = machine_jiffies();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = machine_jiffies();
        let busy = (after.0 - before.0) as f64;
        let share = busy / (busy + (after.1 - before.1) as f64 + (after.2 - before.2) as f64).max(1.0);
        if share < 0.10 || started.elapsed() >= patience {
            return share;
        }
        if !warned {
            eprintln!("    waiting for a quiet machine ({:.0}% busy; at most {patience:?})", share * 100.0);
            warned = true;
        }
    }
}

/// Raises this process's soft descriptor limit to the hard one; returns the soft limit.
pub(crate) fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit write/read only the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// The machine a report was measured on.
#[derive(Debug, Serialize)]
pub(crate) struct Machine {
    pub(crate) nproc: usize,
    pub(crate) cpu_model: String,
    pub(crate) kernel: String,
    pub(crate) memory_mb: u64,
    pub(crate) nofile_limit: u64,
    pub(crate) date: String,
    pub(crate) git: String,
}

pub(crate) fn machine(nofile_limit: u64) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mb = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        memory_mb,
        nofile_limit,
        date: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        git: if dirty { format!("{commit} (with uncommitted changes)") } else { commit },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (x) rt) S 1 4242 4242 0 -1 4194560 2200 0 0 0 150 37 0 0 20 0 9 0 1000 0 0";
        assert_eq!(cpu_ticks(stat), 187.0);
        assert_eq!(cpu_ticks("not a stat line"), 0.0);
    }

    #[test]
    fn status_lines_are_read_in_megabytes() {
        let status = "Name:\tmeeting-service\nVmPeak:\t  204800 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(status_mb(status, "VmHWM:"), Some(50.0));
        assert_eq!(status_mb(status, "VmRSS:"), Some(40.0));
        assert_eq!(status_mb(status, "VmSwap:"), None);
    }
}
