//! Container tests: sealq's image on a real Docker engine, as users run it.
//!
//! The image is built the way a machine without a registry builds it,
//! `docker/build-image.sh` (tags `sealq:dev` and `sealq-compose-client:dev`),
//! unless `SEALQ_TEST_IMAGE_BUILT=1` says it was just built. When no Docker
//! engine answers, every case is skipped and the reason printed; with
//! `SEALQ_REQUIRE_DOCKER=1` (as in CI) that is a failure instead.
//!
//! Its own harness (`harness = false`), so that skips are always printed,
//! whatever `cargo test` captures: one line per case (`PASS`, `FAIL`,
//! `SKIP`), then `N passed, N failed`. Arguments filter cases by name
//! (`cargo test --test container -- compose`). Cases run one at a time:
//! each starts containers of its own, named `sealq-test-<pid>-<n>`, and
//! removes them, their volumes and networks when it ends.

#[path = "../common/mod.rs"]
mod common;

mod cases;
mod docker;
mod testcontainers_case;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A case's result: `Ok` with a note to print (measurements), or why it failed.
type Outcome = Result<String, String>;
type Case = fn() -> Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// A case that returns `Ok` with a note starting with this was skipped,
/// for the reason after it (printed, never silent).
const SKIP: &str = "skip: ";

/// How long one case may take before it counts as hung.
const CASE_LIMIT: Duration = Duration::from_secs(240);

fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("image_is_static_non_root_and_small", || {
            Box::pin(cases::image_is_static_non_root_and_small())
        }),
        ("hardened_container_serves_the_host_and_other_containers", || {
            Box::pin(cases::hardened_container_serves_the_host_and_other_containers())
        }),
        ("every_sealq_variable_works_in_the_container", || {
            Box::pin(cases::every_sealq_variable_works_in_the_container())
        }),
        ("docker_stop_returns_open_long_polls_and_exits_0", || {
            Box::pin(cases::docker_stop_returns_open_long_polls_and_exits_0())
        }),
        ("docker_kill_under_load_keeps_every_acknowledged_change", || {
            Box::pin(cases::docker_kill_under_load_keeps_every_acknowledged_change())
        }),
        ("bad_config_exits_2_with_the_located_error", || {
            Box::pin(cases::bad_config_exits_2_with_the_located_error())
        }),
        ("unwritable_data_dir_exits_1_with_the_reason", || {
            Box::pin(cases::unwritable_data_dir_exits_1_with_the_reason())
        }),
        ("bad_port_value_is_a_clear_message", || {
            Box::pin(cases::bad_port_value_is_a_clear_message())
        }),
        ("compose_example_runs_end_to_end_and_down_leaves_nothing", || {
            Box::pin(cases::compose_example_runs_end_to_end_and_down_leaves_nothing())
        }),
        ("testcontainers_starts_the_image_and_waits_for_healthy", || {
            Box::pin(testcontainers_case::testcontainers_starts_the_image_and_waits_for_healthy())
        }),
        ("readme_docker_commands_run_as_written", || {
            Box::pin(cases::readme_docker_commands_run_as_written())
        }),
        ("readme_python_testcontainers_example_runs", || {
            Box::pin(testcontainers_case::readme_python_testcontainers_example_runs())
        }),
    ]
}

fn main() -> std::process::ExitCode {
    // `cargo test` passes libtest's flags through (e.g. --nocapture); only
    // plain words filter.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<_> = cases()
        .into_iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        println!("container tests: no case matches {filters:?}");
        println!("0 passed, 0 failed");
        return std::process::ExitCode::SUCCESS;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    if let Err(why) = rt.block_on(docker::prepare()) {
        let required = std::env::var("SEALQ_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
        for (name, _) in &selected {
            if required {
                println!("FAIL {name}: {why} (SEALQ_REQUIRE_DOCKER=1)");
            } else {
                println!("SKIP {name}: {why}");
            }
        }
        if required {
            failed = selected.len();
        }
        println!(
            "{passed} passed, {failed} failed, {} skipped",
            selected.len() - failed
        );
        return exit(failed);
    }
    for (name, case) in selected {
        let started = Instant::now();
        // Spawned, so that a panic (the shared helpers panic on SDK errors)
        // fails this case only.
        let outcome = rt.block_on(async {
            match tokio::time::timeout(CASE_LIMIT, tokio::spawn(case())).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => Err(format!("panicked: {e}")),
                Err(_) => Err(format!("no result within {} s", CASE_LIMIT.as_secs())),
            }
        });
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Ok(note) if note.starts_with(SKIP) => {
                skipped += 1;
                println!("SKIP {name}: {}", &note[SKIP.len()..]);
            }
            Ok(note) if note.is_empty() => {
                passed += 1;
                println!("PASS {name} ({secs:.1} s)");
            }
            Ok(note) => {
                passed += 1;
                println!("PASS {name} ({secs:.1} s): {note}");
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {name} ({secs:.1} s): {why}");
            }
        }
    }
    if skipped == 0 {
        println!("{passed} passed, {failed} failed");
    } else {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    exit(failed)
}

fn exit(failed: usize) -> std::process::ExitCode {
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
