//! The static compression an application's configuration asks for.

use std::time::Duration;

use slugstore::compress::{CompressOptions, Level};

use super::App;
use crate::error::Result;

impl App {
    /// The options this app asks for: its `SCD_COMPRESSION_LEVEL` and `SCD_COMPRESSION_TIMEOUT`
    /// (seconds) from `variables.env`, else `default_level` (the platform uses
    /// [`Level::BUILD_DEFAULT`] in the build phase, [`Level::DEPLOY_DEFAULT`] in deploy) and
    /// [`CompressOptions::PLATFORM_TIMEOUT`]. A level out of range is an error naming it.
    pub fn compress_options(&self, default_level: Level) -> Result<CompressOptions> {
        Ok(CompressOptions {
            level: self
                .scd_compression_level
                .map_or(Ok(default_level), Level::new)?,
            timeout: Some(
                self.scd_compression_timeout
                    .map_or(CompressOptions::PLATFORM_TIMEOUT, Duration::from_secs),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_project, Sources};

    #[test]
    fn options_follow_the_app_configuration_and_platform_defaults() {
        let app = |env: &str| {
            let yaml = format!("name: app\ntype: php:8.3\ndisk: 2048\nvariables:\n  env:\n{env}");
            let sources = Sources {
                app: Some(&yaml),
                ..Sources::default()
            };
            parse_project(sources).expect("valid app").app
        };
        let set = app("    SCD_COMPRESSION_LEVEL: \"9\"\n    SCD_COMPRESSION_TIMEOUT: 30\n");
        let opts = set.compress_options(Level::BUILD_DEFAULT).unwrap();
        assert_eq!(
            (opts.level.get(), opts.timeout),
            (9, Some(Duration::from_secs(30)))
        );
        let unset = app("    OTHER: x\n");
        let opts = unset.compress_options(Level::DEPLOY_DEFAULT).unwrap();
        assert_eq!(
            (opts.level, opts.timeout),
            (Level::DEPLOY_DEFAULT, Some(Duration::from_secs(600)))
        );
    }
}
