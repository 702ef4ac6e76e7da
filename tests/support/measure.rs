//! What the scale benchmarks share: their contacts' numbering, and what they measure of a
//! process and of the control plane (CPU seconds and phase peak RSS from `/proc`, metric sums
//! from a Prometheus exposition, etcd's WAL bytes).

/// Contact `index` of list `list`: `13` + list (3 digits) + index (6 digits), distinct valid CN
/// mobiles (national form; `86` before it is the international one).
pub fn national(list: usize, index: usize) -> String {
    format!("13{list:03}{index:06}")
}

/// Sum of one metric family (all label sets) in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the command name (which may hold spaces) start at state = field 3.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // Clock ticks: USER_HZ is 100 on Linux for every architecture callsync runs on.
    ticks / 100.0
}

/// Peak resident memory of a process in MiB (VmHWM) since it started or since the last call,
/// which starts the next phase's peak from the memory resident now (`clear_refs` 5, Linux 4.0+):
/// each phase's figure is its own, not the run's.
pub fn phase_peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM (clear_refs)");
    kib / 1024.0
}

/// etcd's WAL bytes written so far, when the control plane says where etcd listens.
pub async fn etcd_wal_bytes() -> Option<f64> {
    let url = std::fs::read_to_string(super::control_plane().dir.join("etcd-url")).ok()?;
    let text = reqwest::get(format!("{}/metrics", url.trim()))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(metric_sum(&text, "etcd_disk_wal_write_bytes_total"))
}
