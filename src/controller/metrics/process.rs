//! The standard `process_*` metrics of Prometheus' client libraries (resident and virtual
//! memory, CPU seconds, open and maximum file descriptors, start time), read from `/proc/self`
//! at each scrape. Elsewhere than Linux (no `/proc`) the figures are simply left out.
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux fixes USER_HZ at 100 on every
/// architecture it exports to user space (Prometheus' own procfs reader assumes the same).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug)]
pub(super) struct ProcessCollector;

/// One reading of `/proc/self`.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ProcessFigures {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<i64>,
    pub virtual_bytes: Option<i64>,
    pub open_fds: Option<i64>,
    pub max_fds: Option<i64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessFigures {
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat");
        let status = read("/proc/self/status");
        let stat_fields = stat.as_deref().and_then(stat_fields);
        let boot_time = read("/proc/stat").as_deref().and_then(boot_time);
        Self {
            cpu_seconds: stat_fields
                .as_ref()
                .map(|f| f.cpu_ticks as f64 / TICKS_PER_SECOND),
            resident_bytes: status.as_deref().and_then(|s| status_kib(s, "VmRSS:")),
            virtual_bytes: status.as_deref().and_then(|s| status_kib(s, "VmSize:")),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|dir| i64::try_from(dir.count()).unwrap_or(i64::MAX)),
            max_fds: read("/proc/self/limits")
                .as_deref()
                .and_then(max_open_files),
            start_time_seconds: stat_fields
                .zip(boot_time)
                .map(|(f, boot)| boot as f64 + f.start_ticks as f64 / TICKS_PER_SECOND),
        }
    }
}

struct StatFields {
    cpu_ticks: u64,
    start_ticks: u64,
}

/// utime + stime (fields 14 and 15) and starttime (field 22) of `/proc/<pid>/stat`. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn stat_fields(stat: &str) -> Option<StatFields> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(StatFields {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
    })
}

/// `btime` of `/proc/stat`: boot time in Unix seconds.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS:    1234 kB`), in bytes.
fn status_kib(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find_map(|l| l.strip_prefix(key))?;
    let kib: i64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// The soft limit of "Max open files" in `/proc/<pid>/limits`.
fn max_open_files(limits: &str) -> Option<i64> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let figures = ProcessFigures::read();
        if let Some(value) = figures.cpu_seconds {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        let gauges: [(&str, &str, Option<f64>); 5] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                figures.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                figures.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                figures.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                figures.max_fds.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                figures.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
                gauge.encode(metric)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        // A command name with a space and a parenthesis must not shift the fields.
        let stat = "4242 (callsync (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 123456 20000000 3000 18446744073709551615";
        let fields = stat_fields(stat).expect("fields");
        assert_eq!(fields.cpu_ticks, 300);
        assert_eq!(fields.start_ticks, 123456);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(
            status_kib("Name:\tcallsync\nVmRSS:\t    2048 kB\n", "VmRSS:"),
            Some(2 * 1024 * 1024)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let figures = ProcessFigures::read();
        assert!(figures.resident_bytes.is_some_and(|v| v > 0), "{figures:?}");
        assert!(figures.open_fds.is_some_and(|v| v > 0), "{figures:?}");
        assert!(figures.max_fds.is_some_and(|v| v > 0), "{figures:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        let started = figures.start_time_seconds.expect("start time");
        assert!(
            started <= now + 1.0 && started > now - 86400.0 * 365.0,
            "{started} vs {now}"
        );
        assert!(figures.cpu_seconds.is_some_and(|v| v >= 0.0), "{figures:?}");
    }
}
