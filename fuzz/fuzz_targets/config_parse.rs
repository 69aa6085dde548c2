//! The YAML configuration is read before every deploy: parsing must never panic, and every diagnostic
//! must name one of the four files and a line inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slugstore_deploy::config::{
    parse_project, Sources, APP_FILE, ENV_FILE, ROUTES_FILE, SERVICES_FILE,
};

fuzz_target!(|data: &[u8]| {
    // The input is split into the four files at the first three 0xff bytes.
    let mut parts = data.splitn(4, |b| *b == 0xff);
    let texts: Vec<String> = (0..4)
        .map(|_| String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned())
        .collect();
    let sources = Sources {
        app: Some(&texts[0]),
        services: Some(&texts[1]),
        routes: Some(&texts[2]),
        magento_env: Some(&texts[3]),
    };
    if let Err(diagnostics) = parse_project(sources) {
        assert!(!diagnostics.is_empty());
        for d in diagnostics {
            let i = [APP_FILE, SERVICES_FILE, ROUTES_FILE, ENV_FILE]
                .iter()
                .position(|f| *f == d.file)
                .expect("a known file");
            if let Some(pos) = d.pos {
                assert!(pos.line as usize <= texts[i].split('\n').count() + 1);
            }
        }
    }
});
