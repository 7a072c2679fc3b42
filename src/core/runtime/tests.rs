//! The local runtime against real processes.

use super::*;
use crate::core::logs::{LogLine, LogQuery};
use crate::core::types::Level;
use std::time::Instant;
use tempfile::TempDir;
use tokio::sync::mpsc::UnboundedReceiver;

/// Generous: the machine is small and shared; the tests never wait this long when healthy.
const PATIENCE: Duration = Duration::from_secs(20);

struct Fixture {
    dir: TempDir,
    hub: LogHub,
    runtime: LocalRuntime,
    events: UnboundedReceiver<RuntimeEvent>,
}

fn fixture(policy: RestartPolicy) -> Fixture {
    let hub = LogHub::new(10_000);
    let (tx, events) = mpsc::unbounded_channel();
    Fixture {
        dir: tempfile::tempdir().expect("tempdir"),
        runtime: LocalRuntime::new(hub.clone(), policy, tx),
        hub,
        events,
    }
}

fn fast_policy() -> RestartPolicy {
    RestartPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        crash_loop_restarts: 4,
        crash_loop_window: Duration::from_secs(60),
        stable_uptime: Duration::from_secs(30),
    }
}

impl Fixture {
    fn spec(&self, command: &str) -> SlotSpec {
        SlotSpec {
            plugin: "api".into(),
            slot: SlotName::Blue,
            version: "1.2.3".into(),
            command: command.into(),
            cwd: self.dir.path().to_path_buf(),
            env: BTreeMap::new(),
            port: free_port().expect("a free port"),
            stop_grace: Duration::from_secs(5),
            log_dir: self.dir.path().join("logs"),
            replica: 0,
            limits: Default::default(),
        }
    }

    async fn next_event(&mut self) -> RuntimeEvent {
        match tokio::time::timeout(PATIENCE, self.events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the event channel closed"),
            Err(_) => panic!("no runtime event within {PATIENCE:?}"),
        }
    }

    fn lines(&self) -> Vec<LogLine> {
        self.hub.query(&LogQuery::for_plugin("api"))
    }

    fn output(&self) -> Vec<LogLine> {
        self.lines()
            .into_iter()
            .filter(|l| l.source != LogSource::Engine)
            .collect()
    }

    fn engine_notes(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.source == LogSource::Engine)
            .map(|l| l.message)
            .collect()
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn group_size(pid: u32) -> u32 {
    procstat::group_usage(pid).processes
}

#[tokio::test]
async fn output_reaches_the_hub_with_source_and_level() {
    let mut fx = fixture(fast_policy());
    let mut spec = fx.spec(
        r#"printf 'INFO ready\n'; printf 'ERROR boom\n' >&2; echo '{"level":"warn","msg":"careful","k":1}'; echo plain >&2; echo "port=$PORT plugin=$NAAP_PLUGIN slot=$NAAP_SLOT version=$NAAP_VERSION extra=$EXTRA"; exec sleep 1000"#,
    );
    spec.env.insert("EXTRA".into(), "yes".into());
    let port = spec.port;
    let stdout_path = spec.stdout_log_path();
    let handle = fx.runtime.start(spec).expect("start");
    let process = handle.process().expect("a process right after start");
    assert_eq!(handle.state(), ProcessState::Running);
    assert_eq!(
        fx.next_event().await,
        RuntimeEvent::Started {
            plugin: "api".into(),
            slot: SlotName::Blue,
            replica: 0,
            process,
            adopted: false
        }
    );

    wait_until("five output lines arrive", || fx.output().len() >= 5).await;
    let output = fx.output();
    let find = |message: &str| {
        output
            .iter()
            .find(|l| l.message == message)
            .unwrap_or_else(|| panic!("no line {message:?} in {output:?}"))
    };
    let ready = find("INFO ready");
    assert_eq!(
        (ready.source, ready.level, ready.slot),
        (LogSource::Stdout, Level::Info, Some(SlotName::Blue))
    );
    let boom = find("ERROR boom");
    assert_eq!((boom.source, boom.level), (LogSource::Stderr, Level::Error));
    let careful = find("careful");
    assert_eq!(
        (careful.source, careful.level),
        (LogSource::Stdout, Level::Warn)
    );
    assert!(careful.fields.as_ref().is_some_and(|f| f.contains_key("k")));
    let plain = find("plain");
    assert_eq!(
        (plain.source, plain.level),
        (LogSource::Stderr, Level::Info)
    );
    find(&format!(
        "port={port} plugin=api slot=blue version=1.2.3 extra=yes"
    ));
    assert!(
        fx.engine_notes()
            .iter()
            .any(|m| m.contains(&format!("started process {}", process.pid)))
    );

    let file = std::fs::read_to_string(&stdout_path).expect("stdout log file");
    assert!(file.starts_with("INFO ready\n"), "{file:?}");

    handle.stop().await;
    assert_eq!(
        fx.next_event().await,
        RuntimeEvent::Stopped {
            plugin: "api".into(),
            slot: SlotName::Blue,
            replica: 0,
        }
    );
    assert!(!procstat::is_alive(process.pid, process.start_time));
}

#[tokio::test]
async fn stop_kills_the_whole_group() {
    let fx = fixture(fast_policy());
    let handle = fx
        .runtime
        .start(fx.spec("sleep 1000 & sleep 1000; exit 0"))
        .expect("start");
    let process = handle.process().expect("running");
    wait_until("sh and both sleeps run", || group_size(process.pid) == 3).await;
    handle.stop().await;
    assert_eq!(
        group_size(process.pid),
        0,
        "stop returns once the whole group is gone"
    );
    assert!(
        fx.engine_notes()
            .iter()
            .any(|m| m.contains("stopped process"))
    );
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_the_grace_period() {
    let fx = fixture(fast_policy());
    let mut spec = fx.spec("trap '' TERM; echo ready; sleep 1000; exit 0");
    spec.stop_grace = Duration::from_millis(300);
    let handle = fx.runtime.start(spec).expect("start");
    let process = handle.process().expect("running");
    // SIGTERM is ignored only once the trap ran, which `ready` proves.
    wait_until("the trap is installed", || {
        fx.output().iter().any(|l| l.message == "ready")
    })
    .await;
    handle.stop().await;
    assert_eq!(group_size(process.pid), 0);
    assert!(
        fx.engine_notes().iter().any(|m| m.contains("sent SIGKILL")),
        "{:?}",
        fx.engine_notes()
    );
}

#[tokio::test]
async fn crashes_restart_with_growing_backoff_until_a_crash_loop() {
    let mut fx = fixture(fast_policy());
    let spec = fx.spec("echo crashing >&2; exit 3");
    let stderr_path = spec.stderr_log_path();
    let handle = fx.runtime.start(spec).expect("start");

    let mut delays = Vec::new();
    let mut exits = 0;
    let mut starts = 0;
    let reason = loop {
        match fx.next_event().await {
            RuntimeEvent::Started { adopted, .. } => {
                assert!(!adopted);
                starts += 1;
            }
            RuntimeEvent::Exited {
                code,
                signal,
                uptime,
                ..
            } => {
                assert_eq!((code, signal), (Some(3), None));
                assert!(uptime.is_some());
                exits += 1;
            }
            RuntimeEvent::Restarting { attempt, delay, .. } => {
                assert_eq!(attempt as usize, delays.len() + 1);
                delays.push(delay);
            }
            RuntimeEvent::Failed { reason, .. } => break reason,
            other => panic!("unexpected event {other:?}"),
        }
    };
    let ms = |n| Duration::from_millis(n);
    assert_eq!(delays, vec![ms(20), ms(40), ms(80), ms(80)]);
    assert_eq!((starts, exits), (5, 5));
    assert!(reason.contains("crash loop"), "{reason}");
    assert_eq!(handle.process(), None);
    assert_eq!(handle.state(), ProcessState::Failed);

    // Restarts append: the output of every crash stays visible.
    wait_until("every crash's output arrives", || {
        fx.output()
            .iter()
            .filter(|l| l.message == "crashing")
            .count()
            == 5
    })
    .await;
    let file = std::fs::read_to_string(&stderr_path).expect("stderr log file");
    assert_eq!(file.matches("crashing").count(), 5);
    let notes = fx.engine_notes();
    assert!(
        notes
            .iter()
            .any(|m| m.contains("exited with code 3")
                && m.contains("restarting in 20ms (attempt 1)")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|m| m.starts_with("giving up: crash loop")),
        "{notes:?}"
    );
    assert!(
        fx.lines()
            .iter()
            .any(|l| l.source == LogSource::Engine && l.level == Level::Error)
    );

    handle.stop().await;
    assert_eq!(
        fx.next_event().await,
        RuntimeEvent::Stopped {
            plugin: "api".into(),
            slot: SlotName::Blue,
            replica: 0,
        }
    );
}

#[tokio::test]
async fn a_crashed_leader_takes_its_leftover_children_with_it() {
    let mut fx = fixture(RestartPolicy {
        crash_loop_restarts: 0,
        ..fast_policy()
    });
    let handle = fx
        .runtime
        .start(fx.spec("sleep 1000 & echo up; exit 3"))
        .expect("start");
    let process = handle.process().expect("running");
    loop {
        if let RuntimeEvent::Failed { .. } = fx.next_event().await {
            break;
        }
    }
    assert_eq!(group_size(process.pid), 0, "the orphaned sleep was killed");
    assert!(
        fx.engine_notes()
            .iter()
            .any(|m| m.contains("killed 1 leftover process(es)")),
        "{:?}",
        fx.engine_notes()
    );
    handle.stop().await;
}

#[tokio::test]
async fn a_detached_process_keeps_running_and_can_be_adopted() {
    let fx_a = fixture(fast_policy());
    let spec = fx_a.spec(r#"i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.05; done"#);
    let handle = fx_a.runtime.start(spec.clone()).expect("start");
    let process = handle.process().expect("running");
    wait_until("two ticks", || {
        fx_a.output().iter().any(|l| l.message == "tick 2")
    })
    .await;
    handle.detach();
    assert!(procstat::is_alive(process.pid, process.start_time));

    // A new engine: its own hub and events, the same files.
    let mut fx_b = fixture(fast_policy());
    let adopted = fx_b.runtime.adopt(spec, process).expect("adopt");
    assert_eq!(adopted.process(), Some(process));
    assert_eq!(
        fx_b.next_event().await,
        RuntimeEvent::Started {
            plugin: "api".into(),
            slot: SlotName::Blue,
            replica: 0,
            process,
            adopted: true
        }
    );
    // The earlier output is read back, then following goes on from where that stopped:
    // every tick exactly once, in order, after a notice naming the file.
    let ticks = || -> Vec<u32> {
        fx_b.output()
            .iter()
            .filter_map(|l| l.message.strip_prefix("tick ")?.parse().ok())
            .collect()
    };
    wait_until("live ticks reach the new hub", || {
        ticks().iter().any(|&n| n > 6)
    })
    .await;
    let got = ticks();
    let want: Vec<u32> = (1..=got.len() as u32).collect();
    assert_eq!(got, want, "no tick lost or shown twice");
    assert!(
        fx_b.engine_notes()
            .iter()
            .any(|m| m.contains("from before this engine started") && m.contains("stdout")),
        "{:?}",
        fx_b.engine_notes()
    );

    adopted.stop().await;
    assert!(!procstat::is_alive(process.pid, process.start_time));
    assert_eq!(group_size(process.pid), 0);
    assert_eq!(
        fx_b.next_event().await,
        RuntimeEvent::Stopped {
            plugin: "api".into(),
            slot: SlotName::Blue,
            replica: 0,
        }
    );
}

#[tokio::test]
async fn an_adopted_process_that_dies_is_restarted() {
    let fx_a = fixture(fast_policy());
    let spec = fx_a.spec("sleep 1000; exit 0");
    let first = fx_a.runtime.start(spec.clone()).expect("start");
    let process = first.process().expect("running");
    first.detach();

    let mut fx_b = fixture(fast_policy());
    let adopted = fx_b.runtime.adopt(spec, process).expect("adopt");
    assert!(matches!(
        fx_b.next_event().await,
        RuntimeEvent::Started { adopted: true, .. }
    ));
    // SAFETY: kill has no memory-safety preconditions; the group is the one started above.
    unsafe { libc::kill(-(process.pid as i32), libc::SIGKILL) };

    match fx_b.next_event().await {
        RuntimeEvent::Exited {
            process: p,
            code,
            signal,
            ..
        } => {
            assert_eq!(p, process);
            assert_eq!(
                (code, signal),
                (None, None),
                "an adopted process's status is unknowable"
            );
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    assert!(matches!(
        fx_b.next_event().await,
        RuntimeEvent::Restarting { attempt: 1, .. }
    ));
    let restarted = match fx_b.next_event().await {
        RuntimeEvent::Started {
            process,
            adopted: false,
            ..
        } => process,
        other => panic!("expected Started, got {other:?}"),
    };
    assert_ne!(restarted, process);
    assert_eq!(adopted.process(), Some(restarted));
    adopted.stop().await;
    assert!(!procstat::is_alive(restarted.pid, restarted.start_time));
}

#[tokio::test]
async fn adopt_refuses_dead_and_foreign_processes() {
    let fx = fixture(fast_policy());
    let me = std::process::id();
    let started = procstat::start_time(me).expect("own start time");
    let stale = ProcessId {
        pid: me,
        start_time: started + 1,
    };
    assert!(matches!(
        fx.runtime.adopt(fx.spec("true"), stale),
        Err(RuntimeError::NotAlive { .. })
    ));

    // A child in our own process group: signalling its group would hit the test itself.
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let foreign = ProcessId {
        pid,
        start_time: procstat::start_time(pid).expect("child start time"),
    };
    let err = fx
        .runtime
        .adopt(fx.spec("true"), foreign)
        .err()
        .expect("refused");
    assert!(matches!(err, RuntimeError::NotGroupLeader { .. }), "{err}");
    child.kill().expect("kill sleep");
    child.wait().expect("reap sleep");
}

#[tokio::test]
async fn a_missing_working_directory_is_a_start_error() {
    let fx = fixture(fast_policy());
    let mut spec = fx.spec("true");
    spec.cwd = fx.dir.path().join("does-not-exist");
    let err = fx.runtime.start(spec).err().expect("spawn fails");
    assert!(matches!(err, RuntimeError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist"), "{err}");
}

#[test]
fn free_port_binds() {
    let port = free_port().expect("a free port");
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free to bind");
}
