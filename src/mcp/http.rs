//! `naap mcp --listen`: streamable HTTP on a loopback port. Unlike the engine's owner-only
//! socket, any local user (and any web page, through the browser, by DNS rebinding) can
//! reach a port, so every request must carry the bearer token from the owner-only token
//! file, a loopback `Host`, and no `Origin` but a loopback one; else 401 or 403 before
//! the MCP layer sees it.

use super::server::{NaapMcp, Shared};
use super::{McpError, token};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use std::convert::Infallible;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

/// The MCP endpoint's path.
pub const ENDPOINT: &str = "/mcp";

type Body = BoxBody<Bytes, Infallible>;

pub async fn serve(
    shared: Arc<Shared>,
    addr: SocketAddr,
    state_dir: &Path,
) -> Result<(), McpError> {
    let token = Arc::new(token::load_or_create(state_dir).map_err(McpError::Http)?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| McpError::Http(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| McpError::Http(format!("cannot read the listening address: {e}")))?;
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([
        "localhost",
        "127.0.0.1",
        "::1",
        "[::1]",
    ]);
    let service = StreamableHttpService::new(
        move || Ok(NaapMcp::new(shared.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    // The path of the token, never the token: stderr may end up in a log.
    let _ = writeln!(
        std::io::stderr(),
        "naap mcp: listening on http://{local}{ENDPOINT}; clients send `Authorization: Bearer <token>` with the token in {}",
        token::path(state_dir).display()
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("naap mcp: accept failed: {e}");
                continue;
            }
        };
        let service = service.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
                let service = service.clone();
                let token = token.clone();
                async move {
                    Ok::<_, Infallible>(match refusal(&req, &token) {
                        Some(response) => response,
                        None => service.handle(req).await,
                    })
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder.serve_connection(io, handler).await {
                tracing::debug!("naap mcp: connection ended: {e}");
            }
        });
    }
}

/// Why a request is refused before MCP sees it, as the response to send.
fn refusal<B>(req: &Request<B>, token: &str) -> Option<Response<Body>> {
    if req.uri().path() != ENDPOINT {
        return Some(plain(StatusCode::NOT_FOUND, "naap mcp serves /mcp only\n"));
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !host.is_some_and(loopback_authority) {
        return Some(plain(
            StatusCode::FORBIDDEN,
            "forbidden: the Host header must name this machine's loopback (localhost, 127.0.0.1, [::1])\n",
        ));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin.to_str().ok().is_some_and(loopback_origin);
        if !ok {
            return Some(plain(
                StatusCode::FORBIDDEN,
                "forbidden: requests from web pages other than loopback ones are refused\n",
            ));
        }
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|g| token::matches(g, token)) {
        let mut response = plain(
            StatusCode::UNAUTHORIZED,
            "unauthorized: send `Authorization: Bearer <token>` with the token from the state directory's mcp.token\n",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"naap mcp\""),
        );
        return Some(response);
    }
    None
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `localhost`, `127.0.0.1:8765`, `[::1]:8765`: a loopback name or address, any port.
fn loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, tail)) if tail.is_empty() || tail.starts_with(':') => inner,
            _ => return false,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `http://localhost:3000`: an origin whose host is loopback.
fn loopback_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https") && !rest.contains('/') && loopback_authority(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri("/mcp");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn host_origin_and_token_are_checked() {
        let t = "a".repeat(64);
        let bearer = format!("Bearer {t}");
        let status = |h: &[(&str, &str)]| refusal(&request(h), &t).map(|r| r.status());
        assert_eq!(
            status(&[("host", "127.0.0.1:9"), ("authorization", &bearer)]),
            None
        );
        assert_eq!(
            status(&[("host", "[::1]:9"), ("authorization", &bearer)]),
            None
        );
        assert_eq!(
            status(&[
                ("host", "localhost"),
                ("origin", "http://localhost:3000"),
                ("authorization", &bearer)
            ]),
            None
        );
        assert_eq!(
            status(&[("host", "127.0.0.1:9")]),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(&[("host", "127.0.0.1:9"), ("authorization", "Bearer nope")]),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(&[("host", "evil.example:9"), ("authorization", &bearer)]),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1.evil.example"),
                ("authorization", &bearer)
            ]),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:9"),
                ("origin", "https://evil.example"),
                ("authorization", &bearer)
            ]),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(&[
                ("host", "127.0.0.1:9"),
                ("origin", "null"),
                ("authorization", &bearer)
            ]),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(&[("authorization", &bearer)]),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
