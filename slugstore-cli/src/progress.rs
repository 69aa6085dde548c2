//! Progress bars on stderr with indicatif, hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use slugstore::{Progress, ProgressBars};

pub struct Bars {
    show: bool,
}

impl Bars {
    pub fn new(show: bool) -> Bars {
        Bars { show }
    }

    fn bar(&self, prefix: &str, template: &str) -> Box<dyn Progress> {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if !self.show {
            pb.set_draw_target(ProgressDrawTarget::hidden());
        }
        pb.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_prefix(prefix.to_string());
        Box::new(Bar(pb))
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ProgressBars for Bars {
    fn counter(&self, prefix: &str) -> Box<dyn Progress> {
        self.bar(
            prefix,
            "{prefix:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
        )
    }
    fn bytes(&self, prefix: &str) -> Box<dyn Progress> {
        self.bar(
            prefix,
            "{prefix:>10} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
    }
}
