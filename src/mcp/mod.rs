//! `naap mcp`: naap's operator tools for an MCP client (an editor's or a desktop app's
//! agent), over stdio or, with `--listen`, streamable HTTP on loopback. The same catalog as
//! the operator's tools, under the same policy, enforced here: see [`server`].

mod hints;
mod http;
mod resources;
mod server;
mod token;

pub use server::Mode;

use crate::ai::operator::Operator;
use crate::ai::policy::Policy;
use crate::ai::redact::Redactor;
use crate::ai::session::SessionStore;
use crate::ai::tools::Tools;
use crate::core::types::Face;
use rmcp::ServiceExt;
use server::{NaapMcp, Shared};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where `naap mcp` acts and how far it may go.
pub struct Options {
    pub root: PathBuf,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub mode: Mode,
    /// Streamable HTTP on this loopback address instead of stdio.
    pub listen: Option<SocketAddr>,
}

/// Why `naap mcp` stopped.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error(transparent)]
    Store(#[from] crate::ai::session::SessionError),
    #[error("the MCP connection failed: {0}")]
    Protocol(String),
    #[error("{0}")]
    Http(String),
}

/// Serves until the client goes away (stdio) or the process is stopped (HTTP).
pub async fn run(options: Options) -> Result<(), McpError> {
    let store = SessionStore::open(&options.state_dir)?;
    let redactor = match crate::core::workspace::load(&options.root) {
        Ok(ws) => Redactor::for_workspace(&ws),
        Err(_) => Redactor::default(),
    };
    // Every engine call of this face is audited as `mcp`, whoever said yes.
    let tools = Tools::new(options.socket.clone(), options.root.clone(), Face::Mcp);
    let operator = Operator::new(None, tools, Policy::default(), Redactor::default());
    let shared = Arc::new(Shared {
        operator,
        store,
        mode: options.mode,
        redactor,
        session: Mutex::new(None),
        calls: Mutex::new(0),
    });
    match options.listen {
        Some(addr) => http::serve(shared, addr, &options.state_dir).await,
        None => {
            let service = NaapMcp::new(shared)
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| McpError::Protocol(e.to_string()))?;
            service
                .waiting()
                .await
                .map_err(|e| McpError::Protocol(e.to_string()))?;
            Ok(())
        }
    }
}

/// `--listen ADDR:PORT` as a loopback socket address; anything else is refused, because
/// the token is the only thing between the engine and whoever can reach the port.
pub fn loopback_addr(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = match text.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}").parse(),
        None => text.parse(),
    }
    .map_err(|_| format!("--listen {text}: not ADDR:PORT; use e.g. --listen 127.0.0.1:8765"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--listen {text}: {} is not a loopback address; naap mcp serves HTTP on 127.0.0.1 or ::1 only",
            addr.ip()
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_loopback_only() {
        assert!(loopback_addr("127.0.0.1:8765").is_ok());
        assert!(loopback_addr("[::1]:0").is_ok());
        assert!(loopback_addr("localhost:9000").is_ok());
        assert!(loopback_addr("0.0.0.0:8765").is_err());
        assert!(loopback_addr("192.168.1.4:80").is_err());
        assert!(loopback_addr("8765").is_err());
    }
}
