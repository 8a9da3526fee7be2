//! rustic_core's progress, drawn with indicatif on standard error: bytes with
//! rate and ETA, counters, spinners. Only on a terminal; never with
//! `--format json` or `--quiet`.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use labbackup::progress::{Progress, ProgressBars, ProgressType, RusticProgress};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Bars;

#[derive(Debug)]
struct Bar(ProgressBar);

impl RusticProgress for Bar {
    fn is_hidden(&self) -> bool {
        false
    }
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn set_title(&self, title: &str) {
        self.0.set_prefix(title.to_owned());
    }
    fn inc(&self, inc: u64) {
        self.0.inc(inc);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ProgressBars for Bars {
    fn progress(&self, kind: ProgressType, prefix: &str) -> Progress {
        let template = match kind {
            ProgressType::Bytes => {
                "{prefix:20} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
            }
            ProgressType::Counter => "{prefix:20} [{bar:30}] {pos}/{len} ETA {eta}",
            ProgressType::Spinner => "{prefix:20} {spinner} {elapsed}",
        };
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(prefix.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress::new(Bar(bar))
    }
}
