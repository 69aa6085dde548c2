//! `slug cron` end to end on the example project: jobs declared in `.magento.app.yaml`, deployed to an
//! environment, run by `slug cron run` with the minute given by `--now`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use slugstore_tests::project::{current, stderr, Shop};
use slugstore_tests::serve::Served;

/// The example project with `crons` appended to its application file, and an environment `production`.
fn shop_with_crons(crons: &str) -> Shop {
    let shop = Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")));
    shop.edit_app(|s| format!("{s}\ncrons:\n{crons}"));
    shop.add_env("production", &[]);
    shop
}

/// Deploys the project to `production`.
fn deploy(shop: &Shop) {
    shop.slug_ok(&["deploy", "src", "--env", "production"]);
}

/// `slug --json cron run --env production --now NOW`, which must succeed.
fn cron_run(shop: &Shop, now: &str) -> serde_json::Value {
    shop.slug_json(&["cron", "run", "--env", "production", "--now", now])
}

/// The report line of `job`.
fn job<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == name)
        .unwrap_or_else(|| panic!("no job {name} in {report}"))
}

/// The lines the jobs appended to `var/NAME` of the live release (a mount).
fn lines(shop: &Shop, name: &str) -> Vec<String> {
    fs::read_to_string(shop.target("production").join("current/var").join(name))
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `slug cron run --env production --now NOW` started in the background.
fn spawn_cron_run(shop: &Shop, now: &str) -> Reaped {
    Reaped(shop.spawn_slug(&["cron", "run", "--env", "production", "--now", now]))
}

/// The record of `job`'s run for `minute` (`YYYYMMDDTHHMMZ`) on the production target.
fn run_record(shop: &Shop, job: &str, minute: &str) -> serde_json::Value {
    let path = shop
        .target("production")
        .join(format!("crons/{job}/{minute}.json"));
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Kills and reaps a background `slug` when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    /// Waits at most `limit` for the process to exit.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Polls `check` every 20 ms for at most 30 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const TWO_JOBS: &str = r#"  stamp:
    spec: "*/5 * * * *"
    commands:
      start: 'echo "$PWD $PLATFORM_ENVIRONMENT $APP_MODE" >> var/cron-stamp.log'
    shutdown_timeout: 2
  legacy:
    spec: "0 10 * * *"
    cmd: 'echo legacy >> var/cron-legacy.log'
"#;

#[test]
fn a_due_job_runs_once_per_minute_in_the_live_release() {
    let shop = shop_with_crons(TWO_JOBS);
    let target = shop.target("production");
    // Nothing is live yet: nothing runs, and that is not an error.
    let none = cron_run(&shop, "2026-12-06T10:05:00Z");
    assert!(
        none["release"].is_null() && none["jobs"].as_array().unwrap().is_empty(),
        "{none}"
    );
    deploy(&shop);
    let live = current(&target).unwrap();

    let r = cron_run(&shop, "2026-12-06T10:05:00Z");
    assert_eq!(r["minute"], "2026-12-06T10:05:00Z");
    assert_eq!(job(&r, "stamp")["outcome"], "ran", "{r}");
    assert_eq!(job(&r, "stamp")["run"]["state"], "success", "{r}");
    assert_eq!(job(&r, "stamp")["run"]["release"], live.as_str());
    assert_eq!(job(&r, "legacy")["outcome"], "not_due", "{r}");
    let stamp = lines(&shop, "cron-stamp.log");
    assert_eq!(stamp.len(), 1, "{stamp:?}");
    // In the live release, with the deploy hooks' environment (the environment's name, variables.env).
    assert_eq!(
        stamp[0],
        format!("{}/releases/{live} production production", target.display())
    );

    // The same minute again (a second runner, a clock that went back): not run twice.
    let again = cron_run(&shop, "2026-12-06T10:05:40Z");
    assert_eq!(job(&again, "stamp")["outcome"], "not_due", "{again}");
    assert!(job(&again, "stamp")["reason"]
        .as_str()
        .unwrap()
        .contains("already ran"));
    assert_eq!(lines(&shop, "cron-stamp.log").len(), 1);
    // Not due at 10:06; due again at 10:10; the legacy `cmd` job at 10:00 sharp.
    let r = cron_run(&shop, "2026-12-06T10:06:00Z");
    assert_eq!(job(&r, "stamp")["outcome"], "not_due");
    cron_run(&shop, "2026-12-06T10:10:00Z");
    let r = cron_run(&shop, "2026-12-07T10:00:00Z");
    assert_eq!(job(&r, "legacy")["outcome"], "ran", "{r}");
    assert_eq!(lines(&shop, "cron-stamp.log").len(), 3);
    assert_eq!(lines(&shop, "cron-legacy.log"), ["legacy"]);

    // Each run is recorded under the target, with its log; `cron log` shows the newest of each job.
    let record = target.join("crons/stamp/20261206T1010Z.json");
    let record: serde_json::Value = serde_json::from_slice(&fs::read(record).unwrap()).unwrap();
    assert_eq!(record["state"], "success");
    assert_eq!(record["due"], "2026-12-06T10:10:00Z");
    let log = shop.slug_json(&["cron", "log", "--target", target.to_str().unwrap()]);
    let newest: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["job"].as_str().unwrap(), r["due"].as_str().unwrap()))
        .collect();
    assert_eq!(
        newest,
        [
            ("legacy", "2026-12-07T10:00:00Z"),
            ("stamp", "2026-12-07T10:00:00Z")
        ]
    );
    // The status page's document carries the same newest runs.
    let served = Served::start(&shop, &["--read-only"]);
    let status = served.get("api/status").json();
    let crons = &status["environments"][0]["crons"];
    assert_eq!(crons[0]["job"], "legacy", "{status}");
    assert_eq!(crons[1]["state"], "success", "{status}");
    drop(served);

    // A failing job is recorded as failed, with its output, and fails the command.
    shop.edit_app(|s| {
        s.replace(
            "cmd: 'echo legacy >> var/cron-legacy.log'",
            "cmd: 'echo broken; exit 7'",
        )
    });
    deploy(&shop);
    let out = shop.slug(&[
        "--json",
        "cron",
        "run",
        "--env",
        "production",
        "--now",
        "2026-12-08T10:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job(&r, "legacy")["run"]["state"], "failed");
    assert_eq!(job(&r, "legacy")["run"]["error"], "exited with status 7");
    let log = fs::read_to_string(target.join("crons/legacy/20261208T1000Z.log")).unwrap();
    assert_eq!(log, "broken\n");
    // Under --quiet (as installed), only the failure is said: what cron mails.
    let out = shop.slug(&[
        "-q",
        "cron",
        "run",
        "--env",
        "production",
        "--now",
        "2026-12-09T10:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("ran legacy (0 10 * * *): failed in"),
        "{said}"
    );
    assert!(!said.contains("stamp"), "{said}");
    assert!(out.stdout.is_empty());
}

#[test]
fn nothing_starts_during_maintenance_or_a_deploy() {
    let shop = shop_with_crons(TWO_JOBS);
    deploy(&shop);
    // The application's own maintenance mode (bin/magento maintenance:enable writes the same flag).
    let flag = shop
        .target("production")
        .join("shared/var/.maintenance.flag");
    fs::write(&flag, "").unwrap();
    let r = cron_run(&shop, "2026-12-06T10:05:00Z");
    assert_skipped(&r, "stamp", "maintenance");
    assert!(lines(&shop, "cron-stamp.log").is_empty());
    assert!(!shop
        .target("production")
        .join("crons/stamp/20261206T1005Z.json")
        .exists());
    fs::remove_file(&flag).unwrap();

    // A deploy in its deploy hook: the maintenance window.
    let gate = shop.gate_deploy_hook();
    let mut deploying = Reaped(shop.spawn_slug(&["deploy", "src", "--env", "production"]));
    let target = shop.target("production");
    eventually("the deploy hook", || {
        slugstore_tests_last_log(&target).contains("waiting for the gate")
    });
    let r = cron_run(&shop, "2026-12-06T10:05:00Z");
    assert_skipped(&r, "stamp", "deploy");
    assert!(lines(&shop, "cron-stamp.log").is_empty());
    fs::write(&gate, "").unwrap();
    assert!(deploying.wait(Duration::from_secs(60)).success());

    // Once the deploy is done, the same minute runs.
    let r = cron_run(&shop, "2026-12-06T10:05:00Z");
    assert_eq!(job(&r, "stamp")["outcome"], "ran", "{r}");
    assert_eq!(lines(&shop, "cron-stamp.log").len(), 1);
}

#[test]
fn a_running_job_is_not_started_twice_and_is_stopped_for_maintenance() {
    let shop = shop_with_crons(
        r#"  slow:
    spec: "* * * * *"
    commands:
      start: 'echo started >> var/slow.log; trap "" TERM; sleep 60'
    shutdown_timeout: 1
"#,
    );
    deploy(&shop);
    let target = shop.target("production");
    let mut first = spawn_cron_run(&shop, "2026-12-06T10:05:00Z");
    eventually("the first run to start", || {
        lines(&shop, "slow.log").len() == 1
    });
    // The next minute: the job is still running, so it is skipped (and says why).
    let r = cron_run(&shop, "2026-12-06T10:06:00Z");
    assert_skipped(&r, "slow", "still running");
    assert_eq!(lines(&shop, "slow.log").len(), 1);
    // A deploy's maintenance flag stops it: SIGTERM (ignored here), SIGKILL after shutdown_timeout.
    let t = Instant::now();
    fs::write(target.join("shared/var/.maintenance.flag"), "").unwrap();
    let status = first.wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "the run failed");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    let record = run_record(&shop, "slow", "20261206T1005Z");
    assert_eq!(record["state"], "failed");
    let error = record["error"].as_str().unwrap();
    assert!(
        error.contains("stopped for maintenance") && error.contains("shutdown_timeout"),
        "{error}"
    );
}

#[test]
fn an_interrupted_cron_run_stops_its_jobs_records_them_and_ends_of_the_signal() {
    let shop = shop_with_crons(
        r#"  slow:
    spec: "* * * * *"
    commands:
      start: 'echo started >> var/slow.log; sleep 60'
"#,
    );
    deploy(&shop);
    let mut run = spawn_cron_run(&shop, "2026-12-06T10:05:00Z");
    eventually("the job to start", || lines(&shop, "slow.log").len() == 1);
    // SAFETY: kill(2) on the test's own child.
    unsafe { libc::kill(run.0.id() as i32, libc::SIGTERM) };
    let status = run.wait(Duration::from_secs(30));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    let record = run_record(&shop, "slow", "20261206T1005Z");
    assert_eq!(record["state"], "failed", "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(error.starts_with("interrupted (SIGTERM)"), "{error}");
}

#[test]
fn a_bad_cron_is_refused_with_its_line() {
    let shop = Shop::new(Path::new(env!("CARGO_BIN_EXE_slug")));
    let app = shop.src().join(".magento.app.yaml");
    let first = fs::read_to_string(&app).unwrap().lines().count() + 2;
    shop.edit_app(|s| {
        format!(
            "{s}\ncrons:\n  nightly:\n    spec: \"0 24 * * *\"\n    cmd: 'true'\n  both:\n    spec: \"@daily\"\n    cmd: a\n    commands: {{start: b}}\n  none:\n    spec: \"*/5 * * *\"\n"
        )
    });
    let out = shop.slug(&["validate", "src"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let file = "src/.magento.app.yaml";
    let expected = [
        format!(
            "{file}:{}:11: crons.nightly.spec: invalid cron spec: hour: 24 is out of range 0-23",
            first + 2
        ),
        format!(
            "{file}:{}:10: crons.both.cmd: give either `commands.start` or the legacy `cmd`, not both",
            first + 6
        ),
        format!(
            "{file}:{}:11: crons.none.spec: invalid cron spec: `*/5 * * *` has 4 fields; a spec has 5 (minute hour day-of-month month day-of-week) or is a shorthand such as @hourly",
            first + 9
        ),
        format!(
            "{file}:{}:3: crons.none.commands: is required: `commands: {{start: COMMAND}}` (or the legacy `cmd: COMMAND`)",
            first + 8
        ),
    ];
    for e in &expected {
        assert!(text.contains(e.as_str()), "missing\n{e}\nin\n{text}");
    }
    assert_eq!(text.lines().count(), expected.len(), "{text}");
    // The deploy refuses it in phase 1, before anything is built.
    shop.add_env("production", &[]);
    let out = shop.slug(&["deploy", "src", "--env", "production"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hour: 24 is out of range 0-23"),
        "{}",
        stderr(&out)
    );
    assert_eq!(shop.build_runs(), 0);
}

#[test]
fn install_prints_a_crontab_line_and_writes_systemd_units() {
    let shop = shop_with_crons(TWO_JOBS);
    let store = shop.store().canonicalize().unwrap();
    let out = shop.slug_ok(&["cron", "install", "--env", "production"]);
    let line = String::from_utf8(out.stdout).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_slug"))
        .canonicalize()
        .unwrap();
    assert_eq!(
        line,
        format!(
            "* * * * * {} --store {} --quiet cron run --env production\n",
            bin.display(),
            store.display()
        )
    );
    let units: PathBuf = shop.root.join("units");
    fs::create_dir(&units).unwrap();
    shop.slug_ok(&[
        "cron",
        "install",
        "--env",
        "production",
        "--format",
        "systemd",
        "--write",
        units.to_str().unwrap(),
    ]);
    let service = fs::read_to_string(units.join("slug-cron-production.service")).unwrap();
    assert!(
        service.contains(&format!("ExecStart=\"{}\" \"--store\"", bin.display())),
        "{service}"
    );
    let timer = fs::read_to_string(units.join("slug-cron-production.timer")).unwrap();
    assert!(timer.contains("OnCalendar=*-*-* *:*:00"), "{timer}");
    // An unknown environment is an error naming it.
    let out = shop.slug(&["cron", "install", "--env", "nope"]);
    assert!(
        stderr(&out).contains("unknown environment `nope`"),
        "{}",
        stderr(&out)
    );
}

/// The newest deploy log of the target (empty before the first deploy record).
fn slugstore_tests_last_log(target: &Path) -> String {
    let dir = target.join("deploys");
    let mut logs: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    logs.last()
        .map(|p| fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_default()
}

/// Job `name` of run report `r` was skipped, for a reason that mentions `why`.
fn assert_skipped(r: &serde_json::Value, name: &str, why: &str) {
    assert_eq!(job(r, name)["outcome"], "skipped", "{r}");
    let reason = job(r, name)["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(why), "{r}");
}
