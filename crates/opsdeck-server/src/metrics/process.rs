//! Process figures in the names Prometheus client libraries use (`process_*`), read from
//! `/proc/self` at scrape time. On systems without procfs the collector reports nothing.

use std::fs;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub struct ProcessCollector {
    start_time_seconds: f64,
}

impl ProcessCollector {
    pub fn new() -> Self {
        let start_time_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        Self { start_time_seconds }
    }
}

/// Clock ticks per second of `/proc/self/stat` times: 100 on every Linux this runs on
/// (reading `sysconf(_SC_CLK_TCK)` would need `unsafe`).
const CLK_TCK: f64 = 100.0;

struct Stat {
    cpu_seconds: f64,
    threads: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
}

fn read_stat() -> Option<Stat> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of proc(5); `rest` starts at field 3.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let status_value = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some(Stat {
        cpu_seconds: (ticks(14)? + ticks(15)?) / CLK_TCK,
        threads: status_value("Threads:")?,
        virtual_bytes: status_value("VmSize:")? * 1024.0,
        resident_bytes: status_value("VmRSS:")? * 1024.0,
    })
}

fn open_fds() -> Option<i64> {
    Some(fs::read_dir("/proc/self/fd").ok()?.count() as i64)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl Into<f64>,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value.into());
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            self.start_time_seconds,
        )?;
        if let Some(stat) = read_stat() {
            let cpu = ConstCounter::new(stat.cpu_seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
            gauge(
                &mut encoder,
                "process_threads",
                "Number of OS threads",
                stat.threads,
            )?;
            gauge(
                &mut encoder,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                stat.virtual_bytes,
            )?;
            gauge(
                &mut encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                stat.resident_bytes,
            )?;
        }
        if let Some(fds) = open_fds() {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors",
                fds as f64,
            )?;
        }
        Ok(())
    }
}
