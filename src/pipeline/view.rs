//! How progress is shown: live bars on a terminal, plain log lines elsewhere (CI,
//! Kubernetes logs, files), nothing with `--quiet`.
//!
//! The mode is chosen once by the binary ([`set_mode`]) before a run starts; the library
//! defaults to [`Mode::Lines`]. Bars and log lines share stderr: [`LogWriter`] routes every
//! log record through the bars' [`MultiProgress::suspend`], so a warning never tears a bar.
//! Nothing here changes output bytes.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// Interval between plain progress lines when stderr is not a terminal.
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);
/// Environment variable overriding [`LOG_INTERVAL`], in seconds (e.g. `0.5`).
pub const INTERVAL_ENV: &str = "CXRSHARD_PROGRESS_INTERVAL";
/// Bar redraws per second.
const BAR_REFRESH_HZ: u8 = 8;
/// Layout of one split's bar.
const BAR_TEMPLATE: &str = "{prefix:>12} [{bar:32.cyan/blue}] {pos:>5}/{len:5} {msg} ETA {eta:>4} (elapsed {elapsed})";

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live bars per split (stderr is a terminal).
    Bars,
    /// A plain log line every [`log_interval`] plus one at the start and end of each split.
    Lines,
    /// Nothing but warnings (`--quiet`).
    Silent,
}

static MODE: OnceLock<Mode> = OnceLock::new();
static MULTI: OnceLock<MultiProgress> = OnceLock::new();

/// Choose the mode for this process (first call wins).
pub fn set_mode(mode: Mode) {
    let _ = MODE.set(mode);
}

/// The mode in force ([`Mode::Lines`] unless [`set_mode`] said otherwise).
pub fn mode() -> Mode {
    *MODE.get().unwrap_or(&Mode::Lines)
}

/// Pick the mode from the flags and whether stderr is a terminal.
pub fn mode_for(quiet: bool, stderr_is_terminal: bool) -> Mode {
    match (quiet, stderr_is_terminal) {
        (true, _) => Mode::Silent,
        (false, true) => Mode::Bars,
        (false, false) => Mode::Lines,
    }
}

/// Interval between plain progress lines ([`INTERVAL_ENV`] or [`LOG_INTERVAL`]).
pub fn log_interval() -> Duration {
    std::env::var(INTERVAL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(LOG_INTERVAL, Duration::from_secs_f64)
}

fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(BAR_REFRESH_HZ)))
}

/// A new bar for a split of `inputs` images, or `None` unless bars are on.
pub fn split_bar(name: &str, inputs: usize) -> Option<ProgressBar> {
    if mode() != Mode::Bars {
        return None;
    }
    let style = ProgressStyle::with_template(BAR_TEMPLATE).expect("valid template").progress_chars("=> ");
    let bar = multi().add(ProgressBar::new(inputs as u64).with_style(style).with_prefix(name.to_string()));
    bar.set_message(bar_message(0.0, 0));
    Some(bar)
}

/// The bar's message: throughput and rejects so far.
pub fn bar_message(images_per_second: f64, rejected: usize) -> String {
    format!("{images_per_second:>6.1} images/s, {rejected} rejected,")
}

/// `tracing` writer for stderr that suspends the bars while a record is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match MULTI.get() {
            Some(m) if mode() == Mode::Bars => m.suspend(|| std::io::stderr().write_all(buf))?,
            _ => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// `12.3s`, `4m05s`, `1h02m`: a short human duration.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        _ if seconds < 60.0 => format!("{seconds:.1}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_flags_and_terminal() {
        assert_eq!(mode_for(true, true), Mode::Silent);
        assert_eq!(mode_for(false, true), Mode::Bars);
        assert_eq!(mode_for(false, false), Mode::Lines);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(3.25), "3.2s");
        assert_eq!(human_duration(245.0), "4m05s");
        assert_eq!(human_duration(3725.0), "1h02m");
    }
}
