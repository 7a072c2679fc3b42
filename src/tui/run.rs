//! The dashboard's event loop: terminal input and engine pushes in, frames out.
//!
//! Messages are taken in batches and a frame is drawn only when something changed, at most
//! every [`FRAME_INTERVAL`], so a flood of log lines costs one frame per interval and an
//! idle dashboard draws once a second (for the clock).

use super::app::{App, Effect, Msg};
use super::keymap::{Key, Keymap};
use super::theme::{ColorDepth, DEFAULT_THEME, Theme};
use super::turns::Turns;
use super::{link, render};
use crossterm::event::{self, Event, KeyEventKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// At most ~20 frames per second.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(50);

/// Where the dashboard reads `themes/` and `keymap.toml`: `$NAAP_CONFIG_DIR`, else the
/// platform's config directory for naap (`~/.config/naap` on Linux).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NAAP_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "naap").map(|d| d.config_dir().to_path_buf())
}

/// Loads the theme (`NAAP_THEME`, default dark) and the keymap, fitted to this terminal.
/// Problems in the user's files are returned with file, line and key, before the screen
/// is taken over.
pub fn load_look() -> Result<(Theme, Keymap), crate::core::workspace::Problems> {
    let config = config_dir();
    let name = std::env::var("NAAP_THEME").unwrap_or_else(|_| DEFAULT_THEME.to_string());
    let theme = Theme::load(&name, config.as_deref())?;
    let keymap = match &config {
        Some(dir) => Keymap::load(&dir.join("keymap.toml"))?,
        None => Keymap::defaults(),
    };
    let depth = ColorDepth::detect(|k| std::env::var(k).ok());
    Ok((theme.fitted(depth), keymap))
}

/// Runs the dashboard against the engine listening on `socket` (for the workspace in
/// `root`) until the user quits.
pub async fn run(socket: &Path, root: &Path, theme: Theme, keymap: Keymap) -> anyhow::Result<()> {
    let mut app = App::new(keymap, theme, chrono::Utc::now());
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut turns = Turns::start(&mut app, socket, root);

    // ratatui::init enters the alternate screen and raw mode and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::init();
    let stop_input = Arc::new(AtomicBool::new(false));
    let input = spawn_input(tx.clone(), stop_input.clone());
    let subscription = tokio::spawn(link::subscribe(socket.to_path_buf(), tx.clone()));
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let mut dirty = true;
    let mut last_frame = tokio::time::Instant::now() - FRAME_INTERVAL;
    let mut batch = Vec::with_capacity(256);
    let result = loop {
        if dirty && last_frame.elapsed() >= FRAME_INTERVAL {
            if let Err(e) = terminal.draw(|frame| render::draw(frame, &app)) {
                break Err(anyhow::anyhow!("cannot draw to the terminal: {e}"));
            }
            last_frame = tokio::time::Instant::now();
            dirty = false;
        }
        let next_frame = last_frame + FRAME_INTERVAL;
        tokio::select! {
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break Ok(());
                }
            }
            _ = ticks.tick() => {
                batch.push(Msg::Tick(chrono::Utc::now()));
                if let Some(waiting) = turns.poll_waiting() {
                    batch.push(Msg::Waiting(waiting));
                }
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => continue,
        }
        let mut quit = false;
        for msg in batch.drain(..) {
            for effect in app.update(msg) {
                // Operator turns and approvals run as tasks that report back as messages.
                let Some(effect) = turns.handle(effect, &tx) else {
                    continue;
                };
                match effect {
                    Effect::Quit => quit = true,
                    Effect::Call {
                        label,
                        call,
                        confirmed,
                    } => {
                        let tx = tx.clone();
                        let socket = socket.to_path_buf();
                        tokio::spawn(async move {
                            let _ = tx.send(link::perform(&socket, label, call, confirmed).await);
                        });
                    }
                    // Handled by `turns` above.
                    Effect::Ask { .. }
                    | Effect::CancelTurn { .. }
                    | Effect::Approve { .. }
                    | Effect::Reject { .. }
                    | Effect::DecideStored { .. }
                    | Effect::Preview { .. }
                    | Effect::Stories { .. } => {}
                }
            }
        }
        dirty = true;
        if quit {
            break Ok(());
        }
    };
    stop_input.store(true, Ordering::Relaxed);
    subscription.abort();
    ratatui::restore();
    let _ = input.join();
    result
}

/// Gives the terminal back without a word: after a hang-up the terminal is gone, and
/// `ratatui::restore` would report that on stderr — which is that same dead terminal, where
/// a failed write panics. Errors here change nothing, so they are dropped.
pub fn leave_terminal_quietly() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Points stderr at /dev/null. After SIGHUP the terminal behind stderr is gone, and Rust's
/// `eprintln!` (used by terminal clean-up code) panics when its write fails.
pub fn detach_stderr() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 on two open descriptors; fd 2 is replaced atomically and `null` is
        // closed when dropped, leaving fd 2 open on /dev/null.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO);
        }
    }
}

/// Reads the terminal on a thread of its own (crossterm's reads block) and forwards key
/// presses and resizes until `stop`.
fn spawn_input(
    tx: mpsc::UnboundedSender<Msg>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return,
            }
            let msg = match event::read() {
                // Key releases and repeats are reported by some terminals; act on presses.
                Ok(Event::Key(key)) if key.kind == KeyEventKind::Press => {
                    match Key::from_event(&key) {
                        Some(key) => Msg::Key(key),
                        None => continue,
                    }
                }
                Ok(Event::Resize(..)) => Msg::Redraw,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    })
}
