//! sealq started the way users' own test suites start it: with the
//! `testcontainers` crate, waiting for the image's health check.

use testcontainers::core::{IntoContainerPort as _, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{GenericImage, ImageExt as _};

use crate::common;
use crate::docker::{root, run_cmd};
use crate::{Outcome, SKIP};

pub(crate) async fn testcontainers_starts_the_image_and_waits_for_healthy() -> Outcome {
    let container = GenericImage::new("sealq", "dev")
        .with_exposed_port(9324.tcp())
        .with_wait_for(WaitFor::healthcheck())
        .with_env_var("SEALQ_LOG_FORMAT", "json")
        .start()
        .await
        .map_err(|e| format!("testcontainers could not start sealq:dev: {e}"))?;
    let host = container.get_host().await.map_err(|e| e.to_string())?;
    let port = container
        .get_host_port_ipv4(9324.tcp())
        .await
        .map_err(|e| e.to_string())?;
    let sqs = common::sqs_at(&format!("http://{host}:{port}"), "AKIDTESTCONTAINERS");
    let url = sqs
        .create_queue()
        .queue_name("testcontainers")
        .send()
        .await
        .map_err(|e| format!("CreateQueue: {e:?}"))?
        .queue_url
        .unwrap_or_default();
    sqs.send_message()
        .queue_url(&url)
        .message_body("hello")
        .send()
        .await
        .map_err(|e| format!("SendMessage: {e:?}"))?;
    let got = common::receive_now(&sqs, &url).await;
    if got.first().and_then(|m| m.body.as_deref()) != Some("hello") {
        return Err(format!("received {got:?}"));
    }
    container
        .rm()
        .await
        .map_err(|e| format!("removing the container: {e}"))?;
    Ok(format!("reached at {host}:{port}"))
}

/// The Python testcontainers example of README.md, as written, with the
/// pinned testcontainers and boto3 of `.venv/testcontainers`
/// (tests/compat/setup.sh).
pub(crate) async fn readme_python_testcontainers_example_runs() -> Outcome {
    let python = format!("{}/.venv/testcontainers/bin/python", root());
    if !std::path::Path::new(&python).exists() {
        return Ok(format!(
            "{SKIP}{python} is missing: run tests/compat/setup.sh (scripts/test.sh does)"
        ));
    }
    let readme = std::fs::read_to_string(format!("{}/README.md", root())).map_err(|e| e.to_string())?;
    let example = readme
        .split("```python docker\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|code| code.contains("from testcontainers"))
        .ok_or("README.md has no Python testcontainers example")?;
    // No registry here: testcontainers' reaper image cannot be pulled.
    let env = [("TESTCONTAINERS_RYUK_DISABLED", "true")];
    let run = run_cmd(
        &python,
        &["-c", example],
        &env,
        std::time::Duration::from_secs(120),
    )
    .await?;
    if run.code != 0 {
        return Err(format!(
            "the example exited {}: {}{}",
            run.code, run.stdout, run.stderr
        ));
    }
    Ok(String::new())
}
